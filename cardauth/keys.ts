// The key store: every use of a card key goes through the one interface `KeyStore`, as
// operations (verify this CVV, this PIN, this ARQC; make a CVV2, a PVV, an ARPC), never as keys, so
// a hardware security module can take the software store's place. Each operation names the
// Thales payShield host command an HSM-backed store would send (docs/cards.md):
//
//   verifyCvv   CY  Verify a card verification code/value (CVV, CVV2, iCVV: the service code says which)
//   generateCvv CW  Generate a card verification code/value (the card data API's CVV2)
//   verifyPin   EC  Verify an interchange PIN (under a ZPK) using the Visa/ABA PVV method
//   generatePvv FW  Generate a Visa/ABA PVV of a customer-selected PIN (BA then DG for a clear PIN)
//   verifyArqc  KW  ARQC verification (mode 0), EMV common session-key derivation
//   generateArpc KW ARPC generation (mode 2), once the answer's response code is known
//   checkValues BU  Generate a key check value
//
// Keys per program (`configId`) come from KEYS_FILE (JSON, below) or, in development, from a key
// set generated once under ./var (keys.json, mode 0600). A program with no keys has no card
// verification: every card datum of its messages fails closed (SECURITY_VIOLATION, detail NO_KEYS)
// and the start-up log says so.
//
//   {"<configId>": {"cvk": 32 hex, "pvk": 32 hex, "pvki": "1", "imkAc": 32 hex,
//                   "zpk": {"<acquirer id as in field 32>": 32 hex}}}
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../errors/index.js';
import { kcv, TdesKey } from './des.js';
import { arpcMethod1, commonSessionKey, acDiversification, iccMasterKeyOptionA, SessionKey, type ArqcData } from './emv.js';
import { decodeFormat0 } from './pin-block.js';
import { CvvKey, PvvKey } from './visa.js';

/** One program's keys as KEYS_FILE writes them (hex). */
export interface ProgramKeys {
  /** CVK A ‖ CVK B, 32 hex. */
  readonly cvk: string;
  /** PVK A ‖ PVK B, 32 hex. */
  readonly pvk: string;
  /** PVK index, one digit, written into every new PVV's track data and its computation. */
  readonly pvki: string;
  /** Issuer master key for application cryptograms, 32 hex. */
  readonly imkAc: string;
  /** Zone PIN key per acquirer id (field 32 as sent; compared as n11). `*`: any other acquirer (development). */
  readonly zpk: Readonly<Record<string, string>>;
}

/** configId → keys. */
export type KeySet = Readonly<Record<string, ProgramKeys>>;

/** Key check values of one program (safe to log). */
export interface ProgramCheckValues {
  readonly configId: string;
  readonly cvk: string;
  readonly pvk: string;
  readonly pvki: string;
  readonly imkAc: string;
  readonly zpk: Readonly<Record<string, string>>;
}

/** The outcome of verifying a PIN block: a wrong PIN and a block that is not format 0 both count as wrong. */
export type PinVerdict = 'OK' | 'WRONG' | 'NO_ZPK';

/** What an ARPC is made from (method 1): the verified ARQC and the card's session-key inputs. Lives in memory only. */
export interface IssuerAuthentication {
  readonly configId: string;
  readonly pan: string;
  readonly panSequence: string;
  readonly atc: Buffer;
  readonly arqc: Buffer;
}

/**
 * Card-key operations. Every method refuses a program without keys with PROGRAM_KEYS_MISSING
 * (ask `hasKeys` first on the authorization path). Inputs are validated shapes (cardauth/fields.ts).
 */
export interface KeyStore {
  hasKeys(configId: string): boolean;
  /** CY: is `cvv` the Visa CVV of (PAN, expiry YYMM, service code) under the program's CVK? */
  verifyCvv(configId: string, pan: string, expiryYymm: string, serviceCode: string, cvv: string): Promise<boolean>;
  /** CW: the Visa CVV of (PAN, expiry, service code); the card data API's CVV2 uses 000 (or a reset generation). */
  generateCvv(configId: string, pan: string, expiryYymm: string, serviceCode: string): Promise<string>;
  /** EC: the PIN block (format 0 under the acquirer's ZPK) against the card's PVV and its PVKI. */
  verifyPin(configId: string, acquirer: string, pan: string, pinBlock: Buffer, pvki: string, pvv: string): Promise<PinVerdict>;
  /** FW: the PVV of a clear PIN (4-12 digits) under the program's PVK, with the PVKI it was made with. */
  generatePvv(configId: string, pan: string, pin: string): Promise<{ pvki: string; pvv: string }>;
  /** KW mode 0: the ARQC under the ICC master key (option A) and the ATC's common session key. */
  verifyArqc(configId: string, pan: string, panSequence: string, arqc: ArqcData): Promise<boolean>;
  /** KW mode 2: ARPC method 1 of a verified ARQC with the answer's ARC (2 ASCII characters). */
  generateArpc(auth: IssuerAuthentication, arc: string): Promise<Buffer>;
  /** BU: the check value of every key, per program. */
  checkValues(): ProgramCheckValues[];
}

const HEX32 = /^[0-9A-Fa-f]{32}$/;
/** Derived ICC master keys kept per key store (the session key changes with every ATC; the master key does not). */
export const ICC_MASTER_KEYS_CACHED_MAX = 4096;
/** Session keys of verified ARQCs kept for their ARPC (made once the answer is decided; a replay recomputes). */
export const SESSIONS_CACHED_MAX = 1024;

interface LoadedProgram {
  readonly cvv: CvvKey;
  readonly pvv: PvvKey;
  readonly pvki: string;
  readonly imk: TdesKey;
  /** Acquirer id as n11 → ZPK. */
  readonly zpk: ReadonlyMap<string, TdesKey>;
  readonly anyZpk: TdesKey | null;
  readonly kcv: ProgramCheckValues;
}

/** The key store on keys held in this process's memory (node:crypto). */
export class SoftwareKeyStore implements KeyStore {
  private readonly programs = new Map<string, LoadedProgram>();
  private readonly masterKeys = new Map<string, TdesKey>();
  private readonly sessions = new Map<string, SessionKey>();

  /** Throws SW_ERR_KEYS when a key is not 32 hex digits or a PVKI not one digit. */
  constructor(set: KeySet) {
    for (const [configId, k] of Object.entries(set)) this.programs.set(configId, load(configId, k));
  }

  hasKeys(configId: string): boolean {
    return this.programs.has(configId);
  }

  async verifyCvv(configId: string, pan: string, expiryYymm: string, serviceCode: string, cvv: string): Promise<boolean> {
    return equalDigits(this.program(configId).cvv.cvv(pan, expiryYymm, serviceCode), cvv);
  }

  async generateCvv(configId: string, pan: string, expiryYymm: string, serviceCode: string): Promise<string> {
    return this.program(configId).cvv.cvv(pan, expiryYymm, serviceCode);
  }

  async verifyPin(configId: string, acquirer: string, pan: string, pinBlock: Buffer, pvki: string, pvv: string): Promise<PinVerdict> {
    const p = this.program(configId);
    const zpk = p.zpk.get(acquirer11(acquirer)) ?? p.anyZpk;
    if (zpk === null) return 'NO_ZPK';
    const clear = decodeFormat0(zpk.decrypt(pinBlock), pan);
    if (!('pin' in clear)) return 'WRONG';
    return equalDigits(p.pvv.pvv(pan, pvki, clear.pin), pvv) ? 'OK' : 'WRONG';
  }

  async generatePvv(configId: string, pan: string, pin: string): Promise<{ pvki: string; pvv: string }> {
    const p = this.program(configId);
    return { pvki: p.pvki, pvv: p.pvv.pvv(pan, p.pvki, pin) };
  }

  async verifyArqc(configId: string, pan: string, panSequence: string, arqc: ArqcData): Promise<boolean> {
    const session = this.session(configId, pan, panSequence, arqc.atc);
    const ok = session.mac(arqc.data).equals(arqc.arqc);
    if (ok) this.keepSession(sessionKey(configId, pan, panSequence, arqc.atc, arqc.arqc), session);
    return ok;
  }

  async generateArpc(auth: IssuerAuthentication, arc: string): Promise<Buffer> {
    const id = sessionKey(auth.configId, auth.pan, auth.panSequence, auth.atc, auth.arqc);
    const kept = this.sessions.get(id);
    if (kept !== undefined) this.sessions.delete(id);
    const session = kept ?? this.session(auth.configId, auth.pan, auth.panSequence, auth.atc);
    return arpcMethod1(session, auth.arqc, Buffer.from(arc.slice(0, 2).padEnd(2, ' '), 'latin1'));
  }

  checkValues(): ProgramCheckValues[] {
    return [...this.programs.values()].map((p) => p.kcv);
  }

  private program(configId: string): LoadedProgram {
    const p = this.programs.get(configId);
    if (p === undefined) throw new AppError('PROGRAM_KEYS_MISSING', `program ${configId} has no card keys (KEYS_FILE)`);
    return p;
  }

  private session(configId: string, pan: string, panSequence: string, atc: Buffer): SessionKey {
    const p = this.program(configId);
    const mkId = configId + '|' + pan + '|' + panSequence;
    let mk = this.masterKeys.get(mkId);
    if (mk === undefined) {
      mk = new TdesKey(iccMasterKeyOptionA(p.imk, pan, panSequence));
      if (this.masterKeys.size >= ICC_MASTER_KEYS_CACHED_MAX) this.masterKeys.delete(this.masterKeys.keys().next().value as string);
      this.masterKeys.set(mkId, mk);
    }
    return new SessionKey(commonSessionKey(mk, acDiversification(atc)));
  }

  private keepSession(id: string, s: SessionKey): void {
    if (this.sessions.size >= SESSIONS_CACHED_MAX) this.sessions.delete(this.sessions.keys().next().value as string);
    this.sessions.set(id, s);
  }
}

function sessionKey(configId: string, pan: string, psn: string, atc: Buffer, arqc: Buffer): string {
  return configId + '|' + pan + '|' + psn + '|' + atc.toString('hex') + '|' + arqc.toString('hex');
}

/** Field 32 and the key file's acquirer ids compare as n11 (left-padded with zeros). */
export function acquirer11(id: string): string {
  return id.padStart(11, '0');
}

/** Digit strings compared without an early exit on the first difference. */
function equalDigits(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

function load(configId: string, k: ProgramKeys): LoadedProgram {
  const key = (name: string, hex: unknown): Buffer => {
    if (typeof hex !== 'string' || !HEX32.test(hex)) throw new AppError('SW_ERR_KEYS', `keys of program ${configId}: "${name}" must be 32 hex digits (a double-length 3DES key)`);
    return Buffer.from(hex, 'hex');
  };
  if (typeof k !== 'object' || k === null) throw new AppError('SW_ERR_KEYS', `keys of program ${configId} must be a JSON object`);
  const pvki = k.pvki ?? '1';
  if (typeof pvki !== 'string' || !/^\d$/.test(pvki)) throw new AppError('SW_ERR_KEYS', `keys of program ${configId}: "pvki" must be one digit`);
  const cvk = key('cvk', k.cvk);
  const pvk = key('pvk', k.pvk);
  const imk = key('imkAc', k.imkAc);
  if (k.zpk !== undefined && (typeof k.zpk !== 'object' || k.zpk === null || Array.isArray(k.zpk))) {
    throw new AppError('SW_ERR_KEYS', `keys of program ${configId}: "zpk" must map acquirer ids to keys`);
  }
  const zpk = new Map<string, TdesKey>();
  const zpkKcv: Record<string, string> = {};
  let anyZpk: TdesKey | null = null;
  for (const [acq, hex] of Object.entries(k.zpk ?? {})) {
    if (acq !== '*' && !/^\d{1,11}$/.test(acq)) throw new AppError('SW_ERR_KEYS', `keys of program ${configId}: zpk acquirer id "${acq.slice(0, 20)}" must be 1-11 digits (field 32) or *`);
    const z = key(`zpk.${acq}`, hex);
    zpkKcv[acq] = kcv(z);
    if (acq === '*') anyZpk = new TdesKey(z);
    else zpk.set(acquirer11(acq), new TdesKey(z));
  }
  return {
    cvv: new CvvKey(cvk), pvv: new PvvKey(pvk), pvki, imk: new TdesKey(imk), zpk, anyZpk,
    kcv: { configId, cvk: kcv(cvk), pvk: kcv(pvk), pvki, imkAc: kcv(imk), zpk: zpkKcv },
  };
}

/** Where the key set came from: KEYS_FILE, or the development key set under ./var. */
export interface LoadedKeySet { readonly keys: KeySet; readonly source: 'file' | 'development'; readonly path: string }

/**
 * KEYS_FILE when set (validated: one line and exit on a bad file), else the development key set
 * at `devFile`, created at first start with random keys for every program in `configIds` and
 * completed for a program added later (written atomically, mode 0600). Throws SW_ERR_KEYS.
 */
export function loadKeySet(keysFile: string | null, devFile: string, configIds: readonly string[]): LoadedKeySet {
  if (keysFile !== null) {
    const keys = readKeyFile(keysFile, 'KEYS_FILE');
    new SoftwareKeyStore(keys); // validates every key now, at start-up
    return { keys, source: 'file', path: keysFile };
  }
  const existing: Record<string, ProgramKeys> = existsSync(devFile) ? { ...readKeyFile(devFile, 'the development key file') } : {};
  const missing = configIds.filter((id) => existing[id] === undefined);
  for (const id of missing) existing[id] = developmentKeys();
  if (missing.length > 0) {
    try {
      mkdirSync(dirname(devFile), { recursive: true });
      const tmp = `${devFile}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(existing, null, 2) + '\n', { mode: 0o600 });
      renameSync(tmp, devFile);
    } catch (e) {
      throw new AppError('SW_ERR_KEYS', `cannot write the development key file ${devFile}: ${(e as Error).message.slice(0, 120)}`);
    }
  }
  new SoftwareKeyStore(existing);
  return { keys: existing, source: 'development', path: devFile };
}

/** A key file (KEYS_FILE or the development one) as JSON, or SW_ERR_KEYS naming the file. */
export function readKeyFile(path: string, what: string): KeySet {
  let raw: unknown;
  try { raw = JSON.parse(readFileSync(path, 'utf8')); } catch (e) {
    throw new AppError('SW_ERR_KEYS', `${what} ${path} is not readable JSON: ${(e as Error).message.slice(0, 120)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new AppError('SW_ERR_KEYS', `${what} ${path} must be a JSON object of configId → keys`);
  return raw as KeySet;
}

/** A random key set for one program: odd-parity keys, PVKI 1, one ZPK for any acquirer (`*`). */
export function developmentKeys(): ProgramKeys {
  const k = (): string => oddParity(randomBytes(16)).toString('hex').toUpperCase();
  return { cvk: k(), pvk: k(), pvki: '1', imkAc: k(), zpk: { '*': k() } };
}

/** DES keys conventionally carry odd parity in each byte's low bit (DES itself ignores it). */
function oddParity(b: Buffer): Buffer {
  for (let i = 0; i < b.length; i++) {
    let x = b[i]! & 0xfe;
    let ones = 0;
    for (let v = x; v !== 0; v >>= 1) ones += v & 1;
    if (ones % 2 === 0) x |= 1;
    b[i] = x;
  }
  return b;
}

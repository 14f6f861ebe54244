// The card store. Redis never holds a PAN in clear: the record is found by a keyed hash of the
// PAN (HMAC-SHA-256, Secrets.panIndexKey) and keeps the PAN only AES-256-GCM-encrypted
// (Secrets.panEncryptionKey) for the full-data API; a CVV is never stored (the key store derives
// it, cardauth/keys.ts), a PIN only as its PVV. The authorization path reads the record, status, lock and the
// customer's "debits blocked" flag included, in one HGETALL; a card already read on a deciding
// thread is remembered there (`seen`), and a hold decided with the remembered card re-checks the
// record's version inside the hold's own script (ledger HoldArgs.guard), so a lock still takes
// effect on the very next authorization. Every write to a card record goes through this store and
// counts up its version field `v` in the same script or transaction (create, lock, unlock,
// activation, a wrong PIN or CVV2 counted, a PVV set, a CVV2 reset, a customer block, limits,
// spend controls); a chip read's ATC and a count's reset are kept beside it and do not count
// (docs/cards.md); a record without `v` (written before versions existed) is never remembered,
// only read. Every operation touches one key, so the layout
// works unchanged on Redis Cluster (where nothing is remembered):
//
//   card:pan:<panIndex>   hash: the card record (fields in F below); panIndex = base64url HMAC
//   card:id:<cardId>      string: the card's panIndex (a card id is random, not derived from the PAN)
//
// docs/cards.md describes the rules (lock codes, activation, PIN-failure lock) and derivations.
import { StoreKeys } from '../ledger/keys.js';
import type { HoldSequence } from '../ledger/types.js';
import { createCipheriv, createDecipheriv, createHmac, randomBytes, randomInt } from 'node:crypto';
import type { CountedCheck, FailureCount, VerificationWrites } from '../cardauth/run.js';
import { SERVICE_CODE_STRIPE } from '../cardauth/verify.js';
import type { Redis, Cluster } from 'ioredis';
import type { Secrets } from './secrets.js';
import type { Program } from './programs.js';
import { maskPan } from '../iso/mask.js';
import { attachCard, type CustomerBlockSink } from './customers.js';
import { defineSwitchScripts } from './lua.js';
import { AppError, type CodeOf } from '../errors/index.js';
import { controlView, parseControls, type SpendControl } from './controls.js';

export type CardStatus = 'ACTIVE' | 'INACTIVE';
export type CardKind = 'VIRTUAL' | 'PHYSICAL';

export interface CardRecord {
  id: string;
  customerId: string;
  balanceId: string;
  configId: string;
  currency: string;   // the balance's currency, alpha-3
  expiry: string;     // YYMM as on the wire (field 14)
  status: CardStatus;
  lock: number;       // 0 = not locked, else the seed's lock code (LOCK_CODES)
  kind: CardKind;
  panLast4: string;
  createdAtMs: number;
  /** Consecutive PIN failures since the last success or unlock. */
  pinFailures: number;
  /** Consecutive wrong CVV2s since the last correct one or unlock (five lock the card with 7). */
  cvv2Failures: number;
  /** The PIN's Visa PVV (4 digits) and the PVK index it was made with; null until a PIN is set. */
  pvv: string | null;
  pvki: string | null;
  /** How often the CVV2 was reset (0: the standard CVV2; docs/cards.md "Reset CVV"). */
  cvv2Generation: number;
  /** A physical card's magnetic-stripe service code (201); null for a virtual card. */
  serviceCode: string | null;
  /** The customer has a transactional lock (stores/customers.ts): debits decline AML_EXCEPTION. */
  debitsBlocked: boolean;
  /** Limits set on this card; each applies together with the program's (the lower wins). */
  limits: CardLimits;
  /**
   * The card's own spend controls (stores/controls.ts), in the order they were set; the program's
   * apply besides them. Empty when none are set.
   */
  controls: readonly SpendControl[];
}

/** SPEC §4 `limits`, per card: null = no card-level limit. Amounts in minor units of the balance currency. */
export interface CardLimits {
  perTransaction: number | null; dailyAmount: number | null; dailyCount: number | null; atmDailyAmount: number | null;
}

export const NO_CARD_LIMITS: CardLimits = Object.freeze({ perTransaction: null, dailyAmount: null, dailyCount: null, atmDailyAmount: null });

/** Seed "Card issuing → Lock": the codes a card may be locked with. */
export const LOCK_CODES: readonly number[] = [1, 2, 3, 4, 5, 6, 7, 8, 11];
/** Lost, stolen, inactive, replaced: such a lock is never removed (nor replaced by another code). */
export const IRREVERSIBLE_LOCK_CODES: readonly number[] = [1, 2, 5, 8];

/** A lock that can never be lifted (lost, stolen, inactive, replaced): unlock answers CARD_LOCK_IRREVERSIBLE. */
export function isIrreversibleLock(code: number): boolean {
  return IRREVERSIBLE_LOCK_CODES.includes(code);
}
export const LOCK_PIN_TRIES_EXCEEDED = 6;
export const LOCK_OFFLINE_PIN_TRIES_EXCEEDED = 11;
/** Consecutive wrong PINs after which the switch locks the card itself (seed "Lock outside": 3). */
export const PIN_FAILURES_BEFORE_LOCK = 3;
export const LOCK_SUSPECTED_FRAUD = 7;
/** Consecutive wrong CVV2s after which the switch locks the card with 7 (a card-number enumeration stops there). */
export const CVV2_FAILURES_BEFORE_LOCK = 5;
/** A virtual card's CVV2 can be reset this many times (its generation is a service code of the CVV method: 001-998). */
export const CVV2_GENERATION_MAX = 998;
/** PAN generation draws a fresh random PAN at most this many times before giving up. */
export const PAN_ATTEMPTS_MAX = 8;
export const PAN_LENGTH_MIN = 12;
export const PAN_LENGTH_MAX = 19;

const GCM_IV_BYTES = 12;
const GCM_TAG_BYTES = 16;
const CARD_ID_RANDOM_BYTES = 12;

/** The codes a card operation is refused with (rows of errors/table.ts). */
export type CardErrorCode = CodeOf<'card'> | 'CARD_NOT_FOUND';

/** Keys for the PAN at rest: version byte → AES-256 key; `current` encrypts, every version decrypts. */
export interface PanKeyring { current: number; keys: ReadonlyMap<number, Buffer> }

export interface SensitiveKeys { panKeyring: PanKeyring }

/** What `put` (seeding for tests and benchmarks) needs: a record with a known PAN. */
export type CardSeed = Pick<CardRecord, 'id' | 'customerId' | 'balanceId' | 'configId' | 'currency' | 'expiry' | 'status' | 'lock'>
  & Partial<Pick<CardRecord, 'kind' | 'createdAtMs'>>;

export interface IssueInput {
  customerId: string;
  balanceId: string;
  currency: string;
  kind: CardKind;
  program: Pick<Program, 'configId' | 'bin' | 'panLength' | 'cardValidityMonths'>;
  nowMs?: number;
}

export interface IssuedCard { card: CardRecord; pan: string }

/** At most this many cards are remembered per deciding thread (CardStore.seen), about 1 KiB each. */
export const CARD_CACHE_MAX = 100_000;

/** A card as last read, and the guard under which a hold may be decided with it (CardStore.seen). */
export interface SeenCard {
  readonly card: CardRecord;
  /** ledger HoldArgs.guard without its absent key: the card record's hash and the values read. */
  readonly guard: { readonly hashKey: string; readonly fields: readonly string[]; readonly expected: readonly string[] };
}

// Hash field names of the card record (short: the hot path reads them all for every message).
const F = {
  id: 'id', customerId: 'cu', balanceId: 'ba', configId: 'cf', currency: 'cy', expiry: 'ex', status: 'st',
  lock: 'lk', kind: 'kd', panLast4: 'l4', createdAtMs: 't', pinFailures: 'pf', debitsBlocked: 'db',
  blockVersion: 'dv', panEncrypted: 'pe', limits: 'lm', controls: 'ct', version: 'v',
  cvv2Failures: 'c2', pvv: 'pv', pvki: 'pk', cvv2Generation: 'cg', serviceCode: 'sc',
  // Beside the decision's fields (not counted in v): the highest ATC a chip read consumed, and by which message.
  atc: 'ac', atcMessage: 'am',
} as const;

/**
 * A chip read's ATC for a guarded hold to consume in the card record (ledger HoldGuard.sequence),
 * by the rule of card-auth-success-1.lua: above the highest consumed (`ac`), or equal to it when
 * this message consumed it (`am`). `atc`: tag 9F36 as a number; `messageId`: the transaction id.
 */
export function atcConsumption(atc: number, messageId: string): HoldSequence {
  return { field: F.atc, ownerField: F.atcMessage, value: atc, owner: messageId };
}

/** The counter field and the lock of each counted check, and what its count is conditioned on. */
const COUNTED: Readonly<Record<CountedCheck, { field: string; limit: number; lock: number; premise: string; premiseAbsent: string }>> = {
  PIN: { field: F.pinFailures, limit: PIN_FAILURES_BEFORE_LOCK, lock: LOCK_PIN_TRIES_EXCEEDED, premise: F.pvv, premiseAbsent: '' },
  CVV2: { field: F.cvv2Failures, limit: CVV2_FAILURES_BEFORE_LOCK, lock: LOCK_SUSPECTED_FRAUD, premise: F.cvv2Generation, premiseAbsent: '0' },
};

/** A card without controls of its own (shared, frozen: the common case costs no allocation). */
export const NO_CARD_CONTROLS: readonly SpendControl[] = Object.freeze([]);

/**
 * What a hold decided with a remembered card re-checks: the record's id and version. Every write
 * that can change a decision (status, lock, customer block, limits, a replaced record) counts the
 * version up, so two fields stand for all nine an authorization reads; the id catches a record
 * deleted and issued again under the same PAN.
 */
const GUARDED_FIELDS: readonly string[] = [F.id, F.version];

const IRREVERSIBLE_ARG = ',' + IRREVERSIBLE_LOCK_CODES.join(',') + ',';

interface CardCommands {
  cardCreate(record: string, replace: string, ...fieldValues: string[]): Promise<number>;
  cardLock(record: string, code: number, irreversible: string): Promise<number>;
  cardUnlock(record: string, irreversible: string): Promise<number>;
  cardActivate(record: string): Promise<number>;
  cardPinFailure(record: string, limit: number, code: number): Promise<[number, number]>;
  cardPinSuccess(record: string): Promise<number>;
  cardAuthFailure(record: string, cardId: string, counter: string, limit: number, lock: number, premiseField: string, premise: string, premiseAbsent: string): Promise<[number, number]>;
  cardAuthSuccess(record: string, cardId: string, atc: string, messageId: string, ...resetFields: string[]): Promise<number>;
  cardSetPvv(record: string, cardId: string, pvki: string, pvv: string): Promise<number>;
  cardCvv2Generation(record: string, cardId: string, expected: string, next: string): Promise<number>;
  cardCustomerBlock(record: string, version: number, blocked: number): Promise<number>;
  cardSetField(record: string, field: string, value: string): Promise<number>;
}

/** The scripts of stores/lua/card-*.lua (KEYS, ARGV and returns in each file's header). */
function commands(redis: Redis | Cluster): CardCommands {
  defineSwitchScripts(redis, 'card-');
  return redis as unknown as CardCommands;
}

export class CardStore implements CustomerBlockSink, VerificationWrites {
  private readonly cmd: CardCommands;

  /**
   * The authorization path (workers) gets only the index key: it finds and locks cards but never
   * decrypts a PAN or derives a CVV. Issuing, seeding and revealing need `sensitive` (fromSecrets).
   */
  constructor(private readonly redis: Redis | Cluster, private readonly indexKey: Buffer, private readonly sensitive: SensitiveKeys | null = null) {
    this.cmd = commands(redis);
  }

  static fromSecrets(redis: Redis | Cluster, s: Pick<Secrets, 'panIndexKey' | 'panEncryptionKey'>): CardStore {
    return new CardStore(redis, s.panIndexKey, { panKeyring: { current: 1, keys: new Map([[1, s.panEncryptionKey]]) } });
  }

  panIndex(pan: string): string {
    return createHmac('sha256', this.indexKey).update(pan).digest('base64url');
  }

  /**
   * Hot path: one HGETALL. Returns the record as stored now, and remembers it for `seen`. `index`:
   * the PAN's panIndex when the caller has computed it already (it is an HMAC: computed once).
   */
  async findByPan(pan: string, index: string = this.panIndex(pan)): Promise<CardRecord | null> {
    const h = await this.redis.hgetall(recordKey(index));
    const card = toRecord(h);
    if (card !== null) this.remember(index, card, h);
    return card;
  }

  /**
   * The card as this thread last read it (findByPan), with the guard that makes deciding with it
   * safe: the fields it was decided on, to be re-checked atomically in the hold's own script
   * (ledger HoldArgs.guard), so a lock, an unlock, a customer block or new limits take effect on
   * the very next authorization even though the record was not read again. Undefined when the
   * card was not read here yet (or was forgotten). Bounded: at most CARD_CACHE_MAX cards, the
   * oldest read forgotten first. No PAN is kept: entries are keyed by the PAN's keyed hash.
   */
  seen(pan: string): SeenCard | undefined {
    return this.seenByIndex(this.panIndex(pan));
  }

  /** `seen` by the PAN's panIndex. */
  seenByIndex(index: string): SeenCard | undefined {
    return this.cache.get(index);
  }

  /** Forgets what `seen` returns for this PAN: its guard failed, the record is read again. */
  forget(pan: string): void {
    this.cache.delete(this.panIndex(pan));
  }

  private readonly cache = new Map<string, SeenCard>();

  private remember(index: string, card: CardRecord, h: Record<string, string>): void {
    // A record from before versions existed cannot be guarded by its version: read it every time.
    if (h[F.version] === undefined) return;
    const expected = GUARDED_FIELDS.map((f) => h[f] ?? '');
    // A value the guard cannot carry (never in practice: ids, codes, a JSON of numbers) is simply not cached.
    if (expected.some((v) => v.includes('|') || v.includes('\x1f'))) return;
    this.cache.delete(index);
    if (this.cache.size >= CARD_CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(index, { card, guard: { hashKey: recordKey(index), fields: GUARDED_FIELDS, expected } });
  }

  async get(cardId: string): Promise<CardRecord | null> {
    const key = await this.recordKeyOf(cardId);
    return key === null ? null : toRecord(await this.redis.hgetall(key));
  }

  /** Issues a card with a new PAN: Luhn-valid, in the program's BIN, of its length, unique. */
  async issue(input: IssueInput): Promise<IssuedCard> {
    const keys = this.requireSensitive();
    checkPanShape(input.program.bin, input.program.panLength);
    const nowMs = input.nowMs ?? Date.now();
    const base = {
      customerId: input.customerId, balanceId: input.balanceId, configId: input.program.configId,
      currency: input.currency, expiry: expiryYymm(nowMs, input.program.cardValidityMonths),
      status: (input.kind === 'PHYSICAL' ? 'INACTIVE' : 'ACTIVE') as CardStatus, lock: 0, kind: input.kind, createdAtMs: nowMs,
    };
    for (let attempt = 0; attempt < PAN_ATTEMPTS_MAX; attempt++) {
      const pan = generatePan(input.program.bin, input.program.panLength);
      const id = newCardId();
      if (!await this.create(pan, { id, ...base }, keys, false)) continue;
      await this.attach(id, input.customerId, true).catch(async (e: unknown) => {
        // Refused (no customer, no KYC): the card must not stay behind.
        await Promise.all([this.redis.del(recordKey(this.panIndex(pan))), this.redis.del(idKey(id))]);
        throw e;
      });
      const card = await this.get(id);
      if (card === null) throw new AppError('CARD_NOT_FOUND', `card ${id} vanished after issue`);
      return { card, pan };
    }
    throw new AppError('CARD_PAN_SPACE_EXHAUSTED', `no free PAN in BIN ${input.program.bin} after ${PAN_ATTEMPTS_MAX} attempts`);
  }

  /**
   * Seeding helper (tests, benchmarks, simulator): stores a card with a known PAN and id, without
   * the KYC check of `issue`. A card already stored under the PAN is replaced, so seeding can be re-run.
   */
  async put(pan: string, seed: CardSeed): Promise<CardRecord> {
    const keys = this.requireSensitive();
    if (!/^\d+$/.test(pan) || pan.length < PAN_LENGTH_MIN || pan.length > PAN_LENGTH_MAX) {
      throw new AppError('CARD_INVALID_ARGUMENT', `PAN ${maskPan(pan)} must be ${PAN_LENGTH_MIN}-${PAN_LENGTH_MAX} digits`);
    }
    const rec = { kind: 'VIRTUAL' as CardKind, createdAtMs: Date.now(), ...seed };
    await this.create(pan, rec, keys, true);
    await this.attach(rec.id, rec.customerId, false);
    const card = await this.findByPan(pan);
    if (card === null) throw new AppError('CARD_NOT_FOUND', `card ${rec.id} vanished after put`);
    return card;
  }

  /** The PAN in clear, for the full-data API (which sends it only as JWE). */
  async revealPan(cardId: string): Promise<string | null> {
    const keys = this.requireSensitive();
    const key = await this.recordKeyOf(cardId);
    if (key === null) return null;
    const [id, sealed] = await this.redis.hmget(key, F.id, F.panEncrypted);
    if (id === null || id === undefined || !sealed) return null;
    return openPan(keys.panKeyring, sealed, id);
  }

  /**
   * Set PIN: the card's PVV (and the PVKI it was made with) replace the old ones; the PIN-failure
   * count starts again. A lock is left as it is (lock 6 is removed by `unlock`). The PIN itself is
   * never seen here: the key store made the PVV.
   */
  async setPvv(cardId: string, pvki: string, pvv: string): Promise<void> {
    if (!/^\d$/.test(pvki) || !/^\d{4}$/.test(pvv)) throw new AppError('CARD_INVALID_ARGUMENT', 'a PVKI is one digit and a PVV four');
    if (await this.cmd.cardSetPvv(await this.requireRecordKey(cardId), cardId, pvki, pvv) !== 1) throw new AppError('CARD_NOT_FOUND', `card ${cardId} does not exist`);
  }

  /**
   * Reset CVV: moves the card's CVV2 generation from `expected` (the one the new CVV2 was chosen
   * against) to `next`. False when another reset changed it meanwhile (choose again).
   */
  async setCvv2Generation(cardId: string, expected: number, next: number): Promise<boolean> {
    if (!Number.isInteger(next) || next < 1 || next > CVV2_GENERATION_MAX) throw new AppError('CVV_RESETS_EXHAUSTED', `card ${cardId}: no CVV2 generation after ${expected}`);
    const r = await this.cmd.cardCvv2Generation(await this.requireRecordKey(cardId), cardId, String(expected), String(next));
    if (r === -1) throw new AppError('CARD_NOT_FOUND', `card ${cardId} does not exist`);
    return r === 1;
  }

  /** VerificationWrites: a wrong PIN or CVV2 of the authorization path, counted in one script (cardauth/run.ts). */
  async countFailure(pan: string, f: { readonly check: CountedCheck; readonly cardId: string; readonly premise: string }): Promise<FailureCount> {
    const c = COUNTED[f.check];
    const [code, n] = await this.cmd.cardAuthFailure(recordKey(this.panIndex(pan)), f.cardId, c.field, c.limit, c.lock, c.premise, f.premise, c.premiseAbsent);
    switch (code) {
      case 1: return { outcome: 'COUNTED', failures: n };
      case 2: return { outcome: 'LOCKED', lock: n };
      case 3: return { outcome: 'ALREADY_LOCKED', lock: n };
      default: return { outcome: 'STALE' };
    }
  }

  /**
   * VerificationWrites: the chip read's ATC consumed and the passed checks' counts reset, in one
   * script. A reset does not count up the version, so this thread forgets its remembered copy,
   * which still shows the count: the next message reads the card again instead of resetting it again.
   */
  async recordSuccess(pan: string, s: { readonly cardId: string; readonly atc: number | null; readonly messageId: string; readonly reset: readonly CountedCheck[] }): Promise<'OK' | 'REPLAYED' | 'GONE'> {
    const fields = s.reset.map((c) => COUNTED[c].field);
    const index = this.panIndex(pan);
    const r = await this.cmd.cardAuthSuccess(recordKey(index), s.cardId, s.atc === null ? '' : String(s.atc), s.messageId, ...fields);
    if (fields.length > 0) this.cache.delete(index);
    return r === 1 ? 'OK' : r === 0 ? 'REPLAYED' : 'GONE';
  }

  /** Keeps a physical card's delivery address (address field → value), replacing what was kept. */
  async setDeliveryAddress(cardId: string, address: Record<string, string>): Promise<void> {
    const key = StoreKeys.cardDelivery(cardId);
    await this.redis.multi().del(key).hset(key, address).exec();
  }

  async lock(cardId: string, code: number): Promise<void> {
    await this.lockRecord(await this.requireRecordKey(cardId), code, `card ${cardId}`);
  }

  /** Lock outside: a lock asked for by a scheme or acquirer, who know the card by PAN. */
  async lockOutside(pan: string, code: number): Promise<void> {
    await this.lockRecord(recordKey(this.panIndex(pan)), code, `card ${maskPan(pan)}`);
  }

  /** Removes a reversible lock; unlocking an unlocked card is a no-op. */
  async unlock(cardId: string): Promise<void> {
    const r = await this.cmd.cardUnlock(await this.requireRecordKey(cardId), IRREVERSIBLE_ARG);
    if (r === -1) throw new AppError('CARD_NOT_FOUND', `card ${cardId} does not exist`);
    if (r === -2) throw new AppError('CARD_LOCK_IRREVERSIBLE', `card ${cardId} is locked with an irreversible code (${IRREVERSIBLE_LOCK_CODES.join(', ')})`);
  }

  /** A physical card is INACTIVE until the cardholder activates it once. */
  async activate(cardId: string): Promise<void> {
    const r = await this.cmd.cardActivate(await this.requireRecordKey(cardId));
    if (r === -1) throw new AppError('CARD_NOT_FOUND', `card ${cardId} does not exist`);
    if (r === -3) throw new AppError('CARD_NOT_PHYSICAL', `card ${cardId} is virtual: only physical cards are activated`);
    if (r === -4) throw new AppError('CARD_ALREADY_ACTIVE', `card ${cardId} is already active`);
  }

  /**
   * A wrong PIN. After PIN_FAILURES_BEFORE_LOCK consecutive failures the switch locks the card
   * itself: code 6 (online PIN) or 11 (offline PIN). Returns null for an unknown PAN.
   */
  async recordPinFailure(pan: string, where: 'ONLINE' | 'OFFLINE' = 'ONLINE', limit: number = PIN_FAILURES_BEFORE_LOCK): Promise<{ failures: number; lock: number } | null> {
    const code = where === 'OFFLINE' ? LOCK_OFFLINE_PIN_TRIES_EXCEEDED : LOCK_PIN_TRIES_EXCEEDED;
    const [failures, lock] = await this.cmd.cardPinFailure(recordKey(this.panIndex(pan)), limit, code);
    return failures === -1 ? null : { failures, lock };
  }

  /** A correct PIN resets the failure count. */
  async recordPinSuccess(pan: string): Promise<void> {
    await this.cmd.cardPinSuccess(recordKey(this.panIndex(pan)));
  }

  /** Sets the card's own limits (null = none at card level); the next authorization sees them. */
  async setLimits(cardId: string, limits: CardLimits): Promise<void> {
    for (const v of Object.values(limits)) {
      if (v !== null && !(Number.isSafeInteger(v) && v >= 0)) throw new AppError('CARD_INVALID_ARGUMENT', 'a limit must be null or a non-negative integer');
    }
    await this.setField(cardId, F.limits, JSON.stringify(limits));
  }

  /**
   * Replaces the card's own spend controls (an empty list removes them). `controls` is validated
   * (stores/controls.ts parseControls): CARD_INVALID_ARGUMENT names the first problem;
   * CARD_NOT_FOUND for an unknown card. The record's version counts up in the same write, so the
   * next authorization decides with them (a SHADOW control promoted to ENFORCED declines from the
   * very next message on).
   */
  async setControls(cardId: string, controls: readonly SpendControl[]): Promise<void> {
    const parsed = parseControls(controls.map((c) => controlView(c)), 'controls');
    if (!parsed.ok) throw new AppError('CARD_INVALID_ARGUMENT', parsed.problem);
    await this.setField(cardId, F.controls, parsed.controls.length === 0 ? '' : JSON.stringify(parsed.controls.map((c) => controlView(c))));
  }

  /** One field of the record written and its version counted up in one script (card-set-field-1); a missing card is not created. */
  private async setField(cardId: string, field: string, value: string): Promise<void> {
    if (await this.cmd.cardSetField(await this.requireRecordKey(cardId), field, value) !== 1) {
      throw new AppError('CARD_NOT_FOUND', `card ${cardId} does not exist`);
    }
  }

  /** Part of lock propagation from stores/customers.ts; a card that does not exist is skipped. */
  async applyCustomerBlock(cardId: string, lockVersion: number, blocked: boolean): Promise<void> {
    const key = await this.recordKeyOf(cardId);
    if (key !== null) await this.cmd.cardCustomerBlock(key, lockVersion, blocked ? 1 : 0);
  }

  private async lockRecord(key: string, code: number, what: string): Promise<void> {
    if (!LOCK_CODES.includes(code)) throw new AppError('CARD_INVALID_LOCK_CODE', `lock code must be one of ${LOCK_CODES.join(', ')}`);
    const r = await this.cmd.cardLock(key, code, IRREVERSIBLE_ARG);
    if (r === -1) throw new AppError('CARD_NOT_FOUND', `${what} does not exist`);
    if (r === -2) throw new AppError('CARD_LOCK_IRREVERSIBLE', `${what} is locked with an irreversible code`);
  }

  /**
   * Writes the record, then the id's pointer to it. The record is created blocked (fail closed);
   * `attach` then sets the customer's real state. A crash between the steps leaves a blocked
   * record that holds its PAN but is not reachable by id.
   */
  private async create(pan: string, rec: CardSeed & Pick<CardRecord, 'kind' | 'createdAtMs'>, keys: SensitiveKeys, replace: boolean): Promise<boolean> {
    const fields: string[] = [
      F.id, rec.id, F.customerId, rec.customerId, F.balanceId, rec.balanceId, F.configId, rec.configId,
      F.currency, rec.currency, F.expiry, rec.expiry, F.status, rec.status, F.lock, String(rec.lock),
      F.kind, rec.kind, F.panLast4, pan.slice(-4), F.createdAtMs, String(rec.createdAtMs), F.pinFailures, '0', F.cvv2Failures, '0',
      ...(rec.kind === 'PHYSICAL' ? [F.serviceCode, SERVICE_CODE_STRIPE] : []),
      F.debitsBlocked, '1', F.blockVersion, '-1', F.panEncrypted, sealPan(keys.panKeyring, pan, rec.id),
    ];
    const index = this.panIndex(pan);
    if (await this.cmd.cardCreate(recordKey(index), replace ? '1' : '0', ...fields) !== 1) return false;
    await this.redis.set(idKey(rec.id), index);
    return true;
  }

  private async attach(cardId: string, customerId: string, requireKyc: boolean): Promise<void> {
    const state = await attachCard(this.redis, customerId, cardId, requireKyc);
    await this.applyCustomerBlock(cardId, state.lockVersion, state.blocked);
  }

  private async recordKeyOf(cardId: string): Promise<string | null> {
    const index = await this.redis.get(idKey(cardId));
    return index === null ? null : recordKey(index);
  }

  private async requireRecordKey(cardId: string): Promise<string> {
    const key = await this.recordKeyOf(cardId);
    if (key === null) throw new AppError('CARD_NOT_FOUND', `card ${cardId} does not exist`);
    return key;
  }

  private requireSensitive(): SensitiveKeys {
    if (this.sensitive === null) throw new AppError('CARD_KEYS_UNAVAILABLE', 'this card store holds only the lookup key');
    return this.sensitive;
  }
}

function recordKey(index: string): string {
  return StoreKeys.cardRecord(index);
}

function idKey(cardId: string): string {
  return StoreKeys.cardIdIndex(cardId);
}

function toRecord(h: Record<string, string>): CardRecord | null {
  const id = h[F.id];
  if (id === undefined) return null;
  return {
    id, customerId: h[F.customerId] ?? '', balanceId: h[F.balanceId] ?? '', configId: h[F.configId] ?? '',
    currency: h[F.currency] ?? '', expiry: h[F.expiry] ?? '', status: (h[F.status] ?? 'INACTIVE') as CardStatus,
    lock: Number(h[F.lock] ?? 0), kind: (h[F.kind] ?? 'VIRTUAL') as CardKind, panLast4: h[F.panLast4] ?? '',
    createdAtMs: Number(h[F.createdAtMs] ?? 0), pinFailures: Number(h[F.pinFailures] ?? 0),
    cvv2Failures: Number(h[F.cvv2Failures] ?? 0), pvv: h[F.pvv] ?? null, pvki: h[F.pvki] ?? null,
    cvv2Generation: Number(h[F.cvv2Generation] ?? 0), serviceCode: h[F.serviceCode] ?? null,
    debitsBlocked: h[F.debitsBlocked] !== '0',
    limits: parseLimits(h[F.limits]),
    controls: parseStoredControls(h[F.controls]),
  };
}

/**
 * The controls field as stored (JSON of the controls, written by setControls after validation).
 * A value that no longer validates (edited by hand, or written by a newer version) is not
 * dropped silently: it fails closed, as one ENFORCED control that blocks every merchant category,
 * so the card declines until its controls are set again.
 */
function parseStoredControls(s: string | undefined): readonly SpendControl[] {
  if (s === undefined || s === '') return NO_CARD_CONTROLS;
  // Records are read on the authorization path and many cards carry the same controls: a value
  // parsed once is shared (frozen) by every card that stores the same text.
  let controls = storedControls.get(s);
  if (controls !== undefined) return controls;
  let raw: unknown;
  try { raw = JSON.parse(s); } catch { raw = null; }
  const parsed = parseControls(raw, 'controls');
  controls = parsed.ok ? Object.freeze(parsed.controls.map((c) => Object.freeze(c))) : UNREADABLE_CONTROLS;
  if (storedControls.size >= STORED_CONTROLS_MAX) storedControls.clear();
  storedControls.set(s, controls);
  return controls;
}

/** Parsed controls by their stored text; at most STORED_CONTROLS_MAX, emptied when full. */
const storedControls = new Map<string, readonly SpendControl[]>();
const STORED_CONTROLS_MAX = 1_024;

const UNREADABLE_CONTROLS: readonly SpendControl[] = Object.freeze([
  Object.freeze({ id: 'unreadable-stored-controls', mode: 'ENFORCED' as const, type: 'MCC_BLOCK' as const, values: Object.freeze(['0000-9999']) }),
]);

function parseLimits(s: string | undefined): CardLimits {
  if (s === undefined || s === '') return NO_CARD_LIMITS;
  const o = JSON.parse(s) as Partial<CardLimits>;
  return { perTransaction: o.perTransaction ?? null, dailyAmount: o.dailyAmount ?? null, dailyCount: o.dailyCount ?? null, atmDailyAmount: o.atmDailyAmount ?? null };
}

/** Sealed PAN: base64 of version (1 byte) | IV (12) | GCM tag (16) | ciphertext; the card id is the AAD. */
function sealPan(ring: PanKeyring, pan: string, cardId: string): string {
  const key = ring.keys.get(ring.current);
  if (key === undefined) throw new AppError('CARD_KEYS_UNAVAILABLE', `no PAN key of version ${ring.current}`);
  const iv = randomBytes(GCM_IV_BYTES);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(cardId));
  const ct = Buffer.concat([c.update(pan, 'utf8'), c.final()]);
  return Buffer.concat([Buffer.from([ring.current]), iv, c.getAuthTag(), ct]).toString('base64');
}

function openPan(ring: PanKeyring, sealed: string, cardId: string): string {
  const b = Buffer.from(sealed, 'base64');
  const version = b[0] ?? -1;
  const key = ring.keys.get(version);
  if (key === undefined) throw new AppError('CARD_KEYS_UNAVAILABLE', `card ${cardId}: no PAN key of version ${version}`);
  const ivEnd = 1 + GCM_IV_BYTES;
  const tagEnd = ivEnd + GCM_TAG_BYTES;
  try {
    const d = createDecipheriv('aes-256-gcm', key, b.subarray(1, ivEnd));
    d.setAAD(Buffer.from(cardId));
    d.setAuthTag(b.subarray(ivEnd, tagEnd));
    return Buffer.concat([d.update(b.subarray(tagEnd)), d.final()]).toString('utf8');
  } catch {
    throw new AppError('CARD_DATA_CORRUPT', `card ${cardId}: the stored PAN does not authenticate`);
  }
}

function checkPanShape(bin: string, panLength: number): void {
  if (!/^\d{6}(\d{2})?$/.test(bin)) throw new AppError('CARD_INVALID_ARGUMENT', 'BIN must be 6 or 8 digits');
  if (!Number.isInteger(panLength) || panLength < PAN_LENGTH_MIN || panLength > PAN_LENGTH_MAX || panLength < bin.length + 2) {
    throw new AppError('CARD_INVALID_ARGUMENT', `PAN length must be ${PAN_LENGTH_MIN}-${PAN_LENGTH_MAX} and leave room after the BIN`);
  }
}

/**
 * A new card id: 16 base64url characters (96 random bits) that begin with a letter or a digit,
 * so that a command line reading `--card-id <id>` never takes the id for an option (an id
 * beginning with `-` would be refused by any option parser).
 */
export function newCardId(): string {
  for (;;) {
    const id = randomBytes(CARD_ID_RANDOM_BYTES).toString('base64url');
    if (id[0] !== '-' && id[0] !== '_') return id;
  }
}

/** BIN + uniform random digits + Luhn check digit. */
export function generatePan(bin: string, panLength: number): string {
  let body = bin;
  while (body.length < panLength - 1) body += String(randomInt(10));
  return body + luhnCheckDigit(body);
}

/** The digit that makes `body + digit` pass the Luhn check. */
export function luhnCheckDigit(body: string): string {
  let sum = 0;
  for (let k = 0; k < body.length; k++) {
    let d = body.charCodeAt(body.length - 1 - k) - 48;
    if (k % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return String((10 - (sum % 10)) % 10);
}

export function isLuhnValid(pan: string): boolean {
  return /^\d{2,}$/.test(pan) && luhnCheckDigit(pan.slice(0, -1)) === pan.slice(-1);
}

/** YYMM of the month `months` after the month of `nowMs` (UTC); the card is valid through its end. */
export function expiryYymm(nowMs: number, months: number): string {
  const d = new Date(nowMs);
  const m = d.getUTCMonth() + months;
  const yy = (d.getUTCFullYear() + Math.floor(m / 12)) % 100;
  return String(yy).padStart(2, '0') + String((m % 12) + 1).padStart(2, '0');
}

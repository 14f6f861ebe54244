// Realistic card data for the processor peers (demo, sim:scheme, the sandbox, tests): a swipe
// with a valid track 2, a chip read with a valid ARQC and an iCVV track-2 equivalent, an ATM
// withdrawal with a PIN block under the acquirer's zone PIN key, an e-commerce payment with CVV2;
// and the same with one datum wrong, for the attacks the switch must refuse.
//
// A processor peer legitimately knows its zone PIN key (ZPK): it is the key it and the issuer
// share. It does not know the card keys: here the tools also play the card's part (the CVV a
// stripe carries, the ARQC a chip computes from the issuer master key), which needs the
// program's CVK and IMK. That is a development convenience only: the keys come from the
// development key set (var/keys.json, written by the switch at first start) or from KEYS_FILE, and
// a production key file must never be given to a tool.
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { TdesKey } from './des.js';
import { CvvKey, PvvKey } from './visa.js';
import { encodeFormat0 } from './pin-block.js';
import { acDiversification, commonSessionKey, iccMasterKeyOptionA, SessionKey } from './emv.js';
import { tlv } from './tlv.js';
import { readKeyFile, acquirer11, type KeySet, type ProgramKeys } from './keys.js';
import { cvv2ServiceCode, SERVICE_CODE_ICVV, SERVICE_CODE_STRIPE } from './verify.js';

/** Card data fields by number: all text (field 52 as 16 hex characters, as the npm package iso_8583 takes it). */
export type CardFields = Record<number, string>;

/** The card a message is about. */
export interface CardRef {
  readonly configId: string;
  readonly pan: string;
  /** YYMM. */
  readonly expiry: string;
  /** Reset generation of its CVV2 (0: never reset). */
  readonly cvv2Generation?: number;
}

/** What a chip read covers besides the card: the terminal's transaction data. */
export interface ChipTransaction {
  /** 9F36, 0-65535: a real card counts it up with every cryptogram. */
  readonly atc: number;
  readonly amountMinor: number;
  readonly otherAmountMinor?: number;
  /** ISO 4217 numeric (5F2A), e.g. 978. */
  readonly currencyN3: string;
  /** ISO 3166 numeric (9F1A), e.g. 616. */
  readonly countryN3?: string;
  /** 9A, YYMMDD; default today (UTC). */
  readonly date?: string;
  /** 9C, two digits; default 00 (goods and services), 01 cash. */
  readonly type?: string;
  /** 9F37, 8 hex; default random-looking from the ATC. */
  readonly unpredictable?: string;
}

/** Where the key set of the tools is: KEYS_FILE, else the development key set the switch writes under ./var. */
export function toolKeyFile(env: Record<string, string | undefined> = process.env): string {
  return env.KEYS_FILE || resolve('var/keys.json');
}

export class CardDataBuilder {
  private readonly programs = new Map<string, { cvv: CvvKey; pvv: PvvKey; pvki: string; imk: TdesKey; zpk: Readonly<Record<string, string>> }>();

  constructor(keys: KeySet) {
    for (const [configId, k] of Object.entries(keys)) this.programs.set(configId, load(k));
  }

  /** The builder on a key file (KEYS_FILE or var/keys.json); a clear error when the file is not there yet. */
  static fromFile(path: string): CardDataBuilder {
    if (!existsSync(path)) throw new Error(`no card key file at ${path}: start the switch once (it writes var/keys.json) or set KEYS_FILE`);
    return new CardDataBuilder(readKeyFile(path, 'the card key file'));
  }

  has(configId: string): boolean {
    return this.programs.has(configId);
  }

  /** The card's CVV2 (what is printed, or what the card data API shows). */
  cvv2(card: CardRef): string {
    return this.keys(card.configId).cvv.cvv(card.pan, card.expiry, cvv2ServiceCode(card.cvv2Generation ?? 0));
  }

  /** The PVV a PIN has on this card (for a track image). */
  pvv(card: CardRef, pin: string): { pvki: string; pvv: string } {
    const k = this.keys(card.configId);
    return { pvki: k.pvki, pvv: k.pvv.pvv(card.pan, k.pvki, pin) };
  }

  /**
   * Track 2 in the switch's personalisation layout: PAN=YYMM, service code, PVKI, PVV, CVV. The
   * CVV is the stripe's (service code 201), or the iCVV (999) for a chip's track-2 equivalent.
   */
  track2(card: CardRef, o: { icvv?: boolean; pin?: string; cvv?: string; expiry?: string } = {}): string {
    const k = this.keys(card.configId);
    const pv = o.pin === undefined ? { pvki: '0', pvv: '0000' } : this.pvv(card, o.pin);
    const cvv = o.cvv ?? k.cvv.cvv(card.pan, card.expiry, o.icvv === true ? SERVICE_CODE_ICVV : SERVICE_CODE_STRIPE);
    return `${card.pan}=${o.expiry ?? card.expiry}${SERVICE_CODE_STRIPE}${pv.pvki}${pv.pvv}${cvv}`;
  }

  /** A format-0 PIN block encrypted under the acquirer's ZPK (the `*` key of a development set when it has none of its own): 16 hex. */
  pinBlock(card: CardRef, acquirer: string, pin: string): string {
    const k = this.keys(card.configId);
    const zpk = Object.entries(k.zpk).find(([a]) => a !== '*' && acquirer11(a) === acquirer11(acquirer))?.[1] ?? k.zpk['*'];
    if (zpk === undefined) throw new Error(`program ${card.configId} has no ZPK for acquirer ${acquirer}`);
    return new TdesKey(Buffer.from(zpk, 'hex')).encrypt(encodeFormat0(pin, card.pan)).toString('hex').toUpperCase();
  }

  /**
   * Field 55 of a chip read: the ARQC the card computes (ICC master key by option A from the IMK,
   * common session key from the ATC, ISO 9797-1 MAC algorithm 3 over the Visa CVN 18 data) with the
   * data it covers, as hex. `panSequence`: two digits (field 23's last two). `arqc` overrides the cryptogram.
   */
  chip(card: CardRef, panSequence: string, t: ChipTransaction, o: { arqc?: string } = {}): string {
    const k = this.keys(card.configId);
    const atc = Buffer.alloc(2);
    atc.writeUInt16BE(t.atc);
    const today = new Date();
    const date = t.date ?? String(today.getUTCFullYear() % 100).padStart(2, '0') + String(today.getUTCMonth() + 1).padStart(2, '0') + String(today.getUTCDate()).padStart(2, '0');
    const un = t.unpredictable ?? ((t.atc * 2654435761) >>> 0).toString(16).padStart(8, '0');
    const h = (s: string): Buffer => Buffer.from(s, 'hex');
    const values: Array<[string, Buffer]> = [
      ['9F02', h(String(t.amountMinor).padStart(12, '0'))], ['9F03', h(String(t.otherAmountMinor ?? 0).padStart(12, '0'))],
      ['9F1A', h((t.countryN3 ?? '616').padStart(4, '0'))], ['95', h('0000000000')], ['5F2A', h(t.currencyN3.padStart(4, '0'))],
      ['9A', h(date)], ['9C', h(t.type ?? '00')], ['9F37', h(un)], ['82', h('1800')], ['9F36', atc], ['9F10', h('06011203A00000')],
    ];
    const mk = new TdesKey(iccMasterKeyOptionA(k.imk, card.pan, panSequence));
    const arqc = o.arqc === undefined
      ? new SessionKey(commonSessionKey(mk, acDiversification(atc))).mac(Buffer.concat(values.map(([, v]) => v)))
      : h(o.arqc);
    const objects = [tlv('9F26', arqc), tlv('9F27', h('80')), ...values.map(([tag, v]) => tlv(tag, v))];
    return Buffer.concat(objects).toString('hex').toUpperCase();
  }

  /** E-commerce (entry 81): field 14 and 48.92 with the CVV2 (or `cvv2`, a wrong one); 48.10 for a stored credential. */
  ecommerce(card: CardRef, o: { cvv2?: string; credentialOnFile?: boolean } = {}): CardFields {
    const f48 = o.credentialOnFile === true ? '10011' : '9203' + (o.cvv2 ?? this.cvv2(card));
    return { 14: card.expiry, 22: '812', 48: f48 };
  }

  /**
   * A swipe (entry 90) with the card's track 2; a PIN block when `pin` is given. A real swipe may
   * leave fields 2 and 14 out (the switch then reads them from the track): the caller drops them.
   */
  swipe(card: CardRef, o: { acquirer: string; pin?: string; cvv?: string; trackExpiry?: string }): CardFields {
    const f: CardFields = { 22: '901', 35: this.track2(card, { ...(o.cvv === undefined ? {} : { cvv: o.cvv }), ...(o.trackExpiry === undefined ? {} : { expiry: o.trackExpiry }) }) };
    if (o.pin !== undefined) f[52] = this.pinBlock(card, o.acquirer, o.pin);
    return f;
  }

  /** A chip read (entry 05): field 23, the iCVV track-2 equivalent, field 55 with a valid ARQC; a PIN block when `pin` is given. */
  chipRead(card: CardRef, t: ChipTransaction, o: { acquirer: string; pin?: string; panSequence?: string; arqc?: string }): CardFields {
    const psn = o.panSequence ?? '01';
    const f: CardFields = { 22: '051', 23: '0' + psn, 35: this.track2(card, { icvv: true }), 55: this.chip(card, psn, t, o.arqc === undefined ? {} : { arqc: o.arqc }) };
    if (o.pin !== undefined) f[52] = this.pinBlock(card, o.acquirer, o.pin);
    return f;
  }

  private keys(configId: string): { cvv: CvvKey; pvv: PvvKey; pvki: string; imk: TdesKey; zpk: Readonly<Record<string, string>> } {
    const k = this.programs.get(configId);
    if (k === undefined) throw new Error(`no card keys for program ${configId} in the key file`);
    return k;
  }
}

function load(k: ProgramKeys): { cvv: CvvKey; pvv: PvvKey; pvki: string; imk: TdesKey; zpk: Readonly<Record<string, string>> } {
  const b = (hex: string): Buffer => Buffer.from(hex, 'hex');
  return { cvv: new CvvKey(b(k.cvk)), pvv: new PvvKey(b(k.pvk)), pvki: k.pvki ?? '1', imk: new TdesKey(b(k.imkAc)), zpk: k.zpk ?? {} };
}

/** Card fields as the switch's own codec packs them: field 52 as 8 bytes. */
export function cardFieldsForCodec(f: CardFields): Map<number, string | Buffer> {
  const out = new Map<number, string | Buffer>();
  for (const [k, v] of Object.entries(f)) {
    const n = Number(k);
    if (!Number.isInteger(n)) continue;
    out.set(n, n === 52 ? Buffer.from(v, 'hex') : v);
  }
  return out;
}

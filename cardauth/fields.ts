// The card data of an ISO 8583 message, read once per message (both dialects lay these fields out
// alike):
//
//   field 35  track 2 (ISO/IEC 7813): PAN, `=` or `D`, expiry YYMM, service code n3, then the
//             switch's personalisation of the discretionary data: PVKI n1, PVV n4, CVV n3 (a chip
//             read's track-2 equivalent carries the iCVV there); further digits are ignored.
//   field 48  additional data, subelements of tag n2, length n2, value: 92 CVV2 (n3), 61 POS
//             extended conditions (position 1 `1`: partial approval accepted), 43 3-D Secure
//             authentication value, 10 credential on file (`1`: a stored-card payment).
//   field 52  PIN block: 8 bytes (as the codec reads a binary field), or 16 hex characters.
//   field 55  ICC data: BER-TLV as hexadecimal characters; tag 9F26 (ARQC) with the data it covers.
//   field 23  card (PAN) sequence number n3; absent = 000; the ICC uses its last two digits.
//
// Each reader returns a value or a FieldError {field, reason}; a reason names what is wrong and
// never quotes the content (card data must not reach a log). Results are kept per decoded message
// (a WeakMap on its field map), so the batch, the checks and the rendering read each field once.
import type { IsoFields } from '../iso/codec.js';
import { ARQC_TAGS, ARQC_TAG_LENGTHS, type ArqcData } from './emv.js';
import { parseTlv } from './tlv.js';

/** A field that does not parse, and why (never its content). Answered as a format error (30). */
export interface FieldError { readonly field: number; readonly reason: string }

export function isFieldError(v: unknown): v is FieldError {
  return typeof v === 'object' && v !== null && 'reason' in v && 'field' in v;
}

/** Track 2 in the switch's personalisation layout. */
export interface Track2 {
  readonly pan: string;
  /** YYMM. */
  readonly expiry: string;
  readonly serviceCode: string;
  readonly pvki: string;
  readonly pvv: string;
  /** The CVV (magnetic stripe) or iCVV (a chip's track-2 equivalent). */
  readonly cvv: string;
}

/** Field 48's subelements the switch reads. */
export interface AdditionalData {
  /** 48.92, three digits, or null. */
  readonly cvv2: string | null;
  /** 48.61 position 1 is `1`: the terminal accepts a partial approval. */
  readonly partialApproval: boolean;
  /** 48.43 is present: a 3-D Secure authentication value (carried as a flag, never stored). */
  readonly threeDSecure: boolean;
  /** 48.10 is `1`: a merchant-initiated or recurring payment on a stored credential. */
  readonly credentialOnFile: boolean;
}

/** Everything of a message's card data that verification reads. */
export interface CardData {
  /** Field 2, else the track's PAN. */
  readonly pan: string | undefined;
  /** Field 14, else the track's expiry (YYMM). */
  readonly expiry: string | undefined;
  /** Field 2 and field 14 as sent. */
  readonly f2: string | undefined;
  readonly f14: string | undefined;
  readonly track: Track2 | null;
  readonly additional: AdditionalData;
  /** Field 52, 8 bytes (still encrypted under the acquirer's ZPK). */
  readonly pinBlock: Buffer | null;
  /** Field 55 was sent. */
  readonly iccPresent: boolean;
  /** Field 55's ARQC and the data it covers, or null when field 55 has no 9F26. */
  readonly arqc: ArqcData | null;
  /** PAN sequence number for the ICC master key: the last two digits of field 23 (`00` when absent). */
  readonly panSequence: string;
  /** Field 22's first two digits (PAN entry mode), or undefined. */
  readonly entryMode: string | undefined;
  /** Field 32 as sent (names the acquirer's ZPK). */
  readonly acquirer: string | undefined;
}

const NO_ADDITIONAL: AdditionalData = Object.freeze({ cvv2: null, partialApproval: false, threeDSecure: false, credentialOnFile: false });
const PAN = /^\d{12,19}$/;
const DIGITS = /^\d+$/;
/** The digits after the separator: YYMM (4), service code (3), PVKI (1), PVV (4), CVV (3). */
const TRACK_TAIL_MIN = 15;

function str(f: IsoFields, n: number): string | undefined {
  const v = f.get(n);
  return typeof v === 'string' ? v : undefined;
}

const trackMemo = new WeakMap<IsoFields, Track2 | FieldError | null>();
const cardDataMemo = new WeakMap<IsoFields, CardData | FieldError>();

/** Field 35 of a message, parsed once: null when absent. */
export function trackOf(f: IsoFields): Track2 | FieldError | null {
  let t = trackMemo.get(f);
  if (t === undefined) {
    const v = f.get(35);
    t = v === undefined ? null : typeof v === 'string' ? parseTrack2(v) : { field: 35, reason: 'track 2 is not text' };
    trackMemo.set(f, t);
  }
  return t;
}

/**
 * The PAN a message is about: field 2, else the PAN of its track 2 (a swipe need not carry field
 * 2), else undefined (also when the track does not parse: the message is then a format error).
 * Every place that finds the card of a message, or keys it by PAN (duplicates), uses this.
 */
export function messagePan(f: IsoFields): string | undefined {
  const f2 = str(f, 2);
  if (f2 !== undefined) return f2;
  const t = trackOf(f);
  return t === null || isFieldError(t) ? undefined : t.pan;
}

/** The expiry a message carries: field 14, else its track's (YYMM), else undefined. */
export function messageExpiry(f: IsoFields): string | undefined {
  const f14 = str(f, 14);
  if (f14 !== undefined) return f14;
  const t = trackOf(f);
  return t === null || isFieldError(t) ? undefined : t.expiry;
}

/** All card data of a message, or the first field that does not parse (35, 48, 52, 55, 23 in that order). */
export function cardDataOf(f: IsoFields): CardData | FieldError {
  let d = cardDataMemo.get(f);
  if (d === undefined) {
    d = readCardData(f);
    cardDataMemo.set(f, d);
  }
  return d;
}

function readCardData(f: IsoFields): CardData | FieldError {
  const track = trackOf(f);
  if (track !== null && isFieldError(track)) return track;
  const f48 = f.get(48);
  const additional = f48 === undefined ? NO_ADDITIONAL : typeof f48 === 'string' ? parseField48(f48) : { field: 48, reason: 'field 48 is not text' };
  if (isFieldError(additional)) return additional;
  const f52 = f.get(52);
  const pinBlock = f52 === undefined ? null : parsePinBlockField(f52);
  if (isFieldError(pinBlock)) return pinBlock;
  const f55 = f.get(55);
  const arqc = f55 === undefined ? null : typeof f55 === 'string' ? parseIccField(f55) : { field: 55, reason: 'field 55 is not text' };
  if (isFieldError(arqc)) return arqc;
  const panSequence = parsePanSequence(str(f, 23));
  if (isFieldError(panSequence)) return panSequence;
  const f2 = str(f, 2);
  const f14 = str(f, 14);
  return {
    pan: f2 ?? track?.pan, expiry: f14 ?? track?.expiry, f2, f14, track, additional, pinBlock,
    iccPresent: f55 !== undefined, arqc, panSequence, entryMode: str(f, 22)?.slice(0, 2), acquirer: str(f, 32),
  };
}

/** Field 35: `;`? PAN (`=` | `D`) YYMM SC PVKI PVV CVV [digits…] `?`?. */
export function parseTrack2(v: string): Track2 | FieldError {
  let s = v;
  if (s.startsWith(';')) s = s.slice(1);
  if (s.endsWith('?')) s = s.slice(0, -1);
  let sep = s.indexOf('=');
  if (sep < 0) sep = s.indexOf('D');
  if (sep < 0) return { field: 35, reason: 'track 2 has no field separator (= or D)' };
  const pan = s.slice(0, sep);
  if (!PAN.test(pan)) return { field: 35, reason: 'the PAN of track 2 is not 12-19 digits' };
  const tail = s.slice(sep + 1);
  if (!DIGITS.test(tail)) return { field: 35, reason: 'track 2 holds a character other than a digit after its separator' };
  if (tail.length < TRACK_TAIL_MIN) return { field: 35, reason: 'track 2 is shorter than expiry, service code, PVKI, PVV and CVV' };
  const expiry = tail.slice(0, 4);
  const month = Number(expiry.slice(2, 4));
  if (month < 1 || month > 12) return { field: 35, reason: 'the expiry of track 2 is not a YYMM date' };
  return { pan, expiry, serviceCode: tail.slice(4, 7), pvki: tail.slice(7, 8), pvv: tail.slice(8, 12), cvv: tail.slice(12, 15) };
}

/** Field 48: subelements tag n2, length n2, value; 92, 61, 43 and 10 are read, others skipped. */
export function parseField48(v: string): AdditionalData | FieldError {
  let cvv2: string | null = null;
  let partialApproval = false;
  let threeDSecure = false;
  let credentialOnFile = false;
  const seen = new Set<string>();
  let i = 0;
  while (i < v.length) {
    if (i + 4 > v.length) return { field: 48, reason: `a subelement at position ${i + 1} is cut short before its length` };
    const tag = v.slice(i, i + 2);
    const lenText = v.slice(i + 2, i + 4);
    if (!/^\d\d$/.test(tag) || !/^\d\d$/.test(lenText)) return { field: 48, reason: `the subelement at position ${i + 1} has a tag or length that is not n2` };
    const len = Number(lenText);
    if (i + 4 + len > v.length) return { field: 48, reason: `subelement ${tag} runs past the end of field 48` };
    if (seen.has(tag)) return { field: 48, reason: `subelement ${tag} appears twice` };
    seen.add(tag);
    const value = v.slice(i + 4, i + 4 + len);
    switch (tag) {
      case '92':
        if (!/^\d{3}$/.test(value)) return { field: 48, reason: 'subelement 92 (CVV2) is not 3 digits' };
        cvv2 = value;
        break;
      case '61': partialApproval = value.startsWith('1'); break;
      case '43':
        if (len === 0) return { field: 48, reason: 'subelement 43 (3-D Secure value) is empty' };
        threeDSecure = true;
        break;
      case '10': credentialOnFile = value === '1'; break;
      default: break;
    }
    i += 4 + len;
  }
  return { cvv2, partialApproval, threeDSecure, credentialOnFile };
}

/** Field 52: 8 bytes, or 16 hex characters. */
export function parsePinBlockField(v: string | Buffer): Buffer | FieldError {
  if (Buffer.isBuffer(v)) return v.length === 8 ? v : { field: 52, reason: 'the PIN block is not 8 bytes' };
  if (/^[0-9A-Fa-f]{16}$/.test(v)) return Buffer.from(v, 'hex');
  return { field: 52, reason: 'the PIN block is not 8 bytes or 16 hex characters' };
}

/** Field 55: BER-TLV in hex; the ARQC (9F26) with every tag it covers, or null without a 9F26. */
export function parseIccField(v: string): ArqcData | null | FieldError {
  if (v.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(v)) return { field: 55, reason: 'ICC data is not an even number of hex characters' };
  const r = parseTlv(Buffer.from(v, 'hex'));
  if (!r.ok) return { field: 55, reason: `ICC data is not BER-TLV: ${r.reason}` };
  const arqc = r.tags.get('9F26');
  if (arqc === undefined) return null;
  if (arqc.length !== 8) return { field: 55, reason: 'tag 9F26 (ARQC) is not 8 bytes' };
  const parts: Buffer[] = [];
  for (const tag of ARQC_TAGS) {
    const value = r.tags.get(tag);
    if (value === undefined) return { field: 55, reason: `tag 9F26 (ARQC) comes without tag ${tag}` };
    const [min, max] = ARQC_TAG_LENGTHS[tag];
    if (value.length < min || value.length > max) return { field: 55, reason: `tag ${tag} is not ${min === max ? min : `${min}-${max}`} bytes` };
    parts.push(value);
  }
  return { arqc: Buffer.from(arqc), atc: Buffer.from(r.tags.get('9F36')!), data: Buffer.concat(parts) };
}

/** Field 23 (n3): the ICC's PAN sequence number is its last two digits; absent: `00`. */
export function parsePanSequence(v: string | undefined): string | FieldError {
  if (v === undefined) return '00';
  if (!/^\d{3}$/.test(v)) return { field: 23, reason: 'the card sequence number is not 3 digits' };
  return v.slice(1);
}

// Byte classes for the text encodings of dialect.ts: one 256-entry table per class, 1 = allowed.
// The codec checks a field with one table lookup per byte; pack checks strings the same way
// through charCodeAt, so a character above 0xFF (which latin1 would silently truncate) fails too.

import type { Encoding } from './dialect.js';

export type ByteClass = Uint8Array;

function byteClass(allowed: (byte: number) => boolean): ByteClass {
  const table = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) table[byte] = allowed(byte) ? 1 : 0;
  return table;
}

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isLetter = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isPrintable = (b: number): boolean => b >= 0x20 && b <= 0x7e;

const DIGITS = byteClass(isDigit);
const ALPHANUMERIC_SPACE = byteClass((b) => isDigit(b) || isLetter(b) || b === 0x20);
const PRINTABLE = byteClass(isPrintable);
const PRINTABLE_NO_LETTERS = byteClass((b) => isPrintable(b) && !isLetter(b));
// ISO 7813 track 2 in ASCII: digits and the 0x3A-0x3F symbols (`=` separator, `;` `?` sentinels);
// EMV track-2 equivalent data writes the separator as `D`.
const TRACK2 = byteClass((b) => (b >= 0x30 && b <= 0x3f) || b === 0x44);
const SIGN = byteClass((b) => b === 0x43 || b === 0x44);
const ANY = byteClass(() => true);

/** The class for the first byte and for the rest; only `xn` (sign + digits) tells them apart. */
export interface ClassPair {
  readonly first: ByteClass;
  readonly rest: ByteClass;
}

const PAIRS: Readonly<Record<Encoding, ClassPair>> = {
  n: { first: DIGITS, rest: DIGITS },
  an: { first: ALPHANUMERIC_SPACE, rest: ALPHANUMERIC_SPACE },
  anp: { first: ALPHANUMERIC_SPACE, rest: ALPHANUMERIC_SPACE },
  ans: { first: PRINTABLE, rest: PRINTABLE },
  ns: { first: PRINTABLE_NO_LETTERS, rest: PRINTABLE_NO_LETTERS },
  z: { first: TRACK2, rest: TRACK2 },
  xn: { first: SIGN, rest: DIGITS },
  b: { first: ANY, rest: ANY },
};

export function classesFor(encoding: Encoding): ClassPair {
  return PAIRS[encoding];
}

/** Index (from `start`) of the first byte outside the classes, or -1 when all are allowed. */
export function firstBadByte(pair: ClassPair, buf: Buffer, start: number, end: number): number {
  if (start < end && pair.first[buf[start]!] === 0) return 0;
  const rest = pair.rest;
  for (let i = start + 1; i < end; i++) {
    if (rest[buf[i]!] === 0) return i - start;
  }
  return -1;
}

/** Same check for a string about to be packed; code units above 0xFF are never allowed. */
export function firstBadChar(pair: ClassPair, text: string): number {
  const length = text.length;
  if (length > 0) {
    const code = text.charCodeAt(0);
    if (code > 0xff || pair.first[code] === 0) return 0;
  }
  const rest = pair.rest;
  for (let i = 1; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff || rest[code] === 0) return i;
  }
  return -1;
}

// Sample ISO 8583 messages: a few realistic ones (benchmark, simulators) and a seeded generator of
// random valid messages (compatibility corpus and fuzz seeds). Generated content uses character
// sets that both this codec and the `iso_8583` package accept, so the same message can be fed to
// either side.

import type { IsoFields, IsoMessage } from './codec.js';
import { MAX_FIELD, type Encoding, type FieldSpec, type IsoDialect } from './dialect.js';

/** A small seeded PRNG (mulberry32): same seed, same corpus, on every machine. */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** Integer in [low, high]. */
  between(low: number, high: number): number {
    return low + this.below(high - low + 1);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.below(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

const DIGITS = '0123456789';
const ALNUM = DIGITS + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// Printable symbols that the `iso_8583` package's own validation also accepts in `ans`/`ns`.
const SYMBOLS = "-!$%^&*()_+|~=`{}[]:\";'<>?,./ ";
const ALPHABET: Readonly<Record<Exclude<Encoding, 'b' | 'xn'>, string>> = {
  n: DIGITS,
  an: ALNUM,
  anp: ALNUM + ' ',
  ans: ALNUM + SYMBOLS,
  ns: DIGITS + SYMBOLS,
  z: DIGITS + '=D',
};

function randomText(rng: SeededRandom, alphabet: string, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += alphabet.charAt(rng.below(alphabet.length));
  return text;
}

/** A random value of a valid length and content for one field. */
export function randomValue(rng: SeededRandom, spec: FieldSpec): string | Buffer {
  let length = spec.maxLength;
  if (spec.lengthType !== 'fixed') {
    // Mostly short values, as on a real network, with the occasional one up to the maximum.
    const cap = rng.below(4) === 0 ? spec.maxLength : Math.min(spec.maxLength, 40);
    length = rng.between(spec.minLength, Math.max(spec.minLength, cap));
  }
  if (spec.encoding === 'b') {
    const bytes = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) bytes[i] = rng.below(256);
    return bytes;
  }
  if (spec.encoding === 'xn') return rng.pick(['C', 'D']) + randomText(rng, DIGITS, length - 1);
  return randomText(rng, ALPHABET[spec.encoding], length);
}

export const SAMPLE_MTIS = ['0100', '0110', '0120', '0130', '0200', '0210', '0220', '0230', '0400', '0410', '0420', '0430', '0800', '0810'] as const;

export interface RandomMessageOptions {
  /** Chance that each defined field is present (default 0.15). */
  density?: number;
  /** Fields never generated (default: 127, an opaque container the reference package cannot build). */
  exclude?: ReadonlySet<number>;
}

/** A random message of the dialect: varied MTI, STAN always, any other defined field at random. */
export function randomMessage(rng: SeededRandom, dialect: IsoDialect, options: RandomMessageOptions = {}): IsoMessage {
  const density = options.density ?? 0.15;
  const exclude = options.exclude ?? new Set([127]);
  const fields: IsoFields = new Map();
  for (let field = 2; field <= MAX_FIELD; field++) {
    const spec = dialect.fields[field];
    if (spec === undefined || exclude.has(field)) continue;
    if (field === 11 || rng.next() < density) fields.set(field, randomValue(rng, spec));
  }
  return { mti: rng.pick(SAMPLE_MTIS), fields };
}

function message(mti: string, entries: ReadonlyArray<readonly [number, string]>): IsoMessage {
  return { mti, fields: new Map(entries) };
}

/** An 0100 as a processor sends it for a POS purchase at a German merchant. */
export function sample0100(): IsoMessage {
  return message('0100', [
    [2, '5557701234561234'], [3, '000000'], [4, '000000012345'], [7, '0612153012'],
    [11, '004211'], [12, '173012'], [13, '0612'], [14, '2812'], [18, '5411'], [22, '051'],
    [32, '12345678901'], [37, '416317004211'], [41, 'TERM0042'], [42, 'MERCHANT0000042'],
    [43, 'SUPERMARKT MUSTERSTADT'.padEnd(25) + 'BERLIN'.padEnd(12) + 'DEU'], [49, '978'],
  ]);
}

/** The approval of sample0100, with a balance in field 54. */
export function sample0110(): IsoMessage {
  return message('0110', [
    [2, '5557701234561234'], [3, '000000'], [4, '000000012345'], [7, '0612153012'],
    [11, '004211'], [32, '12345678901'], [37, '416317004211'], [38, 'A1B2C3'], [39, '00'],
    [41, 'TERM0042'], [42, 'MERCHANT0000042'], [49, '978'], [54, '0002978C000000087655'],
  ]);
}

/** A partial reversal of sample0100: field 90 names the original, field 95 the new amount. */
export function sample0400(): IsoMessage {
  return message('0400', [
    [2, '5557701234561234'], [3, '000000'], [4, '000000012345'], [7, '0612153512'],
    [11, '004212'], [32, '12345678901'], [37, '416317004211'], [41, 'TERM0042'],
    [42, 'MERCHANT0000042'], [49, '978'],
    // Original MTI, STAN, transmission date/time, acquirer id, forwarding id (SPEC §2.3).
    [90, '0100' + '004211' + '0612153012' + '12345678901' + '00000000000'],
    [95, '000000010000000000000000000000000000000000'],
  ]);
}

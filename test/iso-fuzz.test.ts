// Fuzzing the unpacker with valid messages mutated at random (STYLE: it must only ever return an
// error). 100,000 seeded cases; a failure prints the case number, so it replays exactly.
//
// Properties checked on every case:
//  - unpack never throws and reads nothing outside [start, end) (same answer inside a larger buffer);
//  - an `ok` message has a 4-digit MTI and values of the right type, and packs back to the input;
//  - an error names a field 0..128 with a known code, and its reason quotes no field content
//    (in particular not the PAN of the source message);
//  - everything in `partial` is clean: it packs without error.

import t from 'tap';
import { DIALECT_1987, DIALECT_2003, ISO_ERR, IsoCodec, type IsoDialect, type IsoMessage, type UnpackResult } from '../iso/index.js';
import { SeededRandom, randomMessage, sample0100, sample0110, sample0400 } from '../iso/samples.js';
import { cardDataOf, isFieldError, messagePan } from '../cardauth/fields.js';

const CASES = 100_000;
const KNOWN_CODES = new Set<string>(Object.values(ISO_ERR));

interface FieldLayout { field: number; start: number; prefixDigits: number; maxLength: number }

interface Seed {
  codec: IsoCodec;
  bytes: Buffer;
  layout: FieldLayout[];
  /** Field values long enough that seeing one in a reason cannot be a coincidence. */
  secrets: string[];
}

const PREFIX_DIGITS = { fixed: 0, llvar: 2, lllvar: 3, llllllvar: 6 } as const;

function layoutOf(dialect: IsoDialect, msg: IsoMessage): FieldLayout[] {
  const layout: FieldLayout[] = [];
  let pos = 4 + 16;
  for (const field of [...msg.fields.keys()].sort((a, b) => a - b)) {
    const spec = dialect.fields[field]!;
    const prefixDigits = PREFIX_DIGITS[spec.lengthType];
    layout.push({ field, start: pos, prefixDigits, maxLength: spec.maxLength });
    pos += prefixDigits + (prefixDigits > 0 ? msg.fields.get(field)!.length : spec.maxLength);
  }
  return layout;
}

function makeSeeds(rng: SeededRandom): Seed[] {
  const plans: Array<[IsoDialect, IsoMessage]> = [
    [DIALECT_1987, sample0100()], [DIALECT_1987, sample0110()], [DIALECT_1987, sample0400()],
  ];
  for (let i = 0; i < 50; i++) {
    const dialect = i % 5 === 0 ? DIALECT_2003 : DIALECT_1987;
    const msg = randomMessage(rng, dialect, { density: [0.05, 0.15, 0.3][i % 3]!, exclude: new Set(i % 7 === 0 ? [] : [127]) });
    // A realistic 16-digit PAN in every seed, so that "no reason quotes the PAN" means something.
    msg.fields.set(2, '555770' + String(rng.between(1e9, 9e9)));
    plans.push([dialect, msg]);
  }
  return plans.map(([dialect, msg]) => {
    const codec = new IsoCodec(dialect);
    const secrets = [...msg.fields.values()]
      .filter((v): v is string => typeof v === 'string' && v.length >= 12 && new Set(v).size > 2);
    return { codec, bytes: codec.pack(msg), layout: layoutOf(dialect, msg), secrets: [msg.fields.get(2) as string, ...secrets] };
  });
}

type Mutation = (rng: SeededRandom, buf: Buffer, seed: Seed) => Buffer;

const randomBytes = (rng: SeededRandom, n: number): Buffer => {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = rng.below(256);
  return out;
};
const variableFields = (seed: Seed): FieldLayout[] => seed.layout.filter((f) => f.prefixDigits > 0);

const MUTATIONS: ReadonlyArray<readonly [string, Mutation]> = [
  ['truncate', (rng, buf) => buf.subarray(0, rng.below(buf.length))],
  ['flip bits', (rng, buf) => {
    const out = Buffer.from(buf);
    for (let n = rng.between(1, 3); n > 0; n--) out[rng.below(out.length)]! ^= 1 << rng.below(8);
    return out;
  }],
  ['insert bytes', (rng, buf) => {
    const at = rng.below(buf.length + 1);
    return Buffer.concat([buf.subarray(0, at), randomBytes(rng, rng.between(1, 4)), buf.subarray(at)]);
  }],
  ['delete bytes', (rng, buf) => {
    const at = rng.below(buf.length);
    return Buffer.concat([buf.subarray(0, at), buf.subarray(at + rng.between(1, 4))]);
  }],
  ['wrong length prefix', (rng, buf, seed) => {
    const target = variableFields(seed)[rng.below(Math.max(1, variableFields(seed).length))];
    if (target === undefined || target.start >= buf.length) return buf;
    const out = Buffer.from(buf);
    const digits = rng.below(4) === 0
      ? String.fromCharCode(rng.below(256)).repeat(target.prefixDigits)
      : String(rng.below(10 ** target.prefixDigits)).padStart(target.prefixDigits, '0');
    out.write(digits, target.start, 'latin1');
    return out;
  }],
  ['bad bitmap', (rng, buf) => {
    const out = Buffer.from(buf);
    const byte = 4 + rng.below(16);
    if (byte < out.length) out[byte]! ^= 0x80 >>> rng.below(8);
    return out;
  }],
  ['clear secondary-bitmap bit', (_rng, buf) => {
    const out = Buffer.from(buf);
    if (out.length > 4) out[4]! &= 0x7f;
    return out;
  }],
  ['non-ASCII or control byte', (rng, buf, seed) => {
    const out = Buffer.from(buf);
    const target = seed.layout[rng.below(seed.layout.length)];
    const at = target === undefined ? rng.below(out.length) : target.start + target.prefixDigits + rng.below(4);
    if (at < out.length) out[at] = rng.below(2) === 0 ? 0x80 + rng.below(128) : rng.below(0x20);
    return out;
  }],
  ['oversize variable field', (rng, buf, seed) => {
    const target = variableFields(seed)[rng.below(Math.max(1, variableFields(seed).length))];
    if (target === undefined || target.start >= buf.length) return buf;
    const length = Math.min(10 ** target.prefixDigits - 1, target.maxLength + rng.between(0, 3));
    const prefix = Buffer.from(String(length).padStart(target.prefixDigits, '0'), 'latin1');
    const body = Buffer.alloc(Math.min(length, 2000), 0x39);
    return Buffer.concat([buf.subarray(0, target.start), prefix, body, buf.subarray(target.start + target.prefixDigits)]);
  }],
  ['random garbage', (rng, buf) => randomBytes(rng, rng.below(Math.min(buf.length, 64)))],
];

interface Tally { cases: number; ok: number; byMutation: Map<string, number>; byCode: Map<string, number>; failures: string[] }

function check(seed: Seed, input: Buffer, result: UnpackResult, framed: UnpackResult, label: string, tally: Tally): void {
  const fail = (why: string): void => { if (tally.failures.length < 10) tally.failures.push(`${label}: ${why}`); };
  if (!sameAnswer(result, framed)) fail('answer differs inside a larger buffer');
  if (result.ok) {
    tally.ok++;
    if (!/^[0-9]{4}$/.test(result.msg.mti)) fail('ok message with a bad MTI');
    const repacked = seed.codec.pack(result.msg);
    if ((input[4]! & 0x80) !== 0 && !repacked.equals(input)) fail('ok message does not pack back to its input');
    return;
  }
  if (result.errors.length === 0) fail('not ok without errors');
  for (const error of result.errors) {
    tally.byCode.set(error.code, (tally.byCode.get(error.code) ?? 0) + 1);
    if (!Number.isInteger(error.field) || error.field < 0 || error.field > 128) fail(`error names field ${error.field}`);
    if (!KNOWN_CODES.has(error.code)) fail(`unknown code ${error.code}`);
    if (seed.secrets.some((secret) => error.reason.includes(secret))) fail(`reason quotes content: field ${error.field} ${error.code}`);
  }
  if (result.partial.mti !== undefined && !/^[0-9]{4}$/.test(result.partial.mti)) fail('partial MTI is not 4 digits');
  seed.codec.pack({ mti: result.partial.mti ?? '0100', fields: result.partial.fields });
}

function sameAnswer(a: UnpackResult, b: UnpackResult): boolean {
  if (a.ok !== b.ok) return false;
  const [aMti, aFields] = a.ok ? [a.msg.mti, a.msg.fields] : [a.partial.mti, a.partial.fields];
  const [bMti, bFields] = b.ok ? [b.msg.mti, b.msg.fields] : [b.partial.mti, b.partial.fields];
  if (aMti !== bMti || aFields.size !== bFields.size) return false;
  for (const [field, value] of aFields) {
    const other = bFields.get(field);
    if (other === undefined || typeof other !== typeof value) return false;
    if (typeof value === 'string' ? value !== other : !value.equals(other as Buffer)) return false;
  }
  const aErrors = a.ok ? [] : a.errors;
  const bErrors = b.ok ? [] : b.errors;
  return aErrors.length === bErrors.length &&
    aErrors.every((e, i) => e.field === bErrors[i]!.field && e.code === bErrors[i]!.code && e.reason === bErrors[i]!.reason);
}

t.test(`${CASES} mutated frames: unpack only ever returns an error or a valid message`, async (t) => {
  const rng = new SeededRandom(20240612);
  const seeds = makeSeeds(rng);
  const tally: Tally = { cases: 0, ok: 0, byMutation: new Map(), byCode: new Map(), failures: [] };
  const startedMs = Date.now();
  for (let i = 0; i < CASES; i++) {
    const seed = seeds[rng.below(seeds.length)]!;
    let bytes = seed.bytes;
    const names: string[] = [];
    for (let n = rng.below(4) === 0 ? rng.between(2, 3) : 1; n > 0; n--) {
      const [name, mutate] = MUTATIONS[rng.below(MUTATIONS.length)]!;
      names.push(name);
      bytes = mutate(rng, bytes, seed);
    }
    for (const name of names) tally.byMutation.set(name, (tally.byMutation.get(name) ?? 0) + 1);
    const label = `case ${i} (${names.join(' + ')})`;
    let result: UnpackResult;
    let framed: UnpackResult;
    try {
      result = seed.codec.unpack(bytes);
      const padding = rng.below(8);
      const larger = Buffer.concat([randomBytes(rng, padding), bytes, randomBytes(rng, rng.below(8))]);
      framed = seed.codec.unpack(larger, padding, padding + bytes.length);
    } catch (error) {
      if (tally.failures.length < 10) tally.failures.push(`${label}: unpack threw ${(error as Error).message}`);
      continue;
    }
    try {
      check(seed, bytes, result, framed, label, tally);
    } catch (error) {
      if (tally.failures.length < 10) tally.failures.push(`${label}: packing decoded values threw ${(error as Error).message}`);
    }
  }
  tally.cases = CASES;
  t.same(tally.failures, [], 'no property violated');
  t.ok(tally.ok > 0 && tally.ok < CASES, `${tally.ok} mutated frames still decoded (e.g. a flipped bit inside text)`);
  for (const code of KNOWN_CODES) {
    if (code === ISO_ERR.MISSING_VALUE || code === ISO_ERR.BAD_TYPE) continue; // pack-only codes
    t.ok((tally.byCode.get(code) ?? 0) > 0, `mutations reach ${code} (${tally.byCode.get(code) ?? 0} times)`);
  }
  t.comment(`mutations: ${JSON.stringify(Object.fromEntries(tally.byMutation))}`);
  t.comment(`${CASES} cases in ${Date.now() - startedMs} ms`);
});

// Card data (fields 23, 35, 48, 52, 55) of real messages, mutated the same ways: whatever decodes
// is read by cardauth/fields.ts, which must only ever return the card data or a field error that
// names one of those fields and quotes none of their content.
const CARD_CASES = 20_000;

t.test(`${CARD_CASES} mutated frames with card data: the card-data reader only ever returns data or a field error`, async (t) => {
  const rng = new SeededRandom(20261201);
  const pan = '5557701234567895';
  const track = `${pan}=30122011123456789`;
  const f55 = '9F2608A1B2C3D4E5F607089F2701809F1007060112030000009F3602000A9F370411223344950500000000009A032611289C01005F2A020978'
    + '82021800' + '9F0206000000001000' + '9F0306000000000000' + '9F1A020616';
  const codec = new IsoCodec(DIALECT_1987);
  const base = sample0100();
  base.fields.set(2, pan);
  base.fields.set(23, '001');
  base.fields.set(35, track);
  base.fields.set(48, '9203123' + '1001' + '1');
  base.fields.set(52, Buffer.from('A1B2C3D4E5F60718', 'hex'));
  base.fields.set(55, f55);
  const seed: Seed = { codec, bytes: codec.pack(base), layout: layoutOf(DIALECT_1987, base), secrets: [pan, track, f55.slice(0, 24), '9203123'] };
  const failures: string[] = [];
  let read = 0;
  let refused = 0;
  for (let i = 0; i < CARD_CASES; i++) {
    const [name, mutate] = MUTATIONS[rng.below(MUTATIONS.length)]!;
    const r = codec.unpack(mutate(rng, seed.bytes, seed));
    if (!r.ok) continue;
    try {
      const d = cardDataOf(r.msg.fields);
      if (isFieldError(d)) {
        refused++;
        if (![23, 35, 48, 52, 55].includes(d.field)) failures.push(`case ${i} (${name}): error names field ${d.field}`);
        if (seed.secrets.some((s) => d.reason.includes(s))) failures.push(`case ${i} (${name}): the reason quotes content`);
      } else {
        read++;
      }
      messagePan(r.msg.fields);
    } catch (e) {
      failures.push(`case ${i} (${name}): threw ${(e as Error).message}`);
    }
    if (failures.length >= 10) break;
  }
  t.same(failures, [], 'no property violated');
  t.ok(read > 0 && refused > 0, `card data read ${read} times, refused as a field error ${refused} times`);
});

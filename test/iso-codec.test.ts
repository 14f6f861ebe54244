// The ISO 8583 codec against the contract of SPEC §2.1: byte-for-byte agreement with the npm
// package `iso_8583` (its default format), both dialects, and field-level errors that name the
// field and never its content.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import t from 'tap';
import {
  DIALECT_1987, DIALECT_2003, ISO_ERR, IsoCodec, IsoPackError, dialectByName, loggableFields, maskPan, maskPansIn,
  type IsoDialect, type IsoFields, type IsoMessage, type UnpackResult,
} from '../iso/index.js';
import { dialectDifferences, dialectTable } from '../iso/dialect-doc.js';
import { SeededRandom, randomMessage, sample0100, sample0110, sample0400 } from '../iso/samples.js';

interface ReferenceMessage {
  getBufferMessage(): Buffer | { error: string };
  getIsoJSON(buf: Buffer, config: { lenHeader?: boolean }): Record<string, string> | { error: string };
}
type ReferenceCtor = new (message?: Record<string, string>) => ReferenceMessage;
const Reference = createRequire(import.meta.url)('iso_8583') as ReferenceCtor;

const codec = new IsoCodec(DIALECT_1987);
const codec2003 = new IsoCodec(DIALECT_2003);
const PAN = '5557701234561234';

/** The message in the reference package's JSON form: field number → string, binary as hex. */
function toReferenceJson(msg: { mti?: string | undefined; fields: IsoFields }): Record<string, string> {
  const json: Record<string, string> = {};
  if (msg.mti !== undefined) json['0'] = msg.mti;
  for (const [field, value] of msg.fields) json[field] = typeof value === 'string' ? value : value.toString('hex');
  return json;
}

function referencePack(msg: IsoMessage): Buffer {
  const out = new Reference(toReferenceJson(msg)).getBufferMessage();
  if (!Buffer.isBuffer(out)) throw new Error(`iso_8583 refused the message: ${out.error}`);
  return out;
}

function expectOk(result: UnpackResult): IsoMessage {
  if (!result.ok) throw new Error(`unpack failed: ${JSON.stringify(result.errors)}`);
  return result.msg;
}

t.test('a seeded corpus agrees byte for byte with iso_8583 in both directions', async (t) => {
  const rng = new SeededRandom(8583);
  const corpus: IsoMessage[] = [sample0100(), sample0110(), sample0400()];
  for (let i = 0; i < 250; i++) corpus.push(randomMessage(rng, DIALECT_1987, { density: i % 5 === 0 ? 0.02 : 0.15 }));
  for (let i = 0; i < 30; i++) corpus.push(randomMessage(rng, DIALECT_1987, { density: 0.6 }));
  const mtis = new Set(corpus.map((m) => m.mti));
  t.ok(mtis.size >= 8, `corpus spans ${mtis.size} MTIs`);
  t.ok(corpus.filter((m) => [...m.fields.keys()].some((f) => f > 64)).length > 100, 'corpus uses the secondary bitmap');
  t.ok(corpus.some((m) => m.fields.has(70)) && corpus.some((m) => m.fields.has(90)) && corpus.some((m) => m.fields.has(95)));

  let packDiffer = 0;
  let unpackDiffer = 0;
  let referenceDiffer = 0;
  for (const msg of corpus) {
    const ours = codec.pack(msg);
    const theirs = referencePack(msg);
    // The reference prefixes its own 2-byte length; the switch frames messages itself.
    t.equal(theirs.readUInt16BE(0), theirs.length - 2);
    if (!ours.equals(theirs.subarray(2))) packDiffer++;
    const decoded = expectOk(codec.unpack(theirs, 2));
    if (JSON.stringify(toReferenceJson(decoded)) !== JSON.stringify(toReferenceJson(msg))) unpackDiffer++;
    const theirDecode = new Reference().getIsoJSON(ours, { lenHeader: false });
    t.notOk('error' in theirDecode && typeof theirDecode.error === 'string', 'iso_8583 decodes our bytes');
    t.same(theirDecode, toReferenceJson(msg));
    if (JSON.stringify(theirDecode) !== JSON.stringify(toReferenceJson(msg))) referenceDiffer++;
  }
  t.equal(packDiffer, 0, `our pack equals iso_8583 getBufferMessage() for all ${corpus.length} messages`);
  t.equal(unpackDiffer, 0, 'our unpack of iso_8583 output gives back the original fields');
  t.equal(referenceDiffer, 0, 'iso_8583 unpacking our output gives back the original fields');
});

t.test('the default dialect always writes the secondary bitmap, like iso_8583', async (t) => {
  const packed = codec.pack({ mti: '0800', fields: new Map([[7, '0612153012'], [11, '000001']]) });
  t.equal(packed.length, 4 + 16 + 10 + 6);
  t.equal(packed[4]! & 0x80, 0x80, 'bit 1 set');
  t.same([...packed.subarray(12, 20)], [0, 0, 0, 0, 0, 0, 0, 0], 'empty secondary bitmap');
});

t.test('messages without a secondary bitmap decode', async (t) => {
  const msg = sample0100();
  const full = codec.pack(msg);
  // Drop the (empty) secondary bitmap and clear bit 1, as a peer that omits it would send.
  const short = Buffer.concat([full.subarray(0, 12), full.subarray(20)]);
  short[4] = short[4]! & 0x7f;
  const decoded = expectOk(codec.unpack(short));
  t.same(toReferenceJson(decoded), toReferenceJson(msg));
  t.same(new Reference().getIsoJSON(short, { lenHeader: false }), toReferenceJson(msg), 'iso_8583 agrees');

  const primaryOnly: IsoDialect = { ...DIALECT_1987, alwaysSecondaryBitmap: false };
  const compact = new IsoCodec(primaryOnly);
  t.same(compact.pack(msg), short, 'a dialect may omit an empty secondary bitmap');
  const withSecondary = compact.pack(sample0400());
  t.equal(withSecondary[4]! & 0x80, 0x80, '... and still writes it when a field above 64 is present');
  t.same(toReferenceJson(expectOk(codec.unpack(withSecondary))), toReferenceJson(sample0400()));
});

t.test('unpack reads a body inside a larger buffer, and binary fields are copies', async (t) => {
  const msg: IsoMessage = { mti: '0100', fields: new Map<number, string | Buffer>([[2, PAN], [52, Buffer.from('0011223344556677', 'hex')]]) };
  const body = codec.pack(msg);
  const framed = Buffer.concat([Buffer.from([0xff, 0x00, 0x99]), body, Buffer.from('junk')]);
  const decoded = expectOk(codec.unpack(framed, 3, 3 + body.length));
  framed.fill(0);
  t.same(toReferenceJson(decoded), toReferenceJson(msg));
  t.ok(Buffer.isBuffer(decoded.fields.get(52)));
});

t.test('both dialects: 2003 field 39 is n4 and round-trips', async (t) => {
  t.equal(dialectByName('1987'), DIALECT_1987);
  t.equal(dialectByName('2003'), DIALECT_2003);
  t.match(DIALECT_1987.fields[39], { encoding: 'an', lengthType: 'fixed', maxLength: 2 });
  t.match(DIALECT_2003.fields[39], { encoding: 'n', lengthType: 'fixed', maxLength: 4 });
  for (let field = 0; field <= 128; field++) {
    if (field !== 39) t.same(DIALECT_2003.fields[field], DIALECT_1987.fields[field], `field ${field} shared`);
  }

  const answer = sample0110();
  answer.fields.set(39, '1016');
  const packed = codec2003.pack(answer);
  t.same(toReferenceJson(expectOk(codec2003.unpack(packed))), toReferenceJson(answer));
  t.equal(packed.includes('1016', 0, 'latin1'), true);
  t.throws(() => codec.pack(answer), { code: ISO_ERR.TOO_LONG, field: 39 }, '1987 refuses a 4-character field 39');
  answer.fields.set(39, '00');
  t.throws(() => codec2003.pack(answer), { code: ISO_ERR.BAD_LENGTH, field: 39 }, '2003 refuses a 2-digit field 39');
  answer.fields.set(39, '10A6');
  t.throws(() => codec2003.pack(answer), { code: ISO_ERR.BAD_CHARSET, field: 39 });
});

// ---------------------------------------------------------------------------------------------
// Unpack errors. The base message is laid out as (offsets into the body):
//   0 MTI | 4 bitmap (16) | 20 f2 "16"+PAN | 38 f3 | 44 f4 | 56 f11 | 62 f28 | 71 f41 | 79 f43 | 119 f70 | 122 end

const base: IsoMessage = {
  mti: '0100',
  fields: new Map<number, string | Buffer>([
    [2, PAN], [3, '000000'], [4, '000000012345'], [11, '004211'], [28, 'C00000150'],
    [41, 'TERM0042'], [43, 'SHOP'.padEnd(37) + 'DEU'], [70, '301'],
  ]),
};
const BASE = codec.pack(base);
const AT = { f2: 20, f3: 38, f4: 44, f11: 56, f28: 62, f41: 71, f43: 79, f70: 119, end: 122 } as const;

function edit(change: (b: Buffer) => Buffer | void): Buffer {
  const copy = Buffer.from(BASE);
  return change(copy) ?? copy;
}

interface ErrorRow {
  name: string;
  bytes: Buffer;
  field: number;
  code: string;
  /** Fields that must still be in `partial`. */
  clean: number[];
  mtiReadable: boolean;
}

const errorRows: ErrorRow[] = [
  { name: 'empty body', bytes: Buffer.alloc(0), field: 0, code: ISO_ERR.TRUNCATED, clean: [], mtiReadable: false },
  { name: 'truncated MTI', bytes: BASE.subarray(0, 3), field: 0, code: ISO_ERR.TRUNCATED, clean: [], mtiReadable: false },
  { name: 'non-digit MTI', bytes: edit((b) => { b[1] = 0x41; }), field: 0, code: ISO_ERR.BAD_CHARSET, clean: [2, 11, 41, 70], mtiReadable: false },
  { name: 'truncated primary bitmap', bytes: BASE.subarray(0, 9), field: 1, code: ISO_ERR.TRUNCATED, clean: [], mtiReadable: true },
  { name: 'truncated secondary bitmap', bytes: BASE.subarray(0, 15), field: 1, code: ISO_ERR.TRUNCATED, clean: [], mtiReadable: true },
  { name: 'truncated fixed field', bytes: BASE.subarray(0, AT.f41 + 3), field: 41, code: ISO_ERR.TRUNCATED, clean: [2, 3, 4, 11, 28], mtiReadable: true },
  { name: 'truncated inside a length prefix', bytes: BASE.subarray(0, AT.f2 + 1), field: 2, code: ISO_ERR.TRUNCATED, clean: [], mtiReadable: true },
  { name: 'truncated variable field', bytes: BASE.subarray(0, AT.f2 + 10), field: 2, code: ISO_ERR.TRUNCATED, clean: [], mtiReadable: true },
  { name: 'non-digit length prefix', bytes: edit((b) => { b[AT.f2 + 1] = 0x3a; }), field: 2, code: ISO_ERR.BAD_LENGTH_PREFIX, clean: [], mtiReadable: true },
  { name: 'length prefix over the maximum', bytes: edit((b) => { b.write('25', AT.f2, 'latin1'); }), field: 2, code: ISO_ERR.TOO_LONG, clean: [], mtiReadable: true },
  // A wrong but plausible prefix shifts every later field; the first field whose content no
  // longer fits its encoding is where the misalignment shows.
  { name: 'length prefix that shifts the rest', bytes: edit((b) => { b.write('18', AT.f2, 'latin1'); }), field: 11, code: ISO_ERR.BAD_CHARSET, clean: [], mtiReadable: true },
  { name: 'bitmap names an undefined field (65)', bytes: edit((b) => { b[12] = b[12]! | 0x80; }), field: 65, code: ISO_ERR.UNDEFINED_FIELD, clean: [2, 3, 4, 11, 28, 41, 43], mtiReadable: true },
  { name: 'trailing bytes', bytes: Buffer.concat([BASE, Buffer.from('00')]), field: 70, code: ISO_ERR.TRAILING_BYTES, clean: [2, 3, 4, 11, 28, 41, 43, 70], mtiReadable: true },
  { name: 'bitmap bit cleared (shifted fields)', bytes: edit((b) => { b[4] = b[4]! & ~0x20; }), field: 28, code: ISO_ERR.BAD_CHARSET, clean: [2], mtiReadable: true },
  { name: 'letter in an n field', bytes: edit((b) => { b[AT.f4 + 5] = 0x41; }), field: 4, code: ISO_ERR.BAD_CHARSET, clean: [2, 3, 11, 28, 41, 43, 70], mtiReadable: true },
  { name: 'letter in the PAN', bytes: edit((b) => { b[AT.f2 + 2 + 7] = 0x58; }), field: 2, code: ISO_ERR.BAD_CHARSET, clean: [3, 4, 11, 41, 70], mtiReadable: true },
  { name: 'non-ASCII byte in an ans field', bytes: edit((b) => { b[AT.f41 + 2] = 0xe9; }), field: 41, code: ISO_ERR.BAD_CHARSET, clean: [2, 3, 4, 11, 28, 43, 70], mtiReadable: true },
  { name: 'control byte in an ans field', bytes: edit((b) => { b[AT.f43 + 10] = 0x0a; }), field: 43, code: ISO_ERR.BAD_CHARSET, clean: [2, 11, 41, 70], mtiReadable: true },
  { name: 'bad sign in an x+n field', bytes: edit((b) => { b[AT.f28] = 0x58; }), field: 28, code: ISO_ERR.BAD_CHARSET, clean: [2, 11, 41], mtiReadable: true },
  {
    name: 'empty variable field',
    bytes: edit((b) => Buffer.concat([b.subarray(0, AT.f2), Buffer.from('00'), b.subarray(AT.f3)])),
    field: 2, code: ISO_ERR.BAD_LENGTH, clean: [3, 4, 11, 41, 43, 70], mtiReadable: true,
  },
];

t.test('unpack errors name the field and the code, and keep the clean fields', async (t) => {
  t.ok(codec.unpack(BASE).ok, 'the base message is valid');
  t.same(AT.end, BASE.length, 'the offsets in this test match the base message');
  for (const row of errorRows) {
    const result = codec.unpack(row.bytes);
    if (result.ok) {
      t.fail(`${row.name}: unpack succeeded`);
      continue;
    }
    const [first] = result.errors;
    t.match(first, { field: row.field, code: row.code }, row.name);
    t.equal(result.partial.mti !== undefined, row.mtiReadable, `${row.name}: MTI readable = ${row.mtiReadable}`);
    for (const field of row.clean) t.equal(result.partial.fields.get(field), base.fields.get(field), `${row.name}: field ${field} clean`);
    if (first !== undefined && first.code !== ISO_ERR.TRAILING_BYTES) {
      t.notOk(result.partial.fields.has(first.field), `${row.name}: bad field not in partial`);
    }
    for (const error of result.errors) {
      t.notOk(error.reason.includes(PAN) || error.reason.includes('TERM0042') || error.reason.includes('SHOP'), `${row.name}: reason is content-free`);
    }
  }
});

t.test('MTI and field 11 stay readable when field 41 is bad', async (t) => {
  const bad = edit((b) => { b[AT.f41] = 0x00; });
  const result = codec.unpack(bad);
  t.equal(result.ok, false);
  if (result.ok) return;
  t.same(result.errors.map((e) => [e.field, e.code]), [[41, ISO_ERR.BAD_CHARSET]], 'exactly one error');
  t.equal(result.partial.mti, '0100');
  t.equal(result.partial.fields.get(11), '004211');
  t.equal(result.partial.fields.get(70), '301', 'parsing went on after the bad field');
});

t.test('several content errors are all reported', async (t) => {
  const bad = edit((b) => { b[AT.f3] = 0x41; b[AT.f11] = 0x41; b[AT.f70] = 0xff; });
  const result = codec.unpack(bad);
  t.same(result.ok ? [] : result.errors.map((e) => e.field), [3, 11, 70]);
});

// ---------------------------------------------------------------------------------------------
// Pack errors: thrown, with a code and the field number, never the value.

interface PackRow { name: string; mti?: string; fields: ReadonlyArray<readonly [number, unknown]>; field: number; code: string }

const packRows: PackRow[] = [
  { name: 'missing MTI', mti: '', fields: [], field: 0, code: ISO_ERR.MISSING_VALUE },
  { name: 'short MTI', mti: '100', fields: [], field: 0, code: ISO_ERR.BAD_LENGTH },
  { name: 'non-digit MTI', mti: '01A0', fields: [], field: 0, code: ISO_ERR.BAD_CHARSET },
  { name: 'field 65 is undefined', fields: [[65, '1']], field: 65, code: ISO_ERR.UNDEFINED_FIELD },
  { name: 'field 1 is computed', fields: [[1, '00']], field: 1, code: ISO_ERR.UNDEFINED_FIELD },
  { name: 'field 129 does not exist', fields: [[129, '00']], field: 129, code: ISO_ERR.UNDEFINED_FIELD },
  { name: 'empty value', fields: [[11, '']], field: 11, code: ISO_ERR.MISSING_VALUE },
  { name: 'undefined value', fields: [[2, undefined]], field: 2, code: ISO_ERR.MISSING_VALUE },
  { name: 'empty variable field', fields: [[32, '']], field: 32, code: ISO_ERR.MISSING_VALUE },
  { name: 'PAN too long', fields: [[2, PAN + '12345']], field: 2, code: ISO_ERR.TOO_LONG },
  { name: 'fixed n field too short', fields: [[4, '12345']], field: 4, code: ISO_ERR.BAD_LENGTH },
  { name: 'fixed ans field too long', fields: [[41, 'TERMINAL9']], field: 41, code: ISO_ERR.TOO_LONG },
  { name: 'letter in an n field', fields: [[2, '55577012345612X4']], field: 2, code: ISO_ERR.BAD_CHARSET },
  { name: 'non-latin character', fields: [[43, 'CAF\u00c9 \u20ac'.padEnd(40)]], field: 43, code: ISO_ERR.BAD_CHARSET },
  { name: 'string for a binary field', fields: [[52, '0011223344556677']], field: 52, code: ISO_ERR.BAD_TYPE },
  { name: 'Buffer for a text field', fields: [[2, Buffer.from(PAN)]], field: 2, code: ISO_ERR.BAD_TYPE },
  { name: 'binary field of the wrong length', fields: [[52, Buffer.alloc(7, 1)]], field: 52, code: ISO_ERR.BAD_LENGTH },
  { name: 'field 123 below its minimum', fields: [[123, 'ABC']], field: 123, code: ISO_ERR.BAD_LENGTH },
];

t.test('pack refuses bad messages with a code and the field, never the value', async (t) => {
  for (const row of packRows) {
    const msg = { mti: row.mti ?? '0100', fields: new Map(row.fields) as IsoFields };
    try {
      codec.pack(msg);
      t.fail(`${row.name}: pack succeeded`);
    } catch (error) {
      t.ok(error instanceof IsoPackError, `${row.name}: IsoPackError`);
      t.match(error, { code: row.code, field: row.field }, row.name);
      t.notOk(String((error as Error).message).includes(PAN), `${row.name}: message is content-free`);
    }
  }
});

t.test('pack pads short alphanumeric fixed fields with spaces', async (t) => {
  const packed = codec.pack({ mti: '0110', fields: new Map([[39, '0'], [41, 'T1'], [43, 'SHOP']]) });
  const decoded = expectOk(codec.unpack(packed));
  t.equal(decoded.fields.get(39), '0 ');
  t.equal(decoded.fields.get(41), 'T1      ');
  t.equal(decoded.fields.get(43), 'SHOP'.padEnd(40));
});

t.test('every decoded value can be packed again unchanged', async (t) => {
  for (const msg of [sample0100(), sample0110(), sample0400()]) {
    const packed = codec.pack(msg);
    t.same(codec.pack(expectOk(codec.unpack(packed))), packed);
  }
});

// ---------------------------------------------------------------------------------------------

t.test('maskPan keeps the first 6 and last 4 digits', async (t) => {
  t.equal(maskPan('5557701234561234'), '555770******1234');
  t.equal(maskPan('5557701234567890123'), '555770*********0123');
  t.equal(maskPan('5557701234561'), '555770***4561');
  t.equal(maskPan('555770123456'), '************', 'too short to show anything');
  t.equal(maskPan(''), '');
});

t.test('maskPansIn masks every PAN-long digit run in free text, and nothing shorter', async (t) => {
  t.equal(maskPansIn('/secure/customers/12/cards/5557701234561234/lock'), '/secure/customers/12/cards/555770******1234/lock');
  t.equal(maskPansIn('card 5557701234567890123 and 4111111111111111'), 'card 555770*********0123 and 411111******1111');
  t.equal(maskPansIn('stan 000123, id 123456789012'), 'stan 000123, id 123456789012', 'twelve digits or fewer stay');
  t.equal(maskPansIn('card 5557 7012 3456 1234 or 4111-1111-1111-1111'), 'card 555770******1234 or 411111******1111', 'grouped digits are masked too');
  t.equal(maskPansIn('field 90: 0100000001112510150000000123456'), 'field 90: 010000' + '*'.repeat(21) + '3456', 'a longer run is masked whole');
  t.equal(maskPansIn('at 2026-11-29 12:00, stan 000123 000124'), 'at 2026-11-29 12:00, stan 000123 000124', 'dates and short numbers side by side stay');
});

t.test('loggableFields masks the PAN and withholds track data and PIN blocks', async (t) => {
  const fields: IsoFields = new Map<number, string | Buffer>([
    [2, PAN], [11, '004211'], [35, PAN + 'D2812201'], [52, Buffer.alloc(8, 0xab)], [64, Buffer.from('01020304', 'hex')],
  ]);
  const out = loggableFields(DIALECT_1987, fields);
  t.same(out, { 2: '555770******1234', 11: '004211', 35: '[24 bytes withheld]', 52: '[8 bytes withheld]', 64: '01020304' });
  t.notOk(JSON.stringify(out).includes(PAN));
});

t.test('docs/wire-format.md carries the field tables the codec runs on', async (t) => {
  const doc = readFileSync(new URL('../docs/wire-format.md', import.meta.url), 'utf8');
  t.ok(doc.includes(dialectTable(DIALECT_1987)), '1987 table is current (npx tsx iso/dialect-doc.ts)');
  t.ok(doc.includes(dialectDifferences(DIALECT_1987, DIALECT_2003)), '2003 differences are current');
});

// ISO 8583 dialects as data. A dialect is a table from field number to how that field travels on
// the wire; the codec (codec.ts) compiles the table once into pack/unpack steps, so adding or
// changing a field is a one-line edit here and never a new branch in the codec's loop.
//
// DIALECT_1987 reproduces the default format table of the npm package `iso_8583` (v2.6.x), which
// SPEC §2.1 makes the wire contract: ASCII MTI, binary bitmaps (the secondary one always sent),
// ASCII length prefixes and ASCII field content; binary fields are raw bytes. Two quirks of that
// table are kept on purpose because byte compatibility matters more than textbook widths:
// fields 64, 96 and 128 are 4 bytes (the package counts their length in hex digits), and field
// 65 has no representation at all, so it is left undefined and a bitmap naming it is an error.
// Field 127 is an opaque LLLLLLVAR byte string: the package packs it from Postilion-style
// sub-elements with their own binary bitmap, which we pass through without interpreting.

export type DialectName = '1987' | '2003';

/** How the field's length is known: fixed, or an ASCII decimal prefix of 2, 3 or 6 digits. */
export type LengthType = 'fixed' | 'llvar' | 'lllvar' | 'llllllvar';

/**
 * What the field may contain. Text encodings travel as one ASCII byte per character:
 * n digits; an letters, digits, space; anp the same (p = space padding); ans printable ASCII
 * 0x20-0x7E; ns printable ASCII without letters; z track-2 characters (0x30-0x3F and `D`);
 * xn a `C`/`D` sign followed by digits. b is raw bytes, handled as Buffer.
 */
export type Encoding = 'n' | 'an' | 'anp' | 'ans' | 'ns' | 'z' | 'xn' | 'b';

/** What pack does with a fixed-length value shorter than the field: nothing (error) or pad. */
export type Padding = 'none' | 'right-space' | 'left-zero';

/** Fields whose content must never reach a log: a PAN is masked, a secret is dropped. */
export type Sensitivity = 'pan' | 'secret';

export interface FieldSpec {
  readonly field: number;
  readonly lengthType: LengthType;
  /** Characters for text encodings, bytes for `b`. Equals the length of a fixed field. */
  readonly maxLength: number;
  /** Smallest accepted length (1 for a variable field unless the table says more). */
  readonly minLength: number;
  readonly encoding: Encoding;
  readonly padding: Padding;
  readonly description: string;
  readonly sensitivity: Sensitivity | undefined;
}

export interface IsoDialect {
  readonly name: DialectName;
  /** Indexed by field number 0..128; index 0 is the MTI and 1 the primary bitmap. */
  readonly fields: ReadonlyArray<FieldSpec | undefined>;
  /** Always write the secondary bitmap, even when no field above 64 is present. */
  readonly alwaysSecondaryBitmap: boolean;
}

export const MAX_FIELD = 128;

type Row = readonly [field: number, encoding: Encoding, lengthType: LengthType, maxLength: number, description: string];

// Fields 2..128 of the default table of `iso_8583`, in its notation: maxLength of `b` fields is
// given here in bytes (the package gives hex digits).
const ROWS_1987: readonly Row[] = [
  [2, 'n', 'llvar', 19, 'Primary account number (PAN)'],
  [3, 'n', 'fixed', 6, 'Processing code'],
  [4, 'n', 'fixed', 12, 'Amount, transaction'],
  [5, 'n', 'fixed', 12, 'Amount, settlement'],
  [6, 'n', 'fixed', 12, 'Amount, cardholder billing'],
  [7, 'n', 'fixed', 10, 'Transmission date & time'],
  [8, 'n', 'fixed', 8, 'Amount, cardholder billing fee'],
  [9, 'n', 'fixed', 8, 'Conversion rate, settlement'],
  [10, 'n', 'fixed', 8, 'Conversion rate, cardholder billing'],
  [11, 'n', 'fixed', 6, 'System trace audit number'],
  [12, 'n', 'fixed', 6, 'Time, local transaction (hhmmss)'],
  [13, 'n', 'fixed', 4, 'Date, local transaction (MMDD)'],
  [14, 'n', 'fixed', 4, 'Date, expiration'],
  [15, 'n', 'fixed', 4, 'Date, settlement'],
  [16, 'n', 'fixed', 4, 'Date, conversion'],
  [17, 'n', 'fixed', 4, 'Date, capture'],
  [18, 'n', 'fixed', 4, 'Merchant type'],
  [19, 'n', 'fixed', 3, 'Acquiring institution country code'],
  [20, 'n', 'fixed', 3, 'PAN extended, country code'],
  [21, 'n', 'fixed', 3, 'Forwarding institution country code'],
  [22, 'n', 'fixed', 3, 'Point of service entry mode'],
  [23, 'n', 'fixed', 3, 'Application PAN sequence number'],
  [24, 'n', 'fixed', 3, 'Network International identifier (NII)'],
  [25, 'n', 'fixed', 2, 'Point of service condition code'],
  [26, 'n', 'fixed', 2, 'Point of service capture code'],
  [27, 'n', 'fixed', 1, 'Authorizing identification response length'],
  [28, 'xn', 'fixed', 9, 'Amount, transaction fee'],
  [29, 'xn', 'fixed', 9, 'Amount, settlement fee'],
  [30, 'xn', 'fixed', 9, 'Amount, transaction processing fee'],
  [31, 'xn', 'fixed', 9, 'Amount, settlement processing fee'],
  [32, 'n', 'llvar', 11, 'Acquiring institution identification code'],
  [33, 'n', 'llvar', 11, 'Forwarding institution identification code'],
  [34, 'ns', 'llvar', 28, 'Primary account number, extended'],
  [35, 'z', 'llvar', 37, 'Track 2 data'],
  [36, 'n', 'lllvar', 104, 'Track 3 data'],
  [37, 'anp', 'fixed', 12, 'Retrieval reference number'],
  [38, 'anp', 'fixed', 6, 'Authorization identification response'],
  [39, 'an', 'fixed', 2, 'Response code'],
  [40, 'n', 'fixed', 3, 'Service restriction code'],
  [41, 'ans', 'fixed', 8, 'Card acceptor terminal identification'],
  [42, 'ans', 'fixed', 15, 'Card acceptor identification code'],
  [43, 'ans', 'fixed', 40, 'Card acceptor name/location'],
  [44, 'ans', 'llvar', 25, 'Additional response data'],
  [45, 'ans', 'llvar', 76, 'Track 1 data'],
  [46, 'ans', 'lllvar', 999, 'Additional data - ISO'],
  [47, 'ans', 'lllvar', 999, 'Additional data - national'],
  [48, 'ans', 'lllvar', 999, 'Additional data - private'],
  [49, 'n', 'fixed', 3, 'Currency code, transaction'],
  [50, 'an', 'fixed', 3, 'Currency code, settlement'],
  [51, 'n', 'fixed', 3, 'Currency code, cardholder billing'],
  [52, 'b', 'fixed', 8, 'Personal identification number data'],
  [53, 'b', 'fixed', 48, 'Security related control information'],
  [54, 'an', 'lllvar', 120, 'Additional amounts'],
  [55, 'ans', 'lllvar', 999, 'Reserved ISO'],
  [56, 'ans', 'lllvar', 999, 'Message Reason Code'],
  [57, 'ans', 'lllvar', 999, 'Reserved national'],
  [58, 'n', 'llvar', 11, 'Reserved national'],
  [59, 'ans', 'lllvar', 255, 'Reserved national'],
  [60, 'ans', 'lllvar', 999, 'Reserved national'],
  [61, 'ans', 'lllvar', 999, 'Reserved private'],
  [62, 'ans', 'lllvar', 999, 'Reserved private'],
  [63, 'ans', 'lllvar', 999, 'Reserved private'],
  [64, 'b', 'fixed', 4, 'Message authentication code (MAC)'],
  [66, 'n', 'fixed', 1, 'Settlement code'],
  [67, 'n', 'fixed', 2, 'Extended payment code'],
  [68, 'n', 'fixed', 3, 'Receiving institution country code'],
  [69, 'n', 'fixed', 3, 'Settlement institution country code'],
  [70, 'n', 'fixed', 3, 'Network management information code'],
  [71, 'n', 'fixed', 4, 'Message number'],
  [72, 'n', 'fixed', 4, 'Message number, last'],
  [73, 'n', 'fixed', 6, 'Date, action (YYMMDD)'],
  [74, 'n', 'fixed', 10, 'Credits, number'],
  [75, 'n', 'fixed', 10, 'Credits, reversal number'],
  [76, 'n', 'fixed', 10, 'Debits, number'],
  [77, 'n', 'fixed', 10, 'Debits, reversal number'],
  [78, 'n', 'fixed', 10, 'Transfer number'],
  [79, 'n', 'fixed', 10, 'Transfer, reversal number'],
  [80, 'n', 'fixed', 10, 'Inquiries number'],
  [81, 'n', 'fixed', 10, 'Authorizations, number'],
  [82, 'n', 'fixed', 12, 'Credits, processing fee amount'],
  [83, 'n', 'fixed', 12, 'Credits, transaction fee amount'],
  [84, 'n', 'fixed', 12, 'Debits, processing fee amount'],
  [85, 'n', 'fixed', 12, 'Debits, transaction fee amount'],
  [86, 'n', 'fixed', 16, 'Credits, amount'],
  [87, 'n', 'fixed', 16, 'Credits, reversal amount'],
  [88, 'n', 'fixed', 16, 'Debits, amount'],
  [89, 'n', 'fixed', 16, 'Debits, reversal amount'],
  [90, 'n', 'fixed', 42, 'Original data elements'],
  [91, 'an', 'fixed', 1, 'File update code'],
  [92, 'an', 'fixed', 2, 'File security code'],
  [93, 'an', 'fixed', 5, 'Response indicator'],
  [94, 'an', 'fixed', 7, 'Service indicator'],
  [95, 'an', 'fixed', 42, 'Replacement amounts'],
  [96, 'b', 'fixed', 4, 'Message security code'],
  [97, 'xn', 'fixed', 17, 'Amount, net settlement'],
  [98, 'ans', 'fixed', 25, 'Payee'],
  [99, 'n', 'llvar', 11, 'Settlement institution identification code'],
  [100, 'n', 'llvar', 11, 'Receiving institution identification code'],
  [101, 'ans', 'llvar', 17, 'File name'],
  [102, 'ans', 'llvar', 28, 'Account identification 1'],
  [103, 'ans', 'llvar', 28, 'Account identification 2'],
  [104, 'ans', 'lllvar', 100, 'Transaction description'],
  [105, 'ans', 'lllvar', 999, 'Reserved for ISO use'],
  [106, 'ans', 'lllvar', 999, 'Reserved for ISO use'],
  [107, 'ans', 'lllvar', 999, 'Reserved for ISO use'],
  [108, 'ans', 'lllvar', 999, 'Reserved for ISO use'],
  [109, 'ans', 'lllvar', 999, 'Reserved for ISO use'],
  [110, 'ans', 'lllvar', 999, 'Reserved for ISO use'],
  [111, 'ans', 'lllvar', 999, 'Reserved for ISO use'],
  [112, 'ans', 'lllvar', 999, 'Reserved for national use'],
  [113, 'ans', 'lllvar', 999, 'Reserved for national use'],
  [114, 'ans', 'lllvar', 999, 'Reserved for national use'],
  [115, 'ans', 'lllvar', 999, 'Reserved for national use'],
  [116, 'ans', 'lllvar', 999, 'Reserved for national use'],
  [117, 'ans', 'lllvar', 999, 'Reserved for national use'],
  [118, 'n', 'lllvar', 999, 'Reserved for national use'],
  [119, 'n', 'lllvar', 999, 'Reserved for national use'],
  [120, 'n', 'lllvar', 999, 'Reserved for private use'],
  [121, 'n', 'lllvar', 999, 'Reserved for private use'],
  [122, 'n', 'lllvar', 999, 'Reserved for private use'],
  [123, 'an', 'lllvar', 999, 'Reserved for private use'],
  [124, 'ans', 'lllvar', 999, 'Reserved for private use'],
  [125, 'ans', 'lllvar', 999, 'Reserved for private use'],
  [126, 'ans', 'lllvar', 999, 'Reserved for private use'],
  [127, 'b', 'llllllvar', 999999, 'Reserved for private use (opaque bytes; Postilion-style sub-elements)'],
  [128, 'b', 'fixed', 4, 'Message authentication code'],
];

// A variable field is at least one character long: `iso_8583` cannot send an empty field, and
// pack refuses one, so unpack refuses one too and every value it returns can be packed again.
const MIN_LENGTH: ReadonlyMap<number, number> = new Map([[123, 15]]);
// Field 48 carries the CVV2 (subelement 92) and field 55 cryptograms (the request's ARQC, the
// answer's ARPC): secret like the tracks and the PIN block (cardauth/fields.ts).
const SENSITIVITY: ReadonlyMap<number, Sensitivity> = new Map<number, Sensitivity>([
  [2, 'pan'], [34, 'pan'], [35, 'secret'], [36, 'secret'], [45, 'secret'], [48, 'secret'], [52, 'secret'], [55, 'secret'],
]);

// Acquirers pad alphanumeric fields on the right with spaces; numeric fixed fields are not padded
// because a short amount or date is a bug upstream, and silently zero-filling it (for example a
// 2-character response code in the 4-character 2003 field 39) would hide that bug.
function defaultPadding(encoding: Encoding, lengthType: LengthType): Padding {
  if (lengthType !== 'fixed') return 'none';
  return encoding === 'an' || encoding === 'anp' || encoding === 'ans' ? 'right-space' : 'none';
}

function spec(row: Row): FieldSpec {
  const [field, encoding, lengthType, maxLength, description] = row;
  return {
    field,
    lengthType,
    maxLength,
    minLength: lengthType === 'fixed' ? maxLength : (MIN_LENGTH.get(field) ?? 1),
    encoding,
    padding: defaultPadding(encoding, lengthType),
    description,
    sensitivity: SENSITIVITY.get(field),
  };
}

const MTI_SPEC: FieldSpec = spec([0, 'n', 'fixed', 4, 'Message type indicator']);
const BITMAP_SPEC: FieldSpec = spec([1, 'b', 'fixed', 8, 'Bitmap (primary; a secondary bitmap follows when bit 1 is set)']);

function buildTable(rows: readonly Row[], overrides: readonly Row[]): Array<FieldSpec | undefined> {
  const table: Array<FieldSpec | undefined> = new Array<FieldSpec | undefined>(MAX_FIELD + 1).fill(undefined);
  table[0] = MTI_SPEC;
  table[1] = BITMAP_SPEC;
  for (const row of rows) table[row[0]] = spec(row);
  for (const row of overrides) table[row[0]] = spec(row);
  return table;
}

export const DIALECT_1987: IsoDialect = Object.freeze({
  name: '1987',
  fields: Object.freeze(buildTable(ROWS_1987, [])),
  alwaysSecondaryBitmap: true,
});

// ISO 8583:2003 action codes are four digits; everything else keeps the 1987 layout (SPEC §2.1).
export const DIALECT_2003: IsoDialect = Object.freeze({
  name: '2003',
  fields: Object.freeze(buildTable(ROWS_1987, [[39, 'n', 'fixed', 4, 'Action code (ISO 8583:2003)']])),
  alwaysSecondaryBitmap: true,
});

export function dialectByName(name: DialectName): IsoDialect {
  switch (name) {
    case '1987': return DIALECT_1987;
    case '2003': return DIALECT_2003;
  }
}

/** Parses a configuration value such as ISO_DIALECT; returns undefined for anything else. */
export function parseDialectName(value: string | undefined): DialectName | undefined {
  return value === '1987' || value === '2003' ? value : undefined;
}

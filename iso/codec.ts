// The ISO 8583 codec: one instance per dialect, built once at start-up. The constructor compiles
// the dialect table into one FieldStep per field; pack and unpack are then plain loops over the
// bitmap that hand each present field to its step. Nothing in the loops knows a field number.
//
// Layout on the wire (without the 2-byte frame length, which belongs to the listener):
//   MTI (4 ASCII digits) | primary bitmap (8 bytes) | [secondary bitmap (8 bytes) if bit 1] | fields
// A variable field is an ASCII decimal length (2, 3 or 6 digits) followed by that many
// characters (bytes for binary fields); a fixed field is exactly its table length.
//
// Back-of-the-envelope: a typical 0100 has ~16 fields and ~200 bytes, so the budget of a few
// microseconds per message leaves tens of nanoseconds per field. Hence: one latin1 decode of the
// body and substrings per field, table lookups instead of regexes, characters checked while they
// are written, one exact-size allocation for pack output, and no closures per message.

import { classesFor, firstBadByte, firstBadChar, type ClassPair } from './charset.js';
import { MAX_FIELD, type Encoding, type FieldSpec, type IsoDialect, type LengthType } from './dialect.js';
import { ISO_ERR, IsoPackError, type FieldError, type IsoErrorCode } from './errors.js';

export { ISO_ERR, IsoPackError, type FieldError, type IsoErrorCode } from './errors.js';

/**
 * Field number (2..128) to value. Binary (`b`) fields are Buffer, every other field a string of
 * the characters on the wire (no trimming, no padding removed). A Map keeps the API honest about
 * presence (`has`) and iterates in insertion order; unpack inserts in ascending field order.
 */
export type IsoFields = Map<number, string | Buffer>;

export interface IsoMessage {
  mti: string;
  fields: IsoFields;
}

export interface PartialMessage {
  /** Present when the MTI itself decoded cleanly. */
  mti?: string;
  /** Every field that decoded cleanly before unpacking stopped. */
  fields: IsoFields;
}

export type UnpackResult =
  | { ok: true; msg: IsoMessage }
  | { ok: false; errors: FieldError[]; partial: PartialMessage };

// Buffer methods Node has had since v0.x but @types/node does not declare; they skip the encoding
// dispatch of toString/write, which is measurable at this message rate.
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(text: string, offset: number, length: number): number;
}

const PREFIX_DIGITS: Readonly<Record<LengthType, number>> = { fixed: 0, llvar: 2, lllvar: 3, llllllvar: 6 };
const PRIMARY_BITMAP_BYTES = 8;
const FULL_BITMAP_BYTES = 16;
const SECONDARY_BIT = 0x80;

/** One field of the dialect, compiled for the hot loops. */
class FieldStep {
  readonly field: number;
  readonly encoding: Encoding;
  /** 0 for a fixed field, else the number of ASCII digits of the length prefix. */
  readonly prefixDigits: number;
  readonly maxLength: number;
  readonly minLength: number;
  readonly binary: boolean;
  readonly classes: ClassPair;
  /** 0 when pack must not pad, else the byte it pads a short fixed value with. */
  readonly padByte: number;
  readonly padLeft: boolean;

  constructor(spec: FieldSpec) {
    this.field = spec.field;
    this.encoding = spec.encoding;
    this.prefixDigits = PREFIX_DIGITS[spec.lengthType];
    this.maxLength = spec.maxLength;
    this.minLength = spec.minLength;
    this.binary = spec.encoding === 'b';
    this.classes = classesFor(spec.encoding);
    this.padByte = spec.padding === 'right-space' ? 0x20 : spec.padding === 'left-zero' ? 0x30 : 0;
    this.padLeft = spec.padding === 'left-zero';
    assertCompilable(spec, this.prefixDigits);
  }
}

// Table mistakes are programmer errors: fail at start-up, not on the first message that uses them.
function assertCompilable(spec: FieldSpec, prefixDigits: number): void {
  const ok =
    Number.isInteger(spec.maxLength) && spec.maxLength > 0 &&
    spec.minLength >= 0 && spec.minLength <= spec.maxLength &&
    (prefixDigits === 0 || spec.maxLength < 10 ** prefixDigits) &&
    (spec.encoding !== 'b' || spec.padding === 'none');
  if (!ok) throw new Error(`dialect table: field ${spec.field} is not a valid definition`);
}

function fieldError(field: number, code: IsoErrorCode, reason: string): FieldError {
  return { field, code, reason };
}

export class IsoCodec {
  readonly dialect: IsoDialect;
  private readonly mtiStep: FieldStep;
  /** Indexed by field number; undefined where the dialect defines no field (and for 0 and 1). */
  private readonly steps: ReadonlyArray<FieldStep | undefined>;
  /** Scratch bitmap and values for pack; pack is synchronous, so one set per codec is enough. */
  private readonly packBitmap = new Uint8Array(FULL_BITMAP_BYTES);
  private readonly packValues: Array<string | Buffer | undefined> = new Array<string | Buffer | undefined>(MAX_FIELD + 1).fill(undefined);

  constructor(dialect: IsoDialect) {
    const mti = dialect.fields[0];
    const bitmap = dialect.fields[1];
    if (mti === undefined || mti.lengthType !== 'fixed' || mti.encoding === 'b') {
      throw new Error('dialect table: field 0 (MTI) must be a fixed text field');
    }
    if (bitmap === undefined || bitmap.encoding !== 'b' || bitmap.maxLength !== PRIMARY_BITMAP_BYTES) {
      throw new Error('dialect table: field 1 must be the 8-byte binary primary bitmap');
    }
    this.dialect = dialect;
    this.mtiStep = new FieldStep(mti);
    const steps: Array<FieldStep | undefined> = [undefined, undefined];
    for (let field = 2; field <= MAX_FIELD; field++) {
      const spec = dialect.fields[field];
      steps.push(spec === undefined ? undefined : new FieldStep(spec));
    }
    this.steps = steps;
  }

  /**
   * Decodes one message body occupying buf[start, end). Never throws for any content of those
   * bytes; a RangeError for bounds outside the buffer is a bug in the caller.
   */
  unpack(buf: Buffer, start = 0, end: number = buf.length): UnpackResult {
    if (!(start >= 0 && start <= end && end <= buf.length)) throw new RangeError('unpack: bad bounds');
    const reader = new Reader(buf, start, end);
    const mtiLength = this.mtiStep.maxLength;
    if (end - start < mtiLength) {
      reader.errors.push(fieldError(0, ISO_ERR.TRUNCATED, `MTI needs ${mtiLength} bytes, ${end - start} present`));
      return reader.failure(undefined);
    }
    let mti: string | undefined = reader.text(start, start + mtiLength);
    const badMtiByte = firstBadByte(this.mtiStep.classes, buf, start, start + mtiLength);
    if (badMtiByte >= 0) {
      reader.errors.push(fieldError(0, ISO_ERR.BAD_CHARSET, `MTI byte ${badMtiByte} is not a digit`));
      mti = undefined;
    }
    const bitmapStart = start + mtiLength;
    const bitmapBytes = bitmapLength(reader, bitmapStart);
    if (bitmapBytes === 0 || this.unpackFields(reader, bitmapStart, bitmapBytes)) return reader.failure(mti);
    if (reader.errors.length > 0 || mti === undefined) return reader.failure(mti);
    return { ok: true, msg: { mti, fields: reader.fields } };
  }

  /** Walks the bitmap; returns true when a structural error stopped the walk. */
  private unpackFields(reader: Reader, bitmapStart: number, bitmapBytes: number): boolean {
    const buf = reader.buf;
    let pos = bitmapStart + bitmapBytes;
    let lastField = 1;
    for (let byteIndex = 0; byteIndex < bitmapBytes; byteIndex++) {
      // Bit 1 announces the secondary bitmap, which bitmapLength already consumed.
      let bits = byteIndex === 0 ? buf[bitmapStart]! & ~SECONDARY_BIT : buf[bitmapStart + byteIndex]!;
      while (bits !== 0) {
        const bit = Math.clz32(bits) - 24;
        bits ^= 0x80 >>> bit;
        const field = byteIndex * 8 + bit + 1;
        const step = this.steps[field];
        if (step === undefined) {
          reader.errors.push(fieldError(field, ISO_ERR.UNDEFINED_FIELD, `bit ${field} is set but the ${this.dialect.name} dialect defines no field ${field}`));
          return true;
        }
        pos = readField(step, reader, pos);
        if (pos < 0) return true;
        lastField = field;
      }
    }
    if (pos !== reader.end) {
      reader.errors.push(fieldError(lastField, ISO_ERR.TRAILING_BYTES, `${reader.end - pos} bytes follow the last field (${lastField})`));
      return true;
    }
    return false;
  }

  /** Encodes a message body (no frame length). Throws IsoPackError naming the field on bad input. */
  pack(msg: IsoMessage): Buffer {
    const mti = msg.mti;
    const mtiStep = this.mtiStep;
    if (typeof mti !== 'string' || mti.length === 0) throw new IsoPackError(ISO_ERR.MISSING_VALUE, 0, 'MTI is missing');
    if (mti.length !== mtiStep.maxLength) {
      throw new IsoPackError(ISO_ERR.BAD_LENGTH, 0, `MTI length ${mti.length}, expected ${mtiStep.maxLength}`);
    }
    const bitmap = this.packBitmap;
    const values = this.packValues;
    bitmap.fill(0);
    let secondary = this.dialect.alwaysSecondaryBitmap;
    let bodyBytes = 0;
    for (const [field, value] of msg.fields) {
      const step = field >= 2 ? this.steps[field] : undefined;
      if (step === undefined) {
        throw new IsoPackError(ISO_ERR.UNDEFINED_FIELD, field, `the ${this.dialect.name} dialect defines no such field`);
      }
      bodyBytes += measureField(step, value);
      values[field] = value;
      bitmap[(field - 1) >>> 3]! |= 0x80 >>> ((field - 1) & 7);
      if (field > 64) secondary = true;
    }
    if (secondary) bitmap[0]! |= SECONDARY_BIT;
    const bitmapBytes = secondary ? FULL_BITMAP_BYTES : PRIMARY_BITMAP_BYTES;
    const out = Buffer.allocUnsafe(mti.length + bitmapBytes + bodyBytes) as Latin1Buffer;
    writeText(mtiStep, mti, out, 0);
    for (let i = 0; i < bitmapBytes; i++) out[mti.length + i] = bitmap[i]!;
    this.writeFields(out, mti.length + bitmapBytes, bitmapBytes);
    return out;
  }

  /** Writes (and clears from the scratch array) every field the scratch bitmap names. */
  private writeFields(out: Latin1Buffer, pos: number, bitmapBytes: number): void {
    const bitmap = this.packBitmap;
    const values = this.packValues;
    for (let byteIndex = 0; byteIndex < bitmapBytes; byteIndex++) {
      let bits = byteIndex === 0 ? bitmap[0]! & ~SECONDARY_BIT : bitmap[byteIndex]!;
      while (bits !== 0) {
        const bit = Math.clz32(bits) - 24;
        bits ^= 0x80 >>> bit;
        const field = byteIndex * 8 + bit + 1;
        pos = writeField(this.steps[field]!, values[field]!, out, pos);
        values[field] = undefined;
      }
    }
  }
}

/** The state of one unpack call. */
class Reader {
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
  readonly fields: IsoFields = new Map();
  readonly errors: FieldError[] = [];
  /** buf[start, end) as latin1, decoded on first use; see text(). */
  private whole: string | undefined = undefined;

  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf;
    this.start = start;
    this.end = end;
  }

  // One native decode of the whole body and cheap substrings of it cost a fifth of one native
  // decode per field. A substring of 13+ characters may share the body's memory, so a field kept
  // for long also keeps its message body (at most one frame, 8 KiB) alive.
  text(from: number, to: number): string {
    if (this.whole === undefined) this.whole = (this.buf as Latin1Buffer).latin1Slice(this.start, this.end);
    return this.whole.slice(from - this.start, to - this.start);
  }

  failure(mti: string | undefined): UnpackResult {
    return { ok: false, errors: this.errors, partial: { mti, fields: this.fields } };
  }
}

/** 8 or 16 when the bitmap is all there, else 0 after recording why. */
function bitmapLength(reader: Reader, bitmapStart: number): number {
  const available = reader.end - bitmapStart;
  const secondary = available > 0 && (reader.buf[bitmapStart]! & SECONDARY_BIT) !== 0;
  const needed = secondary ? FULL_BITMAP_BYTES : PRIMARY_BITMAP_BYTES;
  if (available >= needed) return needed;
  reader.errors.push(fieldError(1, ISO_ERR.TRUNCATED, `bitmap needs ${needed} bytes, ${available} present`));
  return 0;
}

/** Decodes one field at `pos`; returns the position after it, or -1 on a structural error. */
function readField(step: FieldStep, reader: Reader, pos: number): number {
  const buf = reader.buf;
  const end = reader.end;
  let length = step.maxLength;
  const prefixDigits = step.prefixDigits;
  if (prefixDigits > 0) {
    if (end - pos < prefixDigits) {
      reader.errors.push(fieldError(step.field, ISO_ERR.TRUNCATED, `length prefix needs ${prefixDigits} bytes, ${end - pos} present`));
      return -1;
    }
    length = 0;
    for (let i = 0; i < prefixDigits; i++) {
      const digit = buf[pos + i]! - 0x30;
      if (digit < 0 || digit > 9) {
        reader.errors.push(fieldError(step.field, ISO_ERR.BAD_LENGTH_PREFIX, `length prefix byte ${i} is not a digit`));
        return -1;
      }
      length = length * 10 + digit;
    }
    pos += prefixDigits;
    if (length > step.maxLength) {
      reader.errors.push(fieldError(step.field, ISO_ERR.TOO_LONG, `length ${length} exceeds the maximum ${step.maxLength}`));
      return -1;
    }
  }
  const valueEnd = pos + length;
  if (valueEnd > end) {
    reader.errors.push(fieldError(step.field, ISO_ERR.TRUNCATED, `needs ${length} bytes, ${end - pos} present`));
    return -1;
  }
  storeValue(step, reader, pos, valueEnd);
  return valueEnd;
}

/** Checks a field whose extent is known; a bad one is reported and left out of the result. */
function storeValue(step: FieldStep, reader: Reader, pos: number, valueEnd: number): void {
  const length = valueEnd - pos;
  if (length < step.minLength) {
    reader.errors.push(fieldError(step.field, ISO_ERR.BAD_LENGTH, `length ${length} is below the minimum ${step.minLength}`));
  } else if (step.binary) {
    // A copy, so that the caller may reuse its receive buffer once unpack returns.
    const value = Buffer.allocUnsafe(length);
    reader.buf.copy(value, 0, pos, valueEnd);
    reader.fields.set(step.field, value);
  } else {
    const bad = firstBadByte(step.classes, reader.buf, pos, valueEnd);
    if (bad < 0) reader.fields.set(step.field, reader.text(pos, valueEnd));
    else reader.errors.push(fieldError(step.field, ISO_ERR.BAD_CHARSET, `byte ${bad} is not allowed in an '${step.encoding}' field`));
  }
}

/**
 * Validates type and length of one value for pack and returns how many bytes it will occupy.
 * The characters are checked while they are written (writeText), which saves a second pass.
 */
function measureField(step: FieldStep, value: string | Buffer | undefined): number {
  if (value === undefined || value === null || value.length === 0) {
    throw new IsoPackError(ISO_ERR.MISSING_VALUE, step.field, 'value is empty');
  }
  if (step.binary ? !Buffer.isBuffer(value) : typeof value !== 'string') {
    throw new IsoPackError(ISO_ERR.BAD_TYPE, step.field, step.binary ? 'binary field needs a Buffer' : 'text field needs a string');
  }
  const length = value.length;
  if (length > step.maxLength) {
    throw new IsoPackError(ISO_ERR.TOO_LONG, step.field, `length ${length} exceeds the maximum ${step.maxLength}`);
  }
  if (length < step.minLength && (step.prefixDigits > 0 || step.padByte === 0)) {
    throw new IsoPackError(ISO_ERR.BAD_LENGTH, step.field, `length ${length}, expected ${step.prefixDigits > 0 ? 'at least ' : ''}${step.minLength}`);
  }
  return step.prefixDigits > 0 ? step.prefixDigits + length : step.maxLength;
}

/** Writes one value measured by measureField; returns the position after the field. */
function writeField(step: FieldStep, value: string | Buffer, out: Latin1Buffer, pos: number): number {
  const length = value.length;
  const prefixDigits = step.prefixDigits;
  let valueAt = pos;
  let fieldEnd: number;
  if (prefixDigits > 0) {
    let remaining = length;
    for (let i = prefixDigits - 1; i >= 0; i--) {
      out[pos + i] = 0x30 + (remaining % 10);
      remaining = (remaining / 10) | 0;
    }
    valueAt = pos + prefixDigits;
    fieldEnd = valueAt + length;
  } else {
    fieldEnd = pos + step.maxLength;
    const padBytes = step.maxLength - length;
    if (padBytes > 0 && step.padLeft) {
      out.fill(step.padByte, pos, pos + padBytes);
      valueAt = pos + padBytes;
    } else if (padBytes > 0) {
      out.fill(step.padByte, pos + length, fieldEnd);
    }
  }
  if (step.binary) (value as Buffer).copy(out, valueAt);
  else writeText(step, value as string, out, valueAt);
  return fieldEnd;
}

/** Writes a text value, throwing on the first character its encoding does not allow. */
function writeText(step: FieldStep, text: string, out: Latin1Buffer, pos: number): void {
  const length = text.length;
  if (length >= NATIVE_WRITE_MIN_LENGTH) {
    const bad = firstBadChar(step.classes, text);
    if (bad >= 0) throw badCharacter(step, bad);
    out.latin1Write(text, pos, length);
    return;
  }
  const first = text.charCodeAt(0);
  if (first > 0xff || step.classes.first[first] === 0) throw badCharacter(step, 0);
  out[pos] = first;
  const rest = step.classes.rest;
  for (let i = 1; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff || rest[code] === 0) throw badCharacter(step, i);
    out[pos + i] = code;
  }
}

function badCharacter(step: FieldStep, index: number): IsoPackError {
  return new IsoPackError(ISO_ERR.BAD_CHARSET, step.field, `character ${index} is not allowed in an '${step.encoding}' field`);
}

// Most fields are a few to a few dozen characters, where a JS loop beats a native call; long
// ones (LLLVAR up to 999) go to the native writer.
const NATIVE_WRITE_MIN_LENGTH = 64;

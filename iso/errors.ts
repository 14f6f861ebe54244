// Error codes of the ISO 8583 codec (rows of errors/table.ts, documented in docs/errors.md).
//
// A structural error means the extent of the rest of the message is unknown, so unpacking stops
// there. A content error means one field is bad but its extent is known, so unpacking goes on and
// the other fields still reach `partial` (the switch echoes them in its format-error answer).
// Reasons name lengths and offsets, never the bytes themselves: they end up in logs, and a field
// may be a PAN or track data.

import { AppError, type ErrorCode } from '../errors/index.js';

/** Short names of the codec's codes; each is documented in errors/table.ts (structural or content, and when). */
export const ISO_ERR = {
  TRUNCATED: 'ISO_ERR_TRUNCATED',
  BAD_LENGTH_PREFIX: 'ISO_ERR_BAD_LENGTH_PREFIX',
  TOO_LONG: 'ISO_ERR_TOO_LONG',
  UNDEFINED_FIELD: 'ISO_ERR_UNDEFINED_FIELD',
  TRAILING_BYTES: 'ISO_ERR_TRAILING_BYTES',
  BAD_CHARSET: 'ISO_ERR_BAD_CHARSET',
  BAD_LENGTH: 'ISO_ERR_BAD_LENGTH',
  MISSING_VALUE: 'ISO_ERR_MISSING_VALUE',
  BAD_TYPE: 'ISO_ERR_BAD_TYPE',
} as const satisfies Record<string, Extract<ErrorCode, `ISO_ERR_${string}`>>;

export type IsoErrorCode = (typeof ISO_ERR)[keyof typeof ISO_ERR];

/** One problem found while unpacking; `reason` is safe to log (it never quotes content). */
export interface FieldError {
  readonly field: number;
  readonly code: IsoErrorCode;
  readonly reason: string;
}

/** Thrown by IsoCodec.pack: a programmer error in the code that built the message. Names the field, never its value. */
export class IsoPackError extends AppError<IsoErrorCode> {
  readonly field: number;

  constructor(code: IsoErrorCode, field: number, reason: string) {
    super(code, `${code}: field ${field}: ${reason}`);
    this.field = field;
  }
}

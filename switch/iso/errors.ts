// Error codes of the ISO 8583 codec, documented once here and in docs/wire-format.md.
//
// A structural error means the extent of the rest of the message is unknown, so unpacking stops
// there. A content error means one field is bad but its extent is known, so unpacking goes on and
// the other fields still reach `partial` (the switch echoes them in its format-error answer).
// Reasons name lengths and offsets, never the bytes themselves: they end up in logs, and a field
// may be a PAN or track data.

export const ISO_ERR = {
  /** Structural: the message ends inside this field (or inside the MTI or bitmap). */
  TRUNCATED: 'ISO_ERR_TRUNCATED',
  /** Structural: a variable field's length prefix is not all ASCII digits. */
  BAD_LENGTH_PREFIX: 'ISO_ERR_BAD_LENGTH_PREFIX',
  /** Structural on unpack (the prefix exceeds the field's maximum); pack: the value is too long. */
  TOO_LONG: 'ISO_ERR_TOO_LONG',
  /** Structural: the bitmap names a field the dialect does not define; pack: same for a key. */
  UNDEFINED_FIELD: 'ISO_ERR_UNDEFINED_FIELD',
  /** Structural: bytes remain after the last field the bitmap names. */
  TRAILING_BYTES: 'ISO_ERR_TRAILING_BYTES',
  /** Content: a byte the field's encoding does not allow (non-digit in `n`, non-ASCII...). */
  BAD_CHARSET: 'ISO_ERR_BAD_CHARSET',
  /** Content: shorter than the field's minimum; pack: a fixed field of the wrong length. */
  BAD_LENGTH: 'ISO_ERR_BAD_LENGTH',
  /** Pack only: the MTI or a field is present but empty. */
  MISSING_VALUE: 'ISO_ERR_MISSING_VALUE',
  /** Pack only: a string for a binary field or a Buffer for a text field. */
  BAD_TYPE: 'ISO_ERR_BAD_TYPE',
} as const;

export type IsoErrorCode = (typeof ISO_ERR)[keyof typeof ISO_ERR];

/** One problem found while unpacking; `reason` is safe to log (it never quotes content). */
export interface FieldError {
  readonly field: number;
  readonly code: IsoErrorCode;
  readonly reason: string;
}

/** Thrown by IsoCodec.pack: a programmer error in the code that built the message. */
export class IsoPackError extends Error {
  readonly code: IsoErrorCode;
  readonly field: number;

  constructor(code: IsoErrorCode, field: number, reason: string) {
    super(`${code}: field ${field}: ${reason}`);
    this.name = 'IsoPackError';
    this.code = code;
    this.field = field;
  }
}

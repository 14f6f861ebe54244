// The ISO 8583 codec's public surface: dialect tables, the codec, its error codes, PAN masking.
export { IsoCodec, type IsoFields, type IsoMessage, type PartialMessage, type UnpackResult } from './codec.js';
export { ISO_ERR, IsoPackError, type FieldError, type IsoErrorCode } from './errors.js';
export {
  DIALECT_1987, DIALECT_2003, MAX_FIELD, dialectByName, parseDialectName,
  type DialectName, type Encoding, type FieldSpec, type IsoDialect, type LengthType, type Padding, type Sensitivity,
} from './dialect.js';
export { loggableFields, maskPan, maskPansIn } from './mask.js';

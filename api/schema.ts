// Request bodies and parameters are described once, as JSON Schema (2020-12, as OpenAPI 3.1
// reads it), for both the OpenAPI document and validation. Ajv compiles each schema once, when
// the router is built at start-up; a request only runs the compiled function. A failure becomes
// one message naming the first field at fault (`birthDate must be a real date ...`), the detail
// of a 400 VALIDATION_ERROR problem.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';

export interface Schema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null' | Array<'object' | 'string' | 'integer' | 'number' | 'array' | 'null' | 'boolean'>;
  description?: string;
  properties?: Record<string, Schema>;
  required?: readonly string[];
  /** An object must set at least this many of its properties (an update that changes something). */
  minProperties?: number;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  enum?: readonly (string | number)[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  format?: 'date' | 'email' | 'date-time' | 'uuid';
  /** ajv-formats: the earliest value a `format: date` string may take (`1900-01-01`). */
  formatMinimum?: string;
  /** A `format: date` string must not be after today (UTC); an extension keyword of this API. */
  'x-not-future'?: boolean;
  /**
   * An amount of money (an annotation of this API): a value above its `maximum` is refused with
   * 400 AMOUNT_TOO_LARGE instead of VALIDATION_ERROR, the detail naming that maximum.
   */
  'x-amount'?: boolean;
  example?: unknown;
  $ref?: string;
  oneOf?: Schema[];
}

/** Why a value is refused: the problem title, and one message naming the first field at fault. */
export interface Invalid { code: 'VALIDATION_ERROR' | 'AMOUNT_TOO_LARGE'; detail: string }

/** Returns null when `value` is valid. */
export type Validator = (value: unknown) => Invalid | null;

const NOT_FUTURE = 'x-not-future';
const DATE_MESSAGE = 'must be a real date YYYY-MM-DD, not in the future';

/** The one Ajv instance of the process: formats, the `example` annotation and the API's own keyword. */
function createAjv(): Ajv2020 {
  // verbose: an error carries its schema and data, from which the message below is written.
  const ajv = new Ajv2020({ allErrors: false, verbose: true, allowUnionTypes: true, strictTypes: true, strictTuples: true });
  (ajvFormats as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addVocabulary(['example', 'x-amount']);
  ajv.addKeyword({
    keyword: NOT_FUTURE, type: 'string', schemaType: 'boolean',
    // Today is read per call, so a process that runs for weeks does not keep its start day.
    validate: (on: boolean, data: string) => !on || data <= new Date().toISOString().slice(0, 10),
  });
  return ajv;
}

let shared: Ajv2020 | null = null;

/**
 * Compiles `schema` into a validator. `at` names the value in messages: a query or path
 * parameter's name, or '' for a request body ('body', and its fields by their own names).
 * Integers are also held to the safe range of a JavaScript number, which a JSON number past
 * 2^53 would leave silently.
 */
export function compile(schema: Schema, at = ''): Validator {
  shared ??= createAjv();
  const checked = withSafeIntegers(schema);
  const validate = shared.compile(checked);
  return (value) => {
    if (validate(value)) return null;
    const e = firstError(validate);
    const tooLarge = e.keyword === 'maximum' && (e.parentSchema as Schema | undefined)?.['x-amount'] === true;
    return { code: tooLarge ? 'AMOUNT_TOO_LARGE' : 'VALIDATION_ERROR', detail: describe(e, at, checked) };
  };
}

function firstError(v: ValidateFunction): ErrorObject {
  const e = v.errors?.[0];
  if (e === undefined) throw new Error('ajv reported failure without an error');
  return e;
}

function withSafeIntegers(s: Schema): Schema {
  const out: Schema = { ...s };
  if (s.type === 'integer') {
    out.minimum ??= Number.MIN_SAFE_INTEGER;
    out.maximum ??= Number.MAX_SAFE_INTEGER;
  }
  if (s.properties !== undefined) out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, p]) => [k, withSafeIntegers(p)]));
  if (s.items !== undefined) out.items = withSafeIntegers(s.items);
  if (typeof s.additionalProperties === 'object') out.additionalProperties = withSafeIntegers(s.additionalProperties);
  if (s.oneOf !== undefined) out.oneOf = s.oneOf.map(withSafeIntegers);
  return out;
}

/** `/deliveryAddress/city` under a body → `deliveryAddress.city`; the root is `body` or the parameter. */
function nameOf(instancePath: string, at: string, child?: string): string {
  const parts = instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (child !== undefined) parts.push(child);
  if (at !== '') parts.unshift(at);
  return parts.length === 0 ? 'body' : parts.join('.');
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false', object: 'a JSON object', array: 'an array', null: 'null',
};

/** The message for Ajv's first error, in the words the API has always used. */
function describe(e: ErrorObject, at: string, root: Schema): string {
  const name = nameOf(e.instancePath, at);
  const parent = (e.parentSchema ?? {}) as Schema;
  switch (e.keyword) {
    case 'required': return `${nameOf(e.instancePath, at, String(e.params.missingProperty))} is required`;
    case 'additionalProperties': return `${nameOf(e.instancePath, at, String(e.params.additionalProperty))} is not a known field`;
    case 'minProperties': return `${name} must set at least ${String(e.params.limit)} of ${Object.keys(parent.properties ?? {}).join(', ')}`;
    case 'type': {
      // A required field sent as null is as missing as one left out.
      if (e.data === null && isRequiredHere(e, root)) return `${name} is required`;
      const types = String(e.params.type).split(',');
      return `${name} must be ${types.map((t) => TYPE_WORDS[t] ?? t).join(' or ')}`;
    }
    case 'enum': return `${name} must be one of ${(e.schema as unknown[]).join(', ')}`;
    case 'minLength': case 'maxLength': return `${name} must be ${parent.minLength ?? 0}..${parent.maxLength ?? Infinity} characters long`;
    case 'pattern': return `${name} must match ${String(e.params.pattern)}`;
    case 'minimum': case 'maximum': {
      const unit = parent['x-amount'] === true ? ' minor units' : '';
      if (e.keyword === 'maximum' && unit !== '') return `${name} must be at most ${parent.maximum}${unit}, got ${String(e.data)}`;
      return `${name} must be between ${parent.minimum} and ${parent.maximum}${unit}`;
    }
    case 'formatMinimum': case NOT_FUTURE: return `${name} ${DATE_MESSAGE}`;
    case 'format': return `${name} ${formatMessage(String(e.params.format))}`;
    case 'oneOf': return `${name} must match exactly one of its allowed shapes`;
    default: return `${name} ${e.message ?? 'is not valid'}`;
  }
}

function formatMessage(format: string): string {
  if (format === 'date') return DATE_MESSAGE;
  if (format === 'email') return 'must be an e-mail address';
  return `must be a ${format}`;
}

/**
 * Whether the field of a type error is listed in its object's `required`. The error's schemaPath
 * ends `.../properties/<field>/type`; the object's schema is where that path leaves off.
 */
function isRequiredHere(e: ErrorObject, root: Schema): boolean {
  const path = e.schemaPath.split('/');
  const field = path.at(-2);
  if (path.length < 4 || path.at(-3) !== 'properties' || field === undefined) return false;
  let node: unknown = root;
  for (const step of path.slice(1, -3)) node = (node as Record<string, unknown> | undefined)?.[step.replace(/~1/g, '/').replace(/~0/g, '~')];
  const required = (node as Schema | undefined)?.required;
  return Array.isArray(required) && required.includes(field);
}

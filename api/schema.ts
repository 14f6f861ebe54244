// Request bodies and query parameters are described once, as JSON Schema, for both the OpenAPI
// document and validation. The validator knows the subset the API uses (type, properties,
// required, minProperties, additionalProperties, enum, pattern, minLength/maxLength, minimum/maximum, format
// date and email) and is compiled once per route at start-up. An error names the field.

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
  example?: unknown;
  $ref?: string;
  oneOf?: Schema[];
}

/** Returns null when `value` is valid, else one message naming the first field at fault. */
export type Validator = (value: unknown) => string | null;

const EMAIL = /^[^\s@"<>]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,}$/;

export function compile(schema: Schema, at = ''): Validator {
  const name = at === '' ? 'body' : at;
  const t = schema.type;
  if (t === 'object') return compileObject(schema, at);
  if (t === 'string') {
    const re = schema.pattern === undefined ? null : new RegExp(schema.pattern);
    const allowed = schema.enum;
    const min = schema.minLength ?? 0;
    const max = schema.maxLength ?? Infinity;
    const format = schema.format;
    return (v) => {
      if (typeof v !== 'string') return `${name} must be a string`;
      if (allowed !== undefined && !allowed.includes(v)) return `${name} must be one of ${allowed.join(', ')}`;
      if (v.length < min || v.length > max) return `${name} must be ${min}..${max} characters long`;
      if (re !== null && !re.test(v)) return `${name} must match ${schema.pattern}`;
      if (format === 'date' && !isPastOrTodayDate(v)) return `${name} must be a real date YYYY-MM-DD, not in the future`;
      if (format === 'email' && !EMAIL.test(v)) return `${name} must be an e-mail address`;
      return null;
    };
  }
  if (t === 'integer') {
    const allowed = schema.enum;
    const min = schema.minimum ?? Number.MIN_SAFE_INTEGER;
    const max = schema.maximum ?? Number.MAX_SAFE_INTEGER;
    return (v) => {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return `${name} must be an integer`;
      if (allowed !== undefined && !allowed.includes(v)) return `${name} must be one of ${allowed.join(', ')}`;
      if (v < min || v > max) return `${name} must be between ${min} and ${max}`;
      return null;
    };
  }
  if (t === 'boolean') return (v) => (typeof v === 'boolean' ? null : `${name} must be true or false`);
  throw new Error(`schema at ${name}: type ${JSON.stringify(t)} is not supported for validation`);
}

function compileObject(schema: Schema, at: string): Validator {
  const name = at === '' ? 'body' : at;
  const props = Object.entries(schema.properties ?? {}).map(([k, s]) => [k, compile(s, at === '' ? k : `${at}.${k}`)] as const);
  const known = new Set(Object.keys(schema.properties ?? {}));
  const required = schema.required ?? [];
  const closed = schema.additionalProperties === false;
  const minProperties = schema.minProperties ?? 0;
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return `${name} must be a JSON object`;
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length < minProperties) return `${name} must set at least ${minProperties} of ${[...known].join(', ')}`;
    for (const k of required) if (o[k] === undefined || o[k] === null) return `${at === '' ? k : `${at}.${k}`} is required`;
    if (closed) for (const k of Object.keys(o)) if (!known.has(k)) return `${at === '' ? k : `${at}.${k}`} is not a known field`;
    for (const [k, check] of props) {
      if (o[k] === undefined) continue;
      const e = check(o[k]);
      if (e !== null) return e;
    }
    return null;
  };
}

function isPastOrTodayDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m === null) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = Date.UTC(y, mo - 1, d);
  const back = new Date(t);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return false;
  return y >= 1900 && t <= Date.now();
}

// A Postman collection (format v2.1) made from the OpenAPI document: one folder per tag, one request
// per operation, `{{baseUrl}}` and `{{apiKey}}` as collection variables, each path parameter a
// variable of its own, and a JSON body made from the request schema (its required fields, with
// values a first call can use). `npm run docs:api` writes it to docs/antaca.postman_collection.json;
// test/openapi-file.test.ts fails when that file is stale.
import type { Schema } from './schema.js';

interface Param { name: string; in: string; required: boolean; description: string; schema: Schema }
interface Op {
  operationId: string; summary: string; description?: string; tags: string[];
  parameters?: Param[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  security?: Array<Record<string, string[]>>;
}
interface Doc { info: { title: string; description: string; version: string }; servers?: Array<{ url: string }>; tags?: Array<{ name: string }>; paths: Record<string, Record<string, Op>> }

/** Values for fields whose name says what they are (the demo program, a currency, ids from earlier calls). */
const BY_NAME: Readonly<Record<string, unknown>> = {
  configId: '0019167984', currency: 'EUR', firstName: 'Ada', lastName: 'Lovelace', phone: '+48500100200', email: 'ada@example.com',
  birthDate: '1990-12-10', state: 'Mazowieckie', kyc: 'SUCCESS', balanceId: '{{balanceId}}', cardId: '{{cardId}}',
  transactionId: '{{transactionId}}', amount: 1000, description: 'first top-up', reason: 'FRAUD_SUSPECTED', type: 'TOPUP',
};

/** A sample value of a schema: a known name, else the first enum value, else one of the type. */
function sample(name: string, s: Schema): unknown {
  if (s.enum !== undefined && s.enum.length > 0) {
    const known = BY_NAME[name];
    return s.enum.includes(known as never) ? known : s.enum[0];
  }
  if (BY_NAME[name] !== undefined) return BY_NAME[name];
  const type = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (type === 'object') return body(s);
  if (type === 'integer' || type === 'number') return Math.max(1, Number(s.minimum ?? 1));
  if (type === 'boolean') return false;
  if (type === 'array') return [];
  return name;
}

/** The required fields of an object schema with sample values (every field when none is required). */
function body(s: Schema): Record<string, unknown> {
  const props = s.properties ?? {};
  const names = s.required !== undefined && s.required.length > 0 ? s.required : Object.keys(props);
  return Object.fromEntries(names.map((n) => [n, sample(n, props[n] ?? {})]));
}

function request(path: string, method: string, op: Op): Record<string, unknown> {
  const segments = path.split('/').slice(1).map((seg) => seg.replace(/^\{(.+)\}$/, '{{$1}}'));
  const query = (op.parameters ?? []).filter((p) => p.in === 'query')
    .map((p) => ({ key: p.name, value: '', description: p.description, disabled: true }));
  const header = (op.parameters ?? []).filter((p) => p.in === 'header').map((p) => ({
    key: p.name, value: p.name.toLowerCase() === 'encrypt-response' ? 'true' : `{{${p.name.replace(/[^A-Za-z0-9]/g, '')}}}`,
    description: p.description, disabled: p.name.toLowerCase() === 'x-idempotency-key',
  }));
  const schema = op.requestBody?.content['application/json']?.schema;
  const r: Record<string, unknown> = {
    method: method.toUpperCase(),
    header: schema === undefined ? header : [{ key: 'Content-Type', value: 'application/json' }, ...header],
    url: { raw: `{{baseUrl}}/${segments.join('/')}`, host: ['{{baseUrl}}'], path: segments, ...(query.length > 0 ? { query } : {}) },
  };
  if (schema !== undefined) r.body = { mode: 'raw', raw: JSON.stringify(body(schema), null, 2), options: { raw: { language: 'json' } } };
  // Open paths send no key (the collection's bearer auth is inherited by the rest).
  if (op.security === undefined || !op.security.some((s) => 'apiKey' in s)) r.auth = { type: 'noauth' };
  if (op.description !== undefined) r.description = op.description;
  return r;
}

/** The collection of an OpenAPI document (api/openapi.ts), as a JSON value. */
export function renderPostmanCollection(doc: Doc): Record<string, unknown> {
  const ops: Array<{ path: string; method: string; op: Op }> = [];
  for (const [path, methods] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(methods)) ops.push({ path, method, op });
  const pathParams = [...new Set(ops.flatMap((o) => (o.op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name)))].sort();
  const headerVars = [...new Set(ops.flatMap((o) => (o.op.parameters ?? []).filter((p) => p.in === 'header' && p.name.toLowerCase() !== 'encrypt-response').map((p) => p.name.replace(/[^A-Za-z0-9]/g, ''))))].sort();
  return {
    info: {
      name: doc.info.title,
      description: `${doc.info.description}\n\nMade from docs/openapi.json (API version ${doc.info.version}) by npm run docs:api. `
        + 'Set baseUrl, and apiKey when the switch has API keys; ids returned by one call (customerId, balanceId, cardId, ...) go in the variables of the same name.',
      schema: 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json',
    },
    auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{apiKey}}', type: 'string' }] },
    variable: [
      { key: 'baseUrl', value: doc.servers?.[0]?.url ?? 'http://127.0.0.1:8080' },
      { key: 'apiKey', value: '' },
      ...pathParams.map((key) => ({ key, value: '' })),
      ...headerVars.map((key) => ({ key, value: '' })),
    ],
    item: (doc.tags ?? []).map((t) => ({
      name: t.name,
      item: ops.filter((o) => o.op.tags[0] === t.name).map((o) => ({ name: `${o.method.toUpperCase()} ${o.path} — ${o.op.summary}`, request: request(o.path, o.method, o.op) })),
    })),
  };
}

// The OpenAPI 3.1 document, built from the route table itself: what is routed is what is
// documented (test/api-http.test.ts checks both directions against the running router). It is the
// same document in every configuration (the sandbox routes and both ways of authenticating are
// always in it), so the copy in the repository, docs/openapi.json (`npm run docs:api`), is
// what every switch serves at /openapi.json (test/openapi-file.test.ts).
import { needsClientCertificate, type Route, type RouteParam } from './router.js';
import type { Schema } from './schema.js';
import { scopeOf } from './auth.js';

export const API_VERSION = '1.0.0';

/** docs/openapi.json's text: the document, two-space indented, one trailing newline. */
export function openApiFileText(doc: unknown): string {
  return JSON.stringify(doc, null, 2) + '\n';
}

export function openApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Antaca switch management API', version: API_VERSION,
      description: 'Wallets, balances, partner balances, cards and transactions of the Antaca card-issuing switch. '
        + 'Errors are application/problem+json `{"title": CODE, "detail": text}`. '
        + 'Authentication: on a loopback address the API may run without any; with API_KEYS_FILE every call but /health, /openapi.json '
        + 'and the dashboard\'s page needs `Authorization: Bearer <key>` (a read key for GET, a write key for the rest: 401 UNAUTHORIZED, '
        + '403 FORBIDDEN); with HTTP_TLS_* configured, /secure, /lifecycle, /sandbox, /feed and /dashboard need a client certificate '
        + 'issued by the configured CA. A switch on any other address refuses to start without one of the two.',
    },
    servers: [{ url: 'http://127.0.0.1:8080', description: 'npm start on its defaults' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: {
        Problem: { type: 'object', required: ['title', 'detail'], properties: { title: { type: 'string', description: 'stable error code' }, detail: { type: 'string' } } },
      },
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key of API_KEYS_FILE, when the switch is configured with one: read scope for GET, write scope for the rest' },
        clientCertificate: { type: 'mutualTLS', description: 'Required on /secure, /lifecycle, /sandbox, /feed and /dashboard when HTTP_TLS_* is configured' },
      },
    },
  };
}

function operation(r: Route): Record<string, unknown> {
  const parameters = [
    ...params(r.params, 'path', true),
    ...params(r.query, 'query', false),
    ...params(r.headers, 'header', false),
  ];
  const op: Record<string, unknown> = { operationId: r.operationId, summary: r.summary, tags: [r.tag] };
  if (r.description !== undefined) op.description = r.description;
  if (parameters.length > 0) op.parameters = parameters;
  if (r.body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: r.body } } };
  const responses: Record<string, unknown> = {};
  for (const [status, resp] of Object.entries(r.responses)) {
    const description = resp.problems === undefined ? resp.description : `${resp.description}. Titles: ${resp.problems.join(', ')}`;
    const out: Record<string, unknown> = { description };
    if (resp.schema !== undefined) out.content = { [resp.problems !== undefined ? 'application/problem+json' : 'application/json']: { schema: resp.schema } };
    else if (resp.contentType !== undefined) out.content = { [resp.contentType]: { schema: { type: 'string' } } };
    responses[status] = out;
  }
  const scope = scopeOf(r.method, r.path, false);
  if (scope !== null) addKeyAnswers(responses, scope);
  // Integer-like keys keep ascending order in a JS object, so the added statuses fall in place.
  op.responses = responses;
  const security: Array<Record<string, string[]>> = [{}];
  if (scope !== null) security.push({ apiKey: [] });
  if (needsClientCertificate(r.path)) security.push({ clientCertificate: [] });
  if (security.length > 1) op.security = security;
  return op;
}

/** The 401 of every call that needs a key, and the 403 of a read key on a call that needs write (merged with a route's own 403). */
function addKeyAnswers(responses: Record<string, unknown>, scope: 'read' | 'write'): void {
  const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
  responses['401'] = { description: 'API keys are configured and the request has none, or an unknown one. Titles: UNAUTHORIZED', content: problem };
  if (scope !== 'write') return;
  const own = responses['403'] as { description: string } | undefined;
  const readKey = 'a read API key on a call that needs a write key';
  responses['403'] = own === undefined
    ? { description: 'A read API key on a call that needs a write key. Titles: FORBIDDEN', content: problem }
    : { ...own, description: own.description.replace(/\. Titles: /, `; or ${readKey}. Titles: `) + ', FORBIDDEN' };
}

function params(ps: Record<string, RouteParam> | undefined, where: 'path' | 'query' | 'header', required: boolean): unknown[] {
  return Object.entries(ps ?? {}).map(([name, p]) => ({
    name, in: where, required: required || p.required === true, description: p.description, schema: p.schema as Schema,
  }));
}

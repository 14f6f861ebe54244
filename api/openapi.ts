// The OpenAPI 3.1 document, built from the route table itself: what is routed is what is
// documented (test/api-openapi.test.ts checks both directions against the running router).
import { needsClientCertificate, type Route, type RouteParam } from './router.js';
import type { Schema } from './schema.js';

export const API_VERSION = '1.0.0';

export function openApiDocument(routes: readonly Route[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method.toLowerCase()] = operation(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Antaca switch management API', version: API_VERSION,
      description: 'Wallets, balances, partner balances, cards and transactions of the Antaca card-issuing switch (SPEC §6). '
        + 'Errors are application/problem+json `{"title": CODE, "detail": text}`. With TLS configured, /secure, /lifecycle, /feed and /dashboard '
        + 'need a client certificate issued by the configured CA.',
    },
    servers: [{ url: 'http://127.0.0.1:8080' }],
    tags: [...new Set(routes.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas: {
        Problem: { type: 'object', required: ['title', 'detail'], properties: { title: { type: 'string', description: 'stable error code' }, detail: { type: 'string' } } },
      },
      securitySchemes: { clientCertificate: { type: 'mutualTLS', description: 'Required on /secure, /lifecycle, /feed and /dashboard when HTTP_TLS_* is configured' } },
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
  op.responses = responses;
  if (needsClientCertificate(r.path)) op.security = [{}, { clientCertificate: [] }];
  return op;
}

function params(ps: Record<string, RouteParam> | undefined, where: 'path' | 'query' | 'header', required: boolean): unknown[] {
  return Object.entries(ps ?? {}).map(([name, p]) => ({
    name, in: where, required: required || p.required === true, description: p.description, schema: p.schema as Schema,
  }));
}

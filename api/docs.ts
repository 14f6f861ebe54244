// docs/api.md is generated from the OpenAPI document (npm run docs:api); test/api-docs.test.ts
// fails when the committed file differs from what this renders.
import type { Schema } from './schema.js';

interface Op {
  operationId: string; summary: string; description?: string; tags: string[];
  parameters?: { name: string; in: string; required: boolean; description: string; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
}

const INTRO = `# Management API

Generated from the OpenAPI document (\`GET /openapi.json\`, built from the route table in
\`api/routes/\`) by \`npm run docs:api\`; a test fails when this file is stale. Do not edit by hand:
change the routes and regenerate.

## Conventions

- **Servers.** One HTTP interface (\`api/http.ts\`) carried by uWebSockets.js or node:http, chosen by
  \`HTTP_SERVER\` (\`auto\`: uWS when its binary loads — Node 16-20 — else node:http with one info log
  line). Both answer identically; every API test runs against both. Listens on \`HTTP_HOST:HTTP_PORT\`
  (default \`127.0.0.1:8080\`). The OpenAPI document is served at \`/openapi.json\` and kept in the
  repository as [openapi.json](openapi.json) (the same document: a test compares them), with a Postman
  collection made from it, [antaca.postman_collection.json](antaca.postman_collection.json)
  (\`npm run docs:api\` writes both, and this page). A first session, call by call: [quickstart.md](quickstart.md).
- **Authentication** (secure by default). On a loopback address (\`127.0.0.1\`, \`::1\`, \`localhost\`)
  the API may run without any, for development. On any other address the switch refuses to start
  (one line, exit 1, \`SW_ERR_API_UNPROTECTED\`) unless it requires API keys, client certificates, or
  both:
  - **API keys**: \`API_KEYS_FILE\` names a JSON file of named keys, each with the scope \`read\` or
    \`write\`: \`{"keys": [{"name": "backend", "scope": "write", "sha256": "<hex SHA-256 of the key>"},
    {"name": "grafana", "scope": "read", "key": "<the key itself>"}]}\` (a bare array works too). A key
    is 16-256 visible ASCII characters without spaces or commas; \`npm run api-key -- <name> <read|write>\`
    makes one (\`antaca_\` and 32 random bytes, base64url) and prints it once with its entry. Give a
    key by its \`sha256\` and the file holds nothing a caller could use; a file with plain keys that
    other users may read gets a warning at start-up. The switch keeps only the hashes, compares in
    constant time, and never logs a key. Send \`Authorization: Bearer <key>\`. A missing or unknown
    key answers 401 \`UNAUTHORIZED\` (with \`WWW-Authenticate: Bearer\`); a \`read\` key on a call
    that changes something answers 403 \`FORBIDDEN\`. Every \`GET\` needs \`read\` (\`/metrics\`,
    \`/dashboard/stats.json\` and the \`/feed\` WebSocket included); \`POST\`, \`PUT\` and \`DELETE\`
    need \`write\` (the sandbox included). Open to anyone: \`/health\` (probes and load balancers;
    it says up or down, nothing more), \`/openapi.json\` (no data) and the dashboard's page and
    scripts (no data; the page asks for a read key and sends it with its own reads). On \`/feed\` a
    browser, which cannot set headers on a WebSocket, offers the key as the subprotocol
    \`antaca.bearer.<key>\` beside \`antaca.feed\`. The file is read at start-up: restart to add or
    revoke a key. Keys work on loopback too when the file is given.
  - **Client certificates**: with \`HTTP_TLS_CERT\`, \`HTTP_TLS_KEY\` and \`HTTP_TLS_CA\` set the
    server speaks HTTPS (on node:https: uWS's SSLApp cannot require a client certificate nor tell the
    handler whether one was verified) and every path under \`/secure/\`, \`/lifecycle/\`, \`/sandbox/\`,
    \`/feed\` and \`/dashboard\` needs a client certificate issued by that CA: without one the answer
    is 403 \`CLIENT_CERTIFICATE_REQUIRED\`. \`/health\`, \`/metrics\` and \`/openapi.json\` stay open
    for probes unless API keys are configured too, in which case both rules apply.
- **Errors** are \`application/problem+json\`: \`{"title": "CODE", "detail": "text"}\`. The detail
  names the field or id at fault, never a PAN or CVV. Common ones: 400 \`VALIDATION_ERROR\` (a field
  outside the JSON Schema this document shows, checked by Ajv; unknown fields are refused too),
  400 \`MALFORMED_JSON\`, 404 \`NOT_FOUND\` (no route), 405 \`METHOD_NOT_ALLOWED\` (with \`Allow\`),
  413 \`PAYLOAD_TOO_LARGE\` (body over 64 KiB), 415 \`UNSUPPORTED_MEDIA_TYPE\`, 500 \`INTERNAL_ERROR\`.
- **Money** is an integer in minor units; currencies are ISO 4217 alphabetic codes.
- **Idempotency.** Every POST that moves money (internal transactions, partner balance reload) and
  balance creation honour \`X-Idempotency-Key\`: a replay within 8 days answers the first answer byte
  for byte (with \`Idempotent-Replayed: true\`) and moves nothing; the same key on another request is
  409 \`IDEMPOTENCY_KEY_REUSED\`. 5xx answers are not kept, so a retry with the same key is safe.
- **Sensitive card data** (PAN, CVV2) only leaves as JWE (seed "Configuration & JWE Security"):
  send \`Encrypt-Response: true\` and \`Public-Key: <base64 of your PEM SPKI RSA public key>\` and the
  answer is \`{"payload": "<compact JWE>"}\`, \`alg\` RSA-OAEP-256, \`enc\` A256GCM, whose plaintext is
  \`{"id","lastFourDigits","exp","status","cardNo","cvv"}\`. Without the headers card creation
  answers without PAN and CVV and the full-data GET answers 400 \`ENCRYPTION_REQUIRED\`; a key that
  is not an RSA SPKI key of 2048-8192 bits answers 400 \`INVALID_PUBLIC_KEY\` (checked before a card
  is issued).
- **Encrypted requests** (set PIN): fetch the switch's key (\`GET /secure/encryption-key\`, PEM SPKI
  RSA with its \`kid\`), encrypt the body as a compact JWE (\`alg\` RSA-OAEP-256 or RSA-OAEP, \`enc\`
  A256GCM) and send \`{"payload": "<JWE>"}\` with \`Encrypted-Request: true\`. Without the header:
  400 \`ENCRYPTION_REQUIRED\`; not a JWE, or a plaintext that is not the call's body: 400
  \`INVALID_PAYLOAD\`; not decryptable with the switch's key or with another algorithm: 400
  \`CANT_DECRYPT_PAYLOAD\`. Errors stay in clear. Every other request body is plain JSON.
- **Card status** is \`ACTIVE\`, \`INACTIVE\` (a physical card until activated) or \`LOCKED\` (any lock
  code; the balance view gives the code as \`lockReason\`). \`exp\` is the last day of the expiry
  month, \`YYYY-MM-DD\`. Locks, unlocks, activation and customer transactional locks take effect on
  the very next authorization (the switch reads the card record from Redis for every message).
- **Balances in EXTERNAL_BALANCE programs** are linked at the partner first (its link-balance call,
  [partners.md](partners.md#the-calls)); no answer from the partner is 503 \`PARTNER_UNAVAILABLE\`.
- **Sandbox** (\`/sandbox/simulate/*\`): on by default for development (\`npm start\` with HTTP on a
  loopback address and no \`SWITCH_SECRET\`), off otherwise (404), \`SANDBOX\` sets it either way; the
  start-up line says which. Its calls move real money on the ledger.
- **Live feed** (\`GET /feed\`, WebSocket): JSON text frames, \`{"type":"hello",...}\` then
  \`{"type":"transactions","events":[...]}\` per batch the switch answered; PANs masked
  (first 6, stars, last 4). At most 64 clients; a client more than 1 MiB behind is disconnected
  (\`feed_clients_dropped_total\`). uWebSockets.js serves it on the uws server, the \`ws\` library
  on node:http(s); a client frame over 4 KiB is closed with 1009, a malformed handshake answered 400.
`;

export function renderApiMarkdown(doc: { paths: Record<string, Record<string, Op>>; tags?: { name: string }[] }): string {
  const out: string[] = [INTRO];
  const ops: Array<{ method: string; path: string; op: Op }> = [];
  for (const [path, methods] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(methods)) ops.push({ method: method.toUpperCase(), path, op });
  const tags = (doc.tags ?? []).map((t) => t.name);
  out.push('## Operations\n');
  for (const tag of tags) {
    out.push(`| ${tag} | |`, '|---|---|');
    for (const { method, path, op } of ops.filter((o) => o.op.tags[0] === tag)) out.push(`| \`${method} ${path}\` | ${op.summary} |`);
    out.push('');
  }
  for (const tag of tags) {
    out.push(`## ${tag[0]!.toUpperCase()}${tag.slice(1)}\n`);
    for (const { method, path, op } of ops.filter((o) => o.op.tags[0] === tag)) out.push(renderOp(method, path, op));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n';
}

function renderOp(method: string, path: string, op: Op): string {
  const lines = [`### \`${method} ${path}\``, '', op.summary + '.'];
  if (op.description !== undefined) lines.push('', op.description);
  if (op.parameters !== undefined && op.parameters.length > 0) {
    lines.push('', '| parameter | in | required | meaning |', '|---|---|---|---|');
    for (const p of op.parameters) lines.push(`| \`${p.name}\` | ${p.in} | ${p.required ? 'yes' : 'no'} | ${p.description}${constraints(p.schema)} |`);
  }
  const body = op.requestBody?.content['application/json']?.schema;
  if (body !== undefined) {
    lines.push('', 'Request body (JSON):', '', '| field | type | required | constraints |', '|---|---|---|---|');
    for (const row of fields(body, '')) lines.push(row);
  }
  lines.push('', '| status | answer |', '|---|---|');
  for (const [status, r] of Object.entries(op.responses)) lines.push(`| ${status} | ${r.description} |`);
  lines.push('');
  return lines.join('\n');
}

function fields(s: Schema, prefix: string): string[] {
  const rows: string[] = [];
  const required = new Set(s.required ?? []);
  for (const [name, f] of Object.entries(s.properties ?? {})) {
    rows.push(`| \`${prefix}${name}\` | ${typeOf(f)} | ${required.has(name) ? 'yes' : 'no'} | ${constraints(f).replace(/^; /, '')} |`);
    if (f.type === 'object' && f.properties !== undefined) rows.push(...fields(f, `${prefix}${name}.`));
  }
  return rows;
}

function typeOf(s: Schema): string {
  return Array.isArray(s.type) ? s.type.join(' or ') : s.type ?? 'any';
}

function constraints(s: Schema): string {
  const c: string[] = [];
  if (s.enum !== undefined) c.push(`one of ${s.enum.map((v) => `\`${v}\``).join(', ')}`);
  if (s.pattern !== undefined) c.push(`pattern \`${s.pattern}\``);
  if (s.format !== undefined) c.push(`format ${s.format}`);
  if (s.minLength !== undefined || s.maxLength !== undefined) c.push(`${s.minLength ?? 0}..${s.maxLength ?? '∞'} characters`);
  if (s.minimum !== undefined || s.maximum !== undefined) c.push(`${s.minimum ?? '-∞'}..${s.maximum ?? '∞'}`);
  if (s.description !== undefined) c.push(s.description);
  return c.length === 0 ? '' : ('; ' + c.join('; ')).replace(/\|/g, '\\|');
}

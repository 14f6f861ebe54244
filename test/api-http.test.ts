// The management API's HTTP behaviour, identical on both servers (uWebSockets.js and node:http):
// routing (404, 405), body limits (413), media type (415), malformed JSON, validation problems
// naming the field, /health, /metrics, the OpenAPI document against the routes actually served,
// and the live feed over a real WebSocket.
import t from 'tap';
import { ApiClient, serverKinds, startApiSwitch } from './helpers/api.js';
import { openFeed } from './helpers/ws.js';
import { documentedRoutes, MAX_BODY_BYTES } from '../api/index.js';

const WALLET = { firstName: 'Ada', lastName: 'Lovelace', phone: '+48500100200', email: 'ada@example.com', birthDate: '1990-12-10', state: 'Mazowieckie', kyc: 'SUCCESS' };

for (const { kind, skip } of serverKinds()) {
  t.test(`HTTP behaviour on ${kind}`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const api = s.api;

    t.test('problems: 404, 405, 413, 415, malformed JSON, validation', async (t) => {
      const nf = await api.get('/nope');
      t.equal(nf.status, 404);
      t.equal(nf.headers['content-type'], 'application/problem+json');
      t.same(nf.json, { title: 'NOT_FOUND', detail: 'no route for /nope' });

      const m = await api.call('PUT', '/lifecycle/v1/wallet', { body: {} });
      t.equal(m.status, 405);
      t.equal(m.json.title, 'METHOD_NOT_ALLOWED');
      t.equal(m.headers.allow, 'POST');
      t.equal((await api.get('/lifecycle/v1/wallet')).status, 405, 'GET on a POST route');

      const big = await api.post('/lifecycle/v1/wallet', undefined, { raw: JSON.stringify({ ...WALLET, state: 'x'.repeat(MAX_BODY_BYTES) }), headers: { 'content-type': 'application/json' } });
      t.equal(big.status, 413);
      t.equal(big.json.title, 'PAYLOAD_TOO_LARGE');

      const chunked = await api.call('POST', '/lifecycle/v1/wallet', { raw: Buffer.alloc(0), headers: { 'transfer-encoding': 'chunked' } });
      t.equal(chunked.status, 400, 'a chunked empty body is read to its end');
      t.equal(chunked.json.title, 'MALFORMED_JSON');

      const media = await api.post('/lifecycle/v1/wallet', undefined, { raw: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      t.equal(media.status, 415);
      t.equal(media.json.title, 'UNSUPPORTED_MEDIA_TYPE');

      const bad = await api.post('/lifecycle/v1/wallet', undefined, { raw: '{"firstName": 5557701234567890', headers: { 'content-type': 'application/json' } });
      t.equal(bad.status, 400);
      t.same(bad.json, { title: 'MALFORMED_JSON', detail: 'the body is not valid JSON' }, 'the parser message (which quotes input) is not echoed');

      const rows: Array<[Record<string, unknown>, string]> = [
        [{ ...WALLET, kyc: 'MAYBE' }, 'kyc must be one of SUCCESS, PENDING, REJECTED'],
        [{ ...WALLET, email: 'not-an-address' }, 'email must be an e-mail address'],
        [{ ...WALLET, birthDate: '1990-02-30' }, 'birthDate must be a real date YYYY-MM-DD, not in the future'],
        [{ ...WALLET, birthDate: '2999-01-01' }, 'birthDate must be a real date YYYY-MM-DD, not in the future'],
        [{ ...WALLET, phone: 'call me' }, 'phone must match'],
        [{ ...WALLET, firstName: '' }, 'firstName must be 1..100 characters long'],
        [{ ...WALLET, lastName: 7 }, 'lastName must be a string'],
        [{ ...WALLET, extra: 1 }, 'extra is not a known field'],
        [(({ state: _s, ...rest }) => rest)(WALLET), 'state is required'],
      ];
      for (const [body, detail] of rows) {
        const r = await api.post('/lifecycle/v1/wallet', body);
        t.equal(r.status, 400, detail);
        t.equal(r.json.title, 'VALIDATION_ERROR');
        t.match(r.json.detail, detail);
      }
      t.equal((await api.post('/lifecycle/v1/wallet', [1, 2])).json.detail, 'body must be a JSON object');

      const p = await api.get('/secure/customers/a%7Bb/balances/x');
      t.equal(p.status, 400, 'a path parameter outside its pattern');
      t.match(p.json.detail, /^customerId must match/);
      t.equal((await api.get('/secure/customers/%E0%A4%A/balances/x')).json.title, 'VALIDATION_ERROR', 'bad percent-encoding');

      const w = await api.post('/lifecycle/v1/wallet', WALLET);
      t.equal(w.status, 201);
      t.equal(typeof w.json.id, 'number', 'an integer id');
      t.equal(w.headers['content-type'], 'application/json');
      const c = await api.get(`/secure/customers/${w.json.id}`);
      t.same(c.json, { id: String(w.json.id), kyc: 'SUCCESS', locks: [], debitsBlocked: false, profile: (({ kyc: _k, ...p }) => p)(WALLET) }, 'the profile is stored');
    });

    t.test('/health, /metrics', async (t) => {
      const h = await api.get('/health');
      t.equal(h.status, 200);
      t.match(h.json, { status: 'ok', redis: 'up', listener: 'up' });
      const m = await api.get('/metrics');
      t.equal(m.status, 200);
      t.match(m.headers['content-type'], /^text\/plain/);
      t.match(m.text, /switch_messages_total/);
      t.match(m.text, /http_requests_total\{method="GET",route="\/health",status="200"\} 1/, 'requests counted by route template');
      t.match(m.text, /http_requests_total\{method="GET",route="unmatched",status="404"\}/, 'unknown paths share one label');
      t.match(m.text, /feed_clients 0/);
    });

    t.test('OpenAPI 3.1: every route is documented and every documented path is routed', async (t) => {
      const r = await api.get('/openapi.json');
      t.equal(r.status, 200);
      const doc = r.json as { openapi: string; paths: Record<string, Record<string, { operationId: string; parameters?: { name: string; in: string }[] }>> };
      t.equal(doc.openapi, '3.1.0');
      const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
      const routed = documentedRoutes().map((x) => `${x.method} ${x.path}`).sort();
      t.same(documented, routed, 'the same set of operations');
      for (const [path, ops] of Object.entries(doc.paths)) {
        const concrete = path.replace(/\{[^}]+\}/g, 'x1');
        for (const [method, op] of Object.entries(ops)) {
          const names = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
          t.same(names, [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort(), `${op.operationId}: path parameters declared`);
          // Ask the running server: a documented operation is never 404/405 NOT_FOUND by routing.
          const res = await api.call(method.toUpperCase(), concrete, method === 'post' ? { body: {} } : {});
          t.not(res.json?.title, 'NOT_FOUND', `${method.toUpperCase()} ${path} is routed`);
          t.not(res.status, 405, `${method.toUpperCase()} ${path} accepts ${method}`);
        }
      }
      for (const spec of SPEC_OPERATIONS) t.ok(routed.includes(spec), `SPEC §6 ${spec}`);
    });

    t.test('live feed: hello, masked events, slow client dropped', async (t) => {
      const plain = await api.get('/feed');
      t.equal(plain.status, 426, 'a plain GET is told to upgrade');
      t.equal(plain.json.title, 'UPGRADE_REQUIRED');

      const c = await openFeed(`ws://127.0.0.1:${s.app.httpPort}/feed`);
      t.teardown(() => c.close());
      t.match(JSON.parse(await c.next()), { type: 'hello', maxBufferedBytes: 1048576 });
      t.equal(s.app.feed.clientCount, 1);
      const ev = { timeMs: 1, mti: '0100', responseCode: '00', reason: 'APPROVED', maskedPan: '555770******0018', amountMinor: 100, currency: 'EUR', txId: 'tx1' };
      s.app.feed.publish([ev, { ...ev, maskedPan: '5557700000000018', txId: 'tx2' }, { ...ev, maskedPan: 'garbage', txId: 'tx3' }]);
      const got = JSON.parse(await c.next());
      t.equal(got.type, 'transactions');
      t.same(got.events.map((e: { maskedPan: string | null }) => e.maskedPan), ['555770******0018', '555770******0018', null], 'a full PAN is masked, anything else dropped');
      t.same(got.events[0], ev);

      // A client that never reads: its buffer passes the bound and it is cut off and counted.
      const small = new (await import('../api/feed.js')).TransactionFeed({ maxBufferedBytes: 1000 });
      let buffered = 0;
      let dropped = false;
      small.subscribe(() => { buffered += 600; }, { bufferedBytes: () => buffered, drop: () => { dropped = true; } });
      small.publish([ev]);
      small.publish([ev]);
      small.publish([ev]);
      t.ok(dropped, 'the slow client is dropped');
      t.equal(small.dropped, 1);
      t.equal(small.clientCount, 0);
      c.close();
      t.ok(await c.closed >= 1000, 'closed');
    });
  });
}

/** The calls of SPEC §6, as routed operations. */
const SPEC_OPERATIONS = [
  'POST /lifecycle/v1/wallet',
  'POST /secure/customers/{customerId}/transactional-locks',
  'DELETE /secure/customers/{customerId}/transactional-locks/{reason}',
  'POST /secure/customers/{customerId}/balances',
  'GET /secure/customers/{customerId}/balances/{balanceId}',
  'POST /secure/customers/{customerId}/balances/{balanceId}/transactions',
  'POST /secure/partner-balances',
  'POST /secure/partner-balances/{id}/reload',
  'GET /secure/partner-balances/{id}',
  'POST /secure/customers/{customerId}/cards/virtual',
  'POST /secure/customers/{customerId}/cards/physical',
  'GET /secure/customers/{customerId}/cards/{cardId}',
  'POST /secure/customers/{customerId}/cards/{cardId}/lock',
  'POST /secure/customers/{customerId}/cards/{cardId}/unlock',
  'POST /secure/customers/{customerId}/cards/{cardId}/activate',
  'GET /secure/transactions',
  'GET /secure/transactions/{id}',
  'GET /secure/summary',
  'GET /metrics',
  'GET /health',
];

t.test('HTTP_SERVER=auto falls back to node:http when uWS does not load (Node 22+)', async (t) => {
  const { createHttpServer } = await import('../api/http.js');
  const { TransactionFeed } = await import('../api/feed.js');
  const { Router } = await import('../api/router.js');
  const { IdempotencyStore } = await import('../api/idempotency.js');
  const { feedRoute } = await import('../api/feed.js');
  const router = new Router({ routes: [], maxBodyBytes: 1024, websocket: feedRoute(new TransactionFeed()), idempotency: null as unknown as InstanceType<typeof IdempotencyStore>, metrics: null, log: () => {} });
  const logs: string[] = [];
  const failing = () => ({ ok: false as const, reason: 'no uWebSockets.js binary for this Node ABI' });
  const log = (level: string, msg: string, f?: Record<string, unknown>) => { logs.push(`${level} ${msg} ${JSON.stringify(f ?? {})}`); };
  const server = await createHttpServer(router, { choice: 'auto', tls: null, log, loadUws: failing });
  t.equal(server.kind, 'node');
  t.equal(logs.length, 1, 'one log line');
  t.match(logs[0], /^info HTTP server: node:http \(uWebSockets.js not available\)/);
  const addr = await server.listen(0, '127.0.0.1');
  const r = await new ApiClient(addr.port).get('/x');
  t.equal(r.status, 404, 'it serves');
  await server.close();
  await t.rejects(createHttpServer(router, { choice: 'uws', tls: null, log, loadUws: failing }), /HTTP_SERVER=uws: no uWebSockets.js binary/, 'forcing uws fails loudly');
  t.equal((await createHttpServer(router, { choice: 'node', tls: null, log, loadUws: failing })).kind, 'node');
});

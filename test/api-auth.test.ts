// Secure by default: the management API on a non-loopback address refuses to start without client
// certificates or API keys; API_KEYS_FILE's keys are checked on every call but /health,
// /openapi.json and the dashboard's page (401 UNAUTHORIZED without a known key, 403 FORBIDDEN for a
// read key on a call that changes something), on both HTTP servers, the feed's WebSocket included;
// no key is ever written to the log.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadConfig, isLoopback } from '../app/config.js';
import { ApiKeys, apiKeyHash, scopeOf } from '../api/auth.js';
import { serverKinds, startApiSwitch } from './helpers/api.js';
import { openFeed } from './helpers/ws.js';

const READ_KEY = 'read-key-for-the-tests-0123456789';
const WRITE_KEY = 'write-key-for-the-tests-0123456789';
const HASHED_KEY = 'hashed-write-key-for-the-tests-01234';

function keysFile(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'api-keys.json');
  writeFileSync(file, JSON.stringify({
    keys: [
      { name: 'grafana', scope: 'read', key: READ_KEY },
      { name: 'backend', scope: 'write', key: WRITE_KEY },
      { name: 'ci', scope: 'write', sha256: apiKeyHash(HASHED_KEY) },
    ],
  }));
  chmodSync(file, 0o600);
  return file;
}

t.test('a non-loopback HTTP address needs client certificates or API keys', async (t) => {
  for (const host of ['0.0.0.0', '::', '192.168.10.20', '10.0.0.1', 'switch.example.com']) {
    t.throws(() => loadConfig({ HTTP_HOST: host }), { code: 'SW_ERR_API_UNPROTECTED', message: new RegExp(`HTTP_HOST=${host.replace(/\./g, '\\.')} is not a loopback address.*API_KEYS_FILE.*HTTP_TLS_CERT`) }, host);
    t.equal(loadConfig({ HTTP_HOST: host, API_KEYS_FILE: '/etc/antaca/keys.json' }).httpHost, host, `${host} with API keys`);
    t.equal(loadConfig({ HTTP_HOST: host, HTTP_TLS_CERT: 'c', HTTP_TLS_KEY: 'k', HTTP_TLS_CA: 'a' }).httpHost, host, `${host} with client certificates`);
  }
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) {
    t.ok(isLoopback(host), `${host} is loopback`);
    t.equal(loadConfig({ HTTP_HOST: host }).httpHost, host, `${host} may run without authentication`);
  }
});

t.test('npm start on 0.0.0.0 without credentials exits 1 with one line, starting nothing', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-unprotected-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const main = new URL('../app/main.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, main], {
    cwd, env: { ...process.env, NODE_OPTIONS: '', HTTP_HOST: '0.0.0.0', HTTP_PORT: '0', ISO_PORT: '0', REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  t.equal(code, 1);
  const lines = stderr.trim().split('\n');
  t.equal(lines.length, 1, stderr);
  t.match(lines[0], /^antaca-switch: HTTP_HOST=0\.0\.0\.0 is not a loopback address and the management API would answer anyone: set API_KEYS_FILE/);
  t.throws(() => readFileSync(join(cwd, 'var/redis/redis-server.pid')), 'no redis-server was started');
});

t.test('API_KEYS_FILE: its format, and errors that never quote a key', async (t) => {
  const keys = ApiKeys.parse(JSON.stringify([{ name: 'a', scope: 'read', key: READ_KEY }, { name: 'b', scope: 'write', sha256: apiKeyHash(WRITE_KEY).toUpperCase() }]), 'f');
  t.equal(keys.size, 2, 'a bare array, and a sha256 in either case');
  t.same(keys.check(`Bearer ${READ_KEY}`, 'read'), { ok: true, name: 'a' });
  t.same(keys.check(`bearer   ${WRITE_KEY}`, 'write'), { ok: true, name: 'b' });
  t.match(keys.check(`Bearer ${READ_KEY}`, 'write'), { ok: false, code: 'API_KEY_READ_ONLY', detail: /"a" has the read scope/ });
  t.match(keys.check(undefined, 'read'), { ok: false, code: 'UNAUTHORIZED' });
  t.match(keys.check(`Basic ${READ_KEY}`, 'read'), { ok: false, code: 'UNAUTHORIZED' });
  t.match(keys.check(`Bearer ${READ_KEY}x`, 'read'), { ok: false, code: 'UNAUTHORIZED', detail: 'the API key is not one this switch knows' });
  const bad: Array<[unknown, RegExp]> = [
    [{ keys: [] }, /holds no key/],
    [{ keys: [{ name: 'a', scope: 'admin', key: READ_KEY }] }, /\[0\] "scope" must be "read" or "write"/],
    [{ keys: [{ name: 'a', scope: 'read' }] }, /needs exactly one of "key" and "sha256"/],
    [{ keys: [{ name: 'a', scope: 'read', key: 'short-secret' }] }, /"key" must be 16-256 visible ASCII characters/],
    [{ keys: [{ name: 'a', scope: 'read', key: READ_KEY }, { name: 'a', scope: 'write', key: WRITE_KEY }] }, /"a" is used twice/],
    [{ keys: [{ name: 'a', scope: 'read', key: READ_KEY }, { name: 'b', scope: 'write', key: READ_KEY }] }, /\[1\] the same key is listed twice/],
    [{ keys: [{ name: 'a', scope: 'read', key: READ_KEY, role: 'x' }] }, /unknown field "role"/],
    [{ tokens: [] }, /must be \{"keys"/],
  ];
  for (const [v, re] of bad) {
    const e = t.throws(() => ApiKeys.parse(JSON.stringify(v), 'API_KEYS_FILE k.json'), { code: 'SW_ERR_API_KEYS', message: re }) as unknown as Error;
    t.notOk(String(e?.message).includes(READ_KEY) || String(e?.message).includes('short-secret'), 'no key in the message');
  }
  t.throws(() => ApiKeys.parse('{not json', 'f'), { code: 'SW_ERR_API_KEYS', message: /f is not valid JSON/ });
  t.throws(() => ApiKeys.load('/nonexistent/keys.json'), { code: 'SW_ERR_API_KEYS', message: /API_KEYS_FILE \/nonexistent\/keys.json cannot be read \(ENOENT\)/ });
});

t.test('which calls need which scope', async (t) => {
  t.equal(scopeOf('GET', '/health', false), null);
  t.equal(scopeOf('GET', '/openapi.json', false), null);
  t.equal(scopeOf('GET', '/dashboard', true), null);
  t.equal(scopeOf('GET', '/metrics', false), 'read');
  t.equal(scopeOf('GET', '/feed', false), 'read');
  t.equal(scopeOf('GET', '/dashboard/stats.json', false), 'read');
  t.equal(scopeOf('GET', '/secure/programs', false), 'read');
  for (const m of ['POST', 'PUT', 'DELETE']) t.equal(scopeOf(m, '/secure/customers/1/balances', false), 'write');
  t.equal(scopeOf('POST', '/sandbox/simulate/authorization', false), 'write');
});

for (const { kind, skip } of serverKinds()) {
  t.test(`a switch with API_KEYS_FILE (${kind})`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind, { API_KEYS_FILE: keysFile(t), SANDBOX: '1' });
    const api = s.api;
    const as = (key: string) => ({ headers: { authorization: `Bearer ${key}` } });
    const wallet = { firstName: 'Ada', lastName: 'Lovelace', phone: '+48500100200', email: 'ada@example.com', birthDate: '1990-12-10', state: 'Mazowieckie', kyc: 'SUCCESS' };

    t.test('open paths answer without a key', async (t) => {
      t.equal((await api.get('/health')).status, 200);
      t.equal((await api.get('/openapi.json')).status, 200);
      t.equal((await api.get('/dashboard')).status, 200);
    });

    t.test('no key, an unknown key: 401 UNAUTHORIZED problem JSON', async (t) => {
      for (const headers of [{}, { authorization: 'Bearer not-a-key-of-this-switch' }, { authorization: `Basic ${READ_KEY}` }] as Array<Record<string, string>>) {
        for (const [method, path] of [['GET', '/secure/programs'], ['GET', '/metrics'], ['GET', '/dashboard/stats.json'], ['POST', '/lifecycle/v1/wallet']] as const) {
          const r = await api.call(method, path, { headers, ...(method === 'POST' ? { body: wallet } : {}) });
          t.equal(r.status, 401, `${method} ${path}`);
          t.equal(r.headers['content-type'], 'application/problem+json');
          t.equal(r.json.title, 'UNAUTHORIZED');
          t.type(r.json.detail, 'string');
          t.equal(r.headers['www-authenticate'], 'Bearer realm="antaca"');
        }
      }
    });

    t.test('a read key reads; a call that changes something answers 403 FORBIDDEN', async (t) => {
      t.equal((await api.get('/secure/programs', as(READ_KEY))).status, 200);
      t.equal((await api.get('/metrics', as(READ_KEY))).status, 200);
      t.equal((await api.get('/dashboard/stats.json', as(READ_KEY))).status, 200);
      const w = await api.post('/lifecycle/v1/wallet', wallet, as(READ_KEY));
      t.equal(w.status, 403);
      t.same(Object.keys(w.json).sort(), ['detail', 'title']);
      t.equal(w.json.title, 'FORBIDDEN');
      t.match(w.json.detail, /"grafana" has the read scope/);
      const sim = await api.post('/sandbox/simulate/authorization', { cardId: 'x', amount: 1 }, as(READ_KEY));
      t.equal(sim.status, 403, 'the sandbox needs a write key');
    });

    t.test('a write key (plain or listed by its SHA-256) makes every call', async (t) => {
      for (const key of [WRITE_KEY, HASHED_KEY]) {
        const w = await api.post('/lifecycle/v1/wallet', wallet, as(key));
        t.equal(w.status, 201, w.text);
        t.equal((await api.get(`/lifecycle/v1/wallet/${w.json.id}`, as(key))).status, 200);
      }
    });

    t.test('the feed needs a read key: in Authorization, or as a browser\'s subprotocol', async (t) => {
      const url = `ws://127.0.0.1:${s.app.httpPort}/feed`;
      const status = (headers: Record<string, string>) => new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers });
        ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
        ws.on('open', () => { resolve(101); ws.close(); });
        ws.on('error', () => undefined);
      });
      t.equal(await status({}), 401, 'no key');
      t.equal(await status({ authorization: 'Bearer wrong-key-of-nobody-at-all' }), 401, 'unknown key');
      t.equal(await status({ authorization: `Bearer ${READ_KEY}` }), 101, 'read key in Authorization');
      const feed = await openFeed(url, ['antaca.feed', `antaca.bearer.${READ_KEY}`]);
      t.match(JSON.parse(await feed.next()), { type: 'hello' }, 'read key as a subprotocol');
      feed.close();
    });

    t.test('no key in the log, and the start-up line says how the API authenticates', async (t) => {
      const all = s.logs.join('\n');
      for (const k of [READ_KEY, WRITE_KEY, HASHED_KEY]) t.notOk(all.includes(k), 'key absent from the log');
      t.match(s.logs.find((l) => l.includes('switch listening')), /"apiAuth":"API keys \(3\)"/);
    });
  });
}

t.test('API keys work on loopback too, and a bad file stops the start with one line', async (t) => {
  const [first] = serverKinds().filter((k) => k.skip === false);
  const s = await startApiSwitch(t, first!.kind, { API_KEYS_FILE: keysFile(t) });
  t.equal((await s.api.get('/secure/programs')).status, 401);
  const dir = mkdtempSync(join(tmpdir(), 'antaca-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ keys: [{ name: 'x', scope: 'root', key: READ_KEY }] }));
  await t.rejects(startApiSwitch(t, first!.kind, { API_KEYS_FILE: file }), { code: 'SW_ERR_API_KEYS', message: /"scope" must be "read" or "write"/ });
});

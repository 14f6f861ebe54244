// Signed webhooks for any program: the notifications of an INTERNAL program without a partner are
// POSTed to its webhook URL through the outbox, signed with Antaca-Signature (both secrets during a
// rotation); the signature verifies with the recipe of docs/partners.md and with an independent
// HMAC here, and fails for a tampered body or an old timestamp; failed deliveries are listed and
// retried through the outbox API; a program with a partner and webhooks gets both deliveries; the
// partner simulator checks signatures; GET /secure/programs shows no secret.
import t from 'tap';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { issueVirtualCard, startApiSwitch, type ApiClient } from './helpers/api.js';
import { signatureHeader, verifySignature } from '../adapters/webhook-signature.js';
import { startPartnerSimulator } from '../simulators/partner/server.js';
import { loadPrograms } from '../stores/programs.js';

const NEW_SECRET = 'whsec_new-0123456789abcdef0123456789abcdef';
const OLD_SECRET = 'whsec_old-fedcba9876543210fedcba9876543210';
const SIM_SECRET = 'whsec_sim-00112233445566778899aabbccddeeff';
const WH = { configId: 'wh-internal', bin: '55577090' };
const BOTH = { configId: 'wh-partner', bin: '55577091' };

interface Delivery { path: string; headers: IncomingMessage['headers']; raw: Buffer; body: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** A webhook receiver that keeps the raw bytes of each delivery and answers `status()`. */
async function receiver(t: { teardown(fn: () => unknown): void }) {
  const got: Delivery[] = [];
  const o = { status: 204, got, url: '' };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      got.push({ path: req.url ?? '', headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')) });
      res.writeHead(o.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  o.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return o;
}

/** Waits (bounded: 30 s) until `cond()` holds. */
async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The verify function of docs/partners.md, "Verifying a signature", run as the page shows it. */
async function documentedVerify(t: { teardown(fn: () => unknown): void }): Promise<(header: string | undefined, raw: Buffer, secret: string, nowSeconds?: number) => boolean> {
  const page = readFileSync(new URL('../docs/partners.md', import.meta.url), 'utf8');
  const section = page.slice(page.indexOf('### Verifying a signature'));
  const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
  if (code === undefined) throw new Error('docs/partners.md has no js block under "Verifying a signature"');
  const dir = mkdtempSync(join(tmpdir(), 'antaca-recipe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'verify.mjs'), code);
  return (await import(pathToFileURL(join(dir, 'verify.mjs')).href)).verifyAntacaSignature;
}

/** An independent check: parse the header, HMAC-SHA256(secret, t + "." + body), hex. */
function hmacOf(secret: string, t: string, raw: Buffer): string {
  return createHmac('sha256', secret).update(`${t}.`).update(raw).digest('hex');
}

t.test('the signature: documented recipe, tampered body, old timestamp, rotation', async (t) => {
  const verify = await documentedVerify(t);
  const raw = Buffer.from(JSON.stringify({ status: 'SUCCESS', transaction: { amount: 1250 } }));
  const now = 1_800_000_000;
  const header = signatureHeader([NEW_SECRET, OLD_SECRET], now, raw);
  t.match(header, /^t=1800000000,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
  t.equal(header, `t=${now},v1=${hmacOf(NEW_SECRET, String(now), raw)},v1=${hmacOf(OLD_SECRET, String(now), raw)}`, 'exactly the HMAC of t.body, one per secret, new first');
  for (const secret of [NEW_SECRET, OLD_SECRET]) {
    t.equal(verify(header, raw, secret, now), true, 'the documented recipe accepts either secret');
    t.same(verifySignature(header, raw, [secret], { nowSeconds: now }), { ok: true, tSeconds: now });
  }
  const tampered = Buffer.from(raw.toString().replace('1250', '9250'));
  t.equal(verify(header, tampered, NEW_SECRET, now), false, 'a tampered body fails');
  t.same(verifySignature(header, tampered, [NEW_SECRET], { nowSeconds: now }), { ok: false, problem: 'NO_MATCH' });
  t.equal(verify(header, raw, NEW_SECRET, now + 301), false, 'older than 5 minutes fails');
  t.same(verifySignature(header, raw, [NEW_SECRET], { nowSeconds: now + 301 }), { ok: false, problem: 'TOO_OLD' });
  t.equal(verify(header, raw, NEW_SECRET, now + 299), true, 'within 5 minutes passes');
  t.equal(verify(header, raw, 'another-secret-entirely', now), false, 'another secret fails');
  t.same(verifySignature(undefined, raw, [NEW_SECRET]), { ok: false, problem: 'MISSING' });
  t.same(verifySignature('v1=abc', raw, [NEW_SECRET]), { ok: false, problem: 'MALFORMED' });
  t.same(verifySignature(header, raw, [NEW_SECRET], { nowSeconds: now - 301 }), { ok: false, problem: 'IN_THE_FUTURE' });
});

t.test('PROGRAMS_FILE webhooks: shape and errors that never quote a secret', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-wh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const load = (webhooks: unknown) => {
    const f = join(dir, `p${Math.random()}.json`);
    writeFileSync(f, JSON.stringify([{ ...WH, currency: 'EUR', mode: 'INTERNAL', webhooks }]));
    return loadPrograms(f).byId(WH.configId)!;
  };
  t.match(load({ url: 'https://h.example/x', secret: NEW_SECRET }).webhooks, { url: 'https://h.example/x', secrets: [NEW_SECRET], timeoutMs: 5000, events: ['transaction', 'cardLocked', 'cardUnlocked', 'transactionalLockReasonAdded', 'transactionalLockReasonRemoved', 'lowBalance'] });
  t.match(load({ url: 'http://h/x', secrets: [NEW_SECRET, OLD_SECRET], events: ['transaction'] }).webhooks, { secrets: [NEW_SECRET, OLD_SECRET], events: ['transaction'] });
  const bad: Array<[unknown, RegExp]> = [
    [{ url: 'ftp://h/x', secret: NEW_SECRET }, /"url" must be an http/],
    [{ url: 'http://h/x' }, /needs "secret", or "secrets"/],
    [{ url: 'http://h/x', secret: NEW_SECRET, secrets: [OLD_SECRET] }, /not both/],
    [{ url: 'http://h/x', secrets: [NEW_SECRET, OLD_SECRET, 'third-secret'] }, /one or two secrets/],
    [{ url: 'http://h/x', secrets: [NEW_SECRET, NEW_SECRET] }, /must differ/],
    [{ url: 'http://h/x', secret: NEW_SECRET, events: ['transactions'] }, /"transactions" is not one of transaction, cardLocked/],
    [{ url: 'http://h/x', secret: NEW_SECRET, timeoutMs: 20_000 }, /"timeoutMs" must be an integer from 1 to 9000/],
  ];
  for (const [w, re] of bad) {
    const e = t.throws(() => load(w), { code: 'SW_ERR_PROGRAM_CONFIG', message: re }) as unknown as Error;
    t.notOk(String(e?.message).includes('whsec_'), 'no secret in the message');
  }
});

t.test('webhooks of an INTERNAL program, and of a program with a partner too', async (t) => {
  const hook = await receiver(t);
  const sim = await startPartnerSimulator({ server: 'node', config: { webhookSecrets: [SIM_SECRET] } });
  t.teardown(() => sim.close());
  const dir = mkdtempSync(join(tmpdir(), 'antaca-wh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const programs = join(dir, 'programs.json');
  writeFileSync(programs, JSON.stringify([
    { ...WH, currency: 'EUR', mode: 'INTERNAL', creditRequired: false,
      webhooks: { url: `${hook.url}/hooks/antaca?source=switch`, secrets: [NEW_SECRET, OLD_SECRET], events: ['transaction', 'cardLocked'] } },
    { ...BOTH, currency: 'EUR', mode: 'INTERNAL', creditRequired: false, partner: { baseUrl: sim.url },
      webhooks: { url: `${sim.url}/webhooks`, secret: SIM_SECRET, events: ['transaction'] } },
  ]));
  const s = await startApiSwitch(t, 'node', { PROGRAMS_FILE: programs, SANDBOX: '1', OUTBOX_BACKOFF_BASE_MS: '20', OUTBOX_BACKOFF_CAP_MS: '40' });
  const api = s.api;
  const verify = await documentedVerify(t);

  t.test('GET /secure/programs shows the webhooks, never a secret', async (t) => {
    const r = await api.get('/secure/programs');
    t.notOk(r.text.includes('whsec_'), 'no secret in the answer');
    const p = r.json.items.find((x: { configId: string }) => x.configId === WH.configId);
    t.same(p.webhooks, { url: `${hook.url}/hooks/antaca?source=switch`, events: ['transaction', 'cardLocked'], secretsConfigured: 2, timeoutMs: 5000, caConfigured: false });
    const demo = r.json.items.find((x: { configId: string }) => x.configId === '0019167984');
    t.equal(demo.webhooks, null);
    t.same(demo.holdExpiryDaysByMcc, { '3501-3999': 30, '7011': 30, '7512': 30 }, 'the default table, compact');
  });

  const card = await cardIn(api, WH.configId);

  t.test('an authorization: one transaction webhook, signed with both secrets', async (t) => {
    const a = await api.post('/sandbox/simulate/authorization', { cardId: card.id, amount: 1_250 });
    t.equal(a.json.responseCode, '00', a.text);
    await until(() => hook.got.some((d) => d.headers['antaca-event'] === 'transaction'), 'the transaction webhook');
    const d = hook.got.find((x) => x.headers['antaca-event'] === 'transaction')!;
    t.equal(d.path, '/hooks/antaca?source=switch', 'POSTed to the URL as configured');
    t.equal(d.headers['content-type'], 'application/json');
    t.match(d.headers['x-idempotency-key'], /^[0-9a-f-]{36}$/);
    t.match(d.body, { status: 'SUCCESS', description: 'APPROVED', transaction: { cardId: card.id, amount: 1_250, transactionData: { lastFourDigits: card.pan.slice(-4) } } });
    t.notOk(d.raw.toString().includes(card.pan), 'no PAN in the body');
    const header = String(d.headers['antaca-signature']);
    const m = /^t=(\d+),v1=([0-9a-f]{64}),v1=([0-9a-f]{64})$/.exec(header);
    t.ok(m, `header shape: ${header}`);
    t.equal(m![2], hmacOf(NEW_SECRET, m![1]!, d.raw), 'the first v1 is the new secret\'s HMAC of t.body');
    t.equal(m![3], hmacOf(OLD_SECRET, m![1]!, d.raw), 'the second v1 is the old secret\'s');
    t.ok(Math.abs(Number(m![1]) - Date.now() / 1000) < 60, 't is now');
    t.equal(verify(header, d.raw, NEW_SECRET), true, 'the documented recipe verifies it with the new secret');
    t.equal(verify(header, d.raw, OLD_SECRET), true, 'and with the old one');
    t.equal(verify(header, Buffer.from(d.raw.toString().replace('1250', '1251')), NEW_SECRET), false, 'a tampered body fails');
    t.equal(verify(header, d.raw, NEW_SECRET, Number(m![1]) + 301), false, 'checked more than 5 minutes later: fails');
  });

  t.test('events: cardLocked is delivered, a transactional lock (not subscribed) is not', async (t) => {
    t.equal((await api.post(`/secure/customers/${card.customerId}/transactional-locks`, { reason: 'FRAUD_SUSPECTED' })).status, 204);
    t.equal((await api.delete(`/secure/customers/${card.customerId}/transactional-locks/FRAUD_SUSPECTED`)).status, 204);
    t.equal((await api.post(`/secure/customers/${card.customerId}/cards/${card.id}/lock`, { reason: 3 })).status, 204);
    await until(() => hook.got.some((d) => d.headers['antaca-event'] === 'cardLocked'), 'the cardLocked webhook');
    t.match(hook.got.find((d) => d.headers['antaca-event'] === 'cardLocked')!.body, { dcCardId: card.id, reason: 'PENDING_QUERY' });
    await until(async () => (await api.get('/secure/outbox?state=pending')).json.items.length === 0, 'an empty outbox');
    t.same([...new Set(hook.got.map((d) => d.headers['antaca-event']))].sort(), ['cardLocked', 'transaction']);
    t.equal((await api.post(`/secure/customers/${card.customerId}/cards/${card.id}/unlock`, {})).status, 204);
  });

  t.test('a failing receiver: 5 attempts, listed among the dead letters, retried through the outbox API', async (t) => {
    hook.status = 500;
    const before = hook.got.length;
    const a = await api.post('/sandbox/simulate/authorization', { cardId: card.id, amount: 300 });
    t.equal(a.json.responseCode, '00');
    let dead: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    await until(async () => {
      dead = (await api.get('/secure/outbox?state=dead&kind=webhook')).json.items.find((e: { body: { transaction?: { amount?: number } } }) => e.body.transaction?.amount === 300);
      return dead !== undefined;
    }, 'the dead webhook delivery');
    t.match(dead, { kind: 'webhook', configId: WH.configId, path: '/notifications/transaction', attempts: 5, maxAttempts: 5, lastStatus: 500, deadReason: 'MAX_ATTEMPTS' });
    const attempts = hook.got.slice(before).filter((d) => d.headers['x-idempotency-key'] === dead.idempotencyKey);
    t.equal(attempts.length, 5, 'five attempts, all with one X-Idempotency-Key');
    t.ok(attempts.every((d) => verify(String(d.headers['antaca-signature']), d.raw, NEW_SECRET)), 'each attempt signed');
    const others = (await api.get('/secure/outbox?state=dead&kind=force-credit')).json.items;
    t.same(others, [], 'the kind filter leaves other kinds out');
    hook.status = 200;
    const retried = await api.post(`/secure/outbox/${dead.id}/retry`, {});
    t.equal(retried.status, 200, retried.text);
    await until(async () => (await api.get(`/secure/outbox/${dead.id}`)).json.state === 'sent', 'the retried delivery');
    const last = hook.got.filter((d) => d.headers['x-idempotency-key'] === dead.idempotencyKey).at(-1)!;
    t.equal(verify(String(last.headers['antaca-signature']), last.raw, NEW_SECRET), true, 'signed again, with a fresh timestamp');
  });

  t.test('a program with a partner and webhooks: both get the notification; the partner simulator checks the signature', async (t) => {
    const c2 = await cardIn(api, BOTH.configId);
    const a = await api.post('/sandbox/simulate/authorization', { cardId: c2.id, amount: 700 });
    t.equal(a.json.responseCode, '00');
    await until(() => sim.sim.calls('/webhooks').length > 0 && sim.sim.calls('/notifications/transaction').length > 0, 'both deliveries');
    const wh = sim.sim.calls('/webhooks')[0]!;
    t.equal(wh.signature, 'valid', 'the simulator verified the signature');
    t.equal(wh.status, 204);
    t.match(sim.sim.calls('/notifications/transaction')[0]!.body, { transaction: { amount: 700 } }, 'the partner got its notification');
    sim.sim.configure({ webhookSecrets: ['some-other-secret-of-the-partner'] });
    const b = await api.post('/sandbox/simulate/authorization', { cardId: c2.id, amount: 800 });
    t.equal(b.json.responseCode, '00');
    await until(() => sim.sim.calls('/webhooks').some((c) => c.outcome === 'signature-invalid'), 'a refused delivery');
    const refused = sim.sim.calls('/webhooks').find((c) => c.outcome === 'signature-invalid')!;
    t.equal(refused.status, 400);
    t.equal(refused.signature, 'invalid: NO_MATCH');
  });
});

async function cardIn(api: ApiClient, configId: string): Promise<{ id: string; pan: string; customerId: string }> {
  const w = await api.post('/lifecycle/v1/wallet', { firstName: 'Web', lastName: 'Hook', phone: '+48500100200', email: 'wh@example.com', birthDate: '1990-01-01', state: 'Mazowieckie', kyc: 'SUCCESS' });
  const customerId = String(w.json.id);
  const b = await api.post(`/secure/customers/${customerId}/balances`, { currency: 'EUR', configId });
  if (b.status !== 201) throw new Error(`balance: ${b.status} ${b.text}`);
  const top = await api.post(`/secure/customers/${customerId}/balances/${b.json.id}/transactions`, { type: 'TOPUP', amount: 100_000, currency: 'EUR' });
  if (top.status !== 201) throw new Error(`top-up: ${top.status} ${top.text}`);
  const card = await issueVirtualCard(api, customerId, b.json.id, configId);
  return { id: card.id, pan: card.pan, customerId };
}

// The partner simulator on its own: both servers (uWS, node:http) answer the same, knobs over
// HTTP, reproducible seeded outcomes, the call log and reconciliation over HTTP, the snapshot,
// mTLS refusing a caller without a certificate, and the `npm run sim:partner` process.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { request as httpsRequest } from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartnerResult } from '../adapters/partner-client.js';
import { loadUws } from '../api/http.js';
import { makePki } from './helpers/pki.js';
import { key, makeClient, startSim, tx, whenSeen } from './helpers/partner.js';

const kindOf = (r: PartnerResult<unknown>): string => (r.ok ? 'ok' : r.kind === 'DECLINED' ? r.title : r.kind);
const ROOT = new URL('..', import.meta.url).pathname;

async function http(url: string, method = 'GET', body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text) };
}

const servers = loadUws().ok ? (['uws', 'node'] as const) : (['node'] as const);
for (const server of servers) {
  t.test(`plain HTTP on ${server}: a balance's life, the call log and reconciliation over HTTP`, async (t) => {
    const s = await startSim(t, null, {}, { server });
    t.equal(s.kind, server);
    t.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const { client } = makeClient(t, s.url, null);
    t.equal(kindOf(await client.linkBalance('9', { balanceId: 'bal-9', currency: 'PLN' }, key())), 'ok');
    t.equal((await http(`${s.url}/_sim/balances/bal-9`, 'PUT', { userId: '9', currency: 'PLN', amount: 1000 })).status, 204, 'fund it over HTTP');
    const debit = tx({ balanceId: 'bal-9', currency: 'PLN', amountMinor: 400 });
    t.equal(kindOf(await client.debit(debit, key())), 'ok');
    t.equal(kindOf(await client.debit(tx({ balanceId: 'bal-9', currency: 'PLN', amountMinor: 4000 }), key())), 'INSUFFICIENT_FUNDS');
    t.equal((await http(`${s.url}/transactions/debit`, 'POST', { id: 'x' })).status, 409, 'a body that is not the transaction object: 409 CLIENT_ERROR');
    t.equal((await http(`${s.url}/nowhere`)).status, 404);

    const calls = await http(`${s.url}/_sim/calls?path=/transactions/`);
    t.match(calls.json, { calls: [{ method: 'POST', path: '/transactions/debit', status: 204, body: { id: debit.id, amount: 400 } }, { status: 422 }, { status: 409 }], dropped: 0 });
    const rec = await http(`${s.url}/_sim/reconciliation`);
    t.match(rec.json, {
      mode: 'EXTERNAL_BALANCE', seed: 1,
      balances: [{ balanceId: 'bal-9', userId: '9', currency: 'PLN', amount: 600 }],
      transactions: [{ id: debit.id, endpoint: 'debit', transactionId: debit.transactionId, amount: 400, effect: -400, status: 'AUTHORIZED' }],
    });
    t.equal((await http(`${s.url}/_sim/calls`, 'DELETE')).status, 204);
    t.same(s.sim.calls(), [], 'call log cleared');
  });
}

t.test('knobs over HTTP are checked as a whole', async (t) => {
  const s = await startSim(t, null);
  const bad = await http(`${s.url}/_sim/config`, 'PUT', { latencyMs: 5, errorRate: 1.5 });
  t.equal(bad.status, 400);
  t.match(bad.json, { title: 'VALIDATION_ERROR', detail: 'errorRate must be a number from 0 to 1' });
  t.match((await http(`${s.url}/_sim/config`)).json, { latencyMs: 0, errorRate: 0 }, 'nothing half-applied');
  t.equal((await http(`${s.url}/_sim/config`, 'PUT', { refuse: [{ title: 'NOPE' }] })).status, 400);
  t.equal((await http(`${s.url}/_sim/config`, 'PUT', { whatever: 1 })).status, 400, 'an unknown knob');
  const ok = await http(`${s.url}/_sim/config`, 'PUT', { latencyMs: 1, jitterMs: 2, hangRate: 0, refuse: [{ title: 'FRAUDS_DETECTED', mcc: '7995', rate: 0.5 }], misbehave: null, users: ['1'] });
  t.equal(ok.status, 200);
  t.match((await http(`${s.url}/_sim/config`)).json, { latencyMs: 1, jitterMs: 2, refuse: [{ title: 'FRAUDS_DETECTED', mcc: '7995', rate: 0.5 }], users: ['1'], seed: 1 });

  await http(`${s.url}/_sim/config`, 'PUT', { hangRate: 1 });
  const { client } = makeClient(t, s.url, null);
  const hung = client.notify('cardUnlocked', { dcCardId: '1', date: '2025-06-17T13:42:54+00:00' }, key(), { timeoutMs: 1000 });
  let outcome: string | undefined;
  await whenSeen(hung, () => (outcome = s.sim.calls('/notifications/')[0]?.outcome) !== undefined);
  t.equal(outcome, 'hung', 'the hung call is in the log, unanswered');
  t.equal(kindOf(await hung), 'TIMEOUT');
  t.equal(s.sim.calls('/notifications/')[0]?.status, null);
  await http(`${s.url}/_sim/config`, 'PUT', { hangRate: 0, errorRate: 1 });
  t.equal(kindOf(await client.notify('cardUnlocked', { dcCardId: '1', date: '2025-06-17T13:42:54+00:00' }, key())), 'SERVER_ERROR');
  t.equal(s.sim.calls('/notifications/')[1]?.outcome, 'error-injected');
});

t.test('the same seed gives the same sequence of outcomes', async (t) => {
  const config = { errorRate: 0.3, refuse: [{ title: 'FRAUDS_DETECTED' as const, rate: 0.4 }], mode: 'SHARED_AUTHORIZATION' as const };
  const run = async (seed: number) => {
    const s = await startSim(t, null, { ...config, seed });
    const { client } = makeClient(t, s.url, null, { failuresToOpen: 1000 });
    const out: string[] = [];
    for (let i = 0; i < 40; i++) out.push(kindOf(await client.debit(tx(), key())));
    await s.close();
    return out;
  };
  const first = await run(42);
  t.same(await run(42), first, 'seed 42 twice: the same outcomes');
  t.ok(first.includes('ok') && first.includes('SERVER_ERROR') && first.includes('FRAUDS_DETECTED'), 'all three outcomes occur');
  t.not((await run(43)).join(), first.join(), 'another seed: another sequence');

  const s = await startSim(t, null, { ...config, seed: 42 });
  const { client } = makeClient(t, s.url, null, { failuresToOpen: 1000 });
  await client.debit(tx(), key());
  await http(`${s.url}/_sim/config`, 'PUT', { seed: 42 });
  const again: string[] = [];
  for (let i = 0; i < 40; i++) again.push(kindOf(await client.debit(tx(), key())));
  t.same(again, first, 'setting the seed over HTTP restarts the sequence');
});

t.test('snapshot: balances and transactions survive a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-partner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'partner.json');
  const a = await startSim(t, null, {}, { snapshotFile: file });
  a.sim.setBalance({ balanceId: 'b-s', userId: '5', currency: 'EUR', amount: 900 });
  const { client } = makeClient(t, a.url, null);
  const d = tx({ balanceId: 'b-s', amountMinor: 100 });
  t.equal(kindOf(await client.debit(d, key())), 'ok');
  await a.close();
  t.match(JSON.parse(readFileSync(file, 'utf8')), { balances: [{ balanceId: 'b-s', amount: 800 }], transactions: [{ id: d.id }] });
  const b = await startSim(t, null, {}, { snapshotFile: file });
  t.same(b.sim.balance('b-s'), { balanceId: 'b-s', userId: '5', currency: 'EUR', amount: 800 });
  const { client: c2 } = makeClient(t, b.url, null);
  t.equal(kindOf(await c2.reversal({ ...d, id: tx().id }, key())), 'ok');
  t.equal(b.sim.balance('b-s')?.amount, 900, 'a transaction from before the restart can be reversed');
});

t.test('out of order: a debit overtaken by its own reversal moves nothing', async (t) => {
  const s = await startSim(t, null, {});
  s.sim.setBalance({ balanceId: 'b-o', userId: '6', currency: 'EUR', amount: 900 });
  const { client } = makeClient(t, s.url, null);
  const d = tx({ balanceId: 'b-o', amountMinor: 300 });
  t.equal(kindOf(await client.reversal({ ...d, id: tx().id }, key())), 'ok', 'a reversal of a transaction not seen yet: 204');
  t.equal(kindOf(await client.debit(d, key())), 'ok', 'the late debit is acknowledged');
  t.equal(s.sim.balance('b-o')?.amount, 900, 'and takes nothing');
  const other = tx({ balanceId: 'b-o', amountMinor: 200 });
  t.equal(kindOf(await client.debit(other, key())), 'ok');
  t.equal(s.sim.balance('b-o')?.amount, 700, 'another transaction still moves money');
});

t.test('mTLS: a caller without a client certificate is refused', async (t) => {
  const pki = makePki(t);
  const s = await startSim(t, pki);
  t.match(s.url, /^https:/);
  t.equal(s.kind, 'node', 'TLS runs on node:https');
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(`${s.url}/users/1/balances`, { ca: pki.read('ca.pem'), agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('error', reject);
    req.end();
  });
  t.equal(status, 403);
  t.equal(s.sim.calls()[0]?.outcome, 'forbidden');
});

t.test('npm run sim:partner: help, one-line errors, URL and a clean stop', async (t) => {
  const main = join(ROOT, 'simulators/partner/main.ts');
  const run = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', main, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const finish = async (p: ReturnType<typeof run>) => {
    let out = '', err = '';
    p.stdout!.on('data', (c: Buffer) => { out += c; });
    p.stderr!.on('data', (c: Buffer) => { err += c; });
    const [code] = await once(p, 'exit') as [number];
    return { code, out, err };
  };
  const help = await finish(run(['--help']));
  t.equal(help.code, 0);
  t.match(help.out, /--error-rate/);
  const bad = await finish(run(['--hang-rate', '2']));
  t.equal(bad.code, 2);
  t.equal(bad.err.trim().split('\n').length, 1, 'one line');
  t.match(bad.err, /hangRate must be a number from 0 to 1/);
  t.equal((await finish(run(['--cert', 'a.pem']))).code, 2, 'TLS files go together');

  const p = run(['--port', '0', '--seed', '5']);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    p.stdout!.on('data', (c: Buffer) => { out += c; const m = /on (http:\/\/\S+)/.exec(out); if (m) resolve(m[1]!); });
    p.once('exit', () => reject(new Error('exited early: ' + out)));
  });
  t.match(out, /seed 5/);
  t.match((await http(`${url}/_sim/config`)).json, { seed: 5 });
  const exited = once(p, 'exit');
  p.kill('SIGINT');
  const [code] = await exited as [number];
  t.equal(code, 0, 'Ctrl-C stops it cleanly');
});

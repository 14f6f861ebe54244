// The switch benchmark's load generator against the echo peer: every request leaves on schedule,
// every answer is matched by STAN and counted by code, and the histograms saw each one. Timing is
// not asserted here (docs/benchmarks.md): the machine decides it, not the code. The floor peer
// (the echo with one hold script per message) runs against a real redis-server.
import t from 'tap';
import { IsoCodec } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { FieldScanner, readDigits, runOpenLoop, runBurst } from '../bench/loadgen.js';
import { RequestFactory, benchPan } from '../bench/requests.js';
import { startEchoServer } from '../bench/echo.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startManagedRedis } from '../ledger/redis-server.js';
import { Histogram, Registry } from 'prom-client';
import { histogramBuckets, shareAbove } from '../bench/switch.js';
import { measureApprovalCost } from '../bench/approval-cost.js';
import { decodeRecord } from '../stores/record-codec.js';

const pans = Array.from({ length: 4 }, (_, i) => benchPan(i));

t.test('the scanner finds fields 11, 32, 37 and 39 where the codec decodes them', async (t) => {
  const codec = new IsoCodec(DIALECT_1987);
  const scanner = new FieldScanner(DIALECT_1987);
  const plan = new RequestFactory(pans).plan(3);
  for (const [i, framed] of plan.frames.entries()) {
    const body = framed.subarray(2);
    const r = codec.unpack(body);
    t.ok(r.ok, 'a planned request decodes');
    if (!r.ok) continue;
    const at11 = scanner.find(body, 11);
    t.equal(readDigits(body, at11, 6), plan.stans[i]);
    t.equal(Number(r.msg.fields.get(11)), plan.stans[i]);
    t.equal(body.toString('latin1', scanner.find(body, 37), scanner.find(body, 37) + scanner.length), r.msg.fields.get(37));
    t.equal(scanner.find(body, 39), -1, 'a request has no field 39');
    const fields = new Map(r.msg.fields);
    fields.set(39, '51');
    const answer = codec.pack({ mti: '0110', fields: new Map([...fields].sort((a, b) => a[0] - b[0])) });
    const at39 = scanner.find(answer, 39);
    t.equal(answer.toString('latin1', at39, at39 + 2), '51');
  }
  t.equal(new Set(plan.stans).size, 3, 'STANs are distinct');
});

t.test('open loop at 200/s for 1 s against the echo peer: every request answered and counted', async (t) => {
  const echo = await startEchoServer();
  t.teardown(() => echo.close());
  const plan = new RequestFactory(pans).plan(200);
  const r = await runOpenLoop({ port: echo.port, connections: 8, ratePerSecond: 200, plan, dialect: DIALECT_1987 });
  t.equal(r.sent, 200);
  t.equal(r.answered, 200);
  t.equal(r.unmatched, 0);
  t.equal(r.latencyUs.count, 200, 'latency histogram counted every answer');
  t.equal(r.latenessUs.count, 200, 'lateness histogram counted every write');
  t.same(r.codes, { '00': 200 });
  t.ok(r.latencyUs.max >= r.latencyUs.p99 && r.latencyUs.p99 >= r.latencyUs.p50);
  t.ok(r.over5ms <= r.over3ms && r.over3ms <= r.answered, 'answers over 5 ms are among those over 3 ms');
});

t.test('the share of answers over a bound, read from two scrapes of a Prometheus histogram', async (t) => {
  const registry = new Registry();
  const h = new Histogram({ name: 'x_seconds', help: 'x', labelNames: ['code'] as const, buckets: [0.001, 0.003, 0.005], registers: [registry] });
  h.labels('00').observe(0.002);
  const before = histogramBuckets(await registry.metrics(), 'x_seconds');
  // Between the scrapes: 6 observations over two label sets, 2 of them above 3 ms, 1 above 5 ms.
  for (const v of [0.0005, 0.002, 0.0025, 0.004]) h.labels('00').observe(v);
  for (const v of [0.001, 0.009]) h.labels('51').observe(v);
  const after = histogramBuckets(await registry.metrics(), 'x_seconds');
  t.equal(shareAbove(before, after, '0.003'), 2 / 6);
  t.equal(shareAbove(before, after, '0.005'), 1 / 6);
  t.ok(Number.isNaN(shareAbove(after, after, '0.003')), 'no observations: no share');
});

t.test('a burst over 8 connections is answered in full', async (t) => {
  const echo = await startEchoServer();
  t.teardown(() => echo.close());
  const plan = new RequestFactory(pans.slice(0, 1)).plan(2000);
  const r = await runBurst({ port: echo.port, connections: 8, plan, dialect: DIALECT_1987 });
  t.equal(r.answered, 2000);
  t.same(r.codes, { '00': 2000 });
});

t.test('the floor peer answers each request after one durable hold in its Redis', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-floor-'));
  const redis = await startManagedRedis({ dir, appendfsync: 'always' });
  const echo = await startEchoServer(0, '127.0.0.1', redis.socketPath === null ? { url: redis.url } : { socketPath: redis.socketPath });
  const probe = new Redis(redis.url);
  t.teardown(async () => { probe.disconnect(); await echo.close(); await redis.stop(); rmSync(dir, { recursive: true, force: true }); });
  const plan = new RequestFactory(pans).plan(100);
  const r = await runOpenLoop({ port: echo.port, connections: 4, ratePerSecond: 200, plan, dialect: DIALECT_1987 });
  t.equal(r.answered, 100);
  t.same(r.codes, { '00': 100 });
  t.equal(await probe.xlen('{g00}:jnl'), 100, 'one journal entry per answer');
  t.equal(Number(await probe.hget('{g00}:ub:floor', 'b')), 100 * 100, 'each answer held 100 minor units');
});

t.test('the prototype peer writes each approval as one transaction hash holding the record and the cached answer', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-prototype-'));
  const redis = await startManagedRedis({ dir, appendfsync: 'always' });
  const target = redis.socketPath === null ? { url: redis.url } : { socketPath: redis.socketPath };
  const echo = await startEchoServer(0, '127.0.0.1', { ...target, script: 'prototype' });
  const probe = new Redis(redis.url);
  t.teardown(async () => { probe.disconnect(); await echo.close(); await redis.stop(); rmSync(dir, { recursive: true, force: true }); });
  const plan = new RequestFactory(pans).plan(50);
  const r = await runOpenLoop({ port: echo.port, connections: 4, ratePerSecond: 200, plan, dialect: DIALECT_1987 });
  t.same(r.codes, { '00': 50 });
  t.equal(await probe.xlen('{g00}:jnl'), 50, 'one journal entry per answer');
  const txKeys = await probe.keys('{g00}:tx:*');
  t.equal(txKeys.length, 50, 'one transaction hash per answer');
  const [rec, ans] = await probe.hmgetBuffer(txKeys[0]!, 'rec', 'ans');
  t.equal(decodeRecord('x', rec!.toString()).status, 'AUTHORIZED', 'the hash holds the record, stored as the switch stores records');
  t.equal(ans!.length, 240, 'and the cached answer');
  t.equal((await probe.keys('{g00}:idem:*')).length, 0, 'no separate idempotency record');
});

t.test("the cost part: each variant's write commands, script calls and AOF bytes per approval, and the switch's approvals hold money", async (t) => {
  const dirs: string[] = [];
  t.teardown(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });
  const startRedis = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'antaca-cost-'));
    dirs.push(dir);
    const redis = await startManagedRedis({ dir, appendfsync: 'always' });
    return { redis, close: () => redis.stop() };
  };
  const lines: string[] = [];
  const rows = await measureApprovalCost({ approvals: 30, warmup: 5, rounds: 1 }, startRedis, (l) => lines.push(l));
  t.same(rows.map((r) => r.variant), ['floor', 'prototype', 'switch']);
  const by = Object.fromEntries(rows.map((r) => [r.variant, r]));
  t.equal(by.floor!.writes, 6, 'the floor: both balances, the transaction, the journal, the expiry index, the idempotency record');
  t.equal(by.prototype!.writes, 8, 'the prototype: the balances, the transaction hash, the journal, the expiry index, the pointer and both reference indexes');
  t.equal(by.switch!.writes, 12, "the switch: the hold's five writes (no history list: the records index the balance), the record's six and its record log entry (history)");
  t.equal(by.switch!.scriptCalls, 1, 'the hold writes the approval\'s record in its own script call');
  for (const r of rows) t.ok(r.aofBytes > 0 && r.redisUs > 0, `${r.variant}: AOF bytes and Redis time measured`);
  t.ok(by.switch!.aofBytes > by.floor!.aofBytes, 'the switch writes more to the AOF than the floor');
  t.equal(lines.length, 3, 'a line per variant and round');
});

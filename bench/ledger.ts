// Ledger hold throughput: the ledger's own TypeScript API (Ledger.hold, called directly) against
// redis-benchmark sending the same hold script (EVALSHA, same KEYS shape, same ARGV) with the same
// number of connections and the same pipelining, in the same run, for AOF appendfsync always,
// everysec and off. `npm run bench:ledger`; BENCH_HOLDS (default 30000) holds per measurement,
// BENCH_ROUNDS (5) alternating API / redis-benchmark pairs per mode; the ratio is the median of
// the per-pair ratios (each pair ran back to back, under the same machine load),
// BENCH_CLIENTS (8) connections, BENCH_PIPELINE (16) requests in flight per connection.
// benchLedger() returns the same figures as data (npm run bench collects them).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Ledger, MAX_AMOUNT_MINOR } from '../ledger/index.js';
import { loadScripts } from '../ledger/scripts.js';
import { startManagedRedis, type AppendFsync } from '../ledger/redis-server.js';
import { envOptionLines, isMain, parseCommandLine, type EnvOptions } from '../scripts/cli.js';
import { newHistogram, percentiles, recordUs } from './loadgen.js';

export const LEDGER_OPTIONS: EnvOptions = [
  ['BENCH_HOLDS', '30000', 'holds per measurement'],
  ['BENCH_ROUNDS', '5', 'alternating API / redis-benchmark pairs per AOF mode'],
  ['BENCH_CLIENTS', '8', 'Redis connections'],
  ['BENCH_PIPELINE', '16', 'requests in flight per connection'],
];
const WARMUP = 3_000;
const MODES: AppendFsync[] = ['off', 'everysec', 'always'];

/** What one ledger benchmark run measures with. */
export interface LedgerOptions { holds: number; rounds: number; clients: number; pipeline: number }

export interface LedgerRow { mode: AppendFsync; apiPerSec: number; benchPerSec: number; ratio: number; p50Ms: number; p99Ms: number }
type Row = LedgerRow;

/** The ledger benchmark's figures: one row per AOF mode (medians over the rounds). */
export interface LedgerFigures extends LedgerOptions { redisVersion: string; rows: LedgerRow[]; ratioAlways: number }

/** Runs the ledger benchmark for every AOF mode, printing a line per round through `log`. */
export async function benchLedger(o: LedgerOptions, log: (line: string) => void = console.log): Promise<LedgerFigures> {
  const redisVersion = await redisVersionOf();
  log(`ledger hold benchmark: ${o.holds} holds per run, ${o.rounds} rounds, ${o.clients} connections x ${o.pipeline} in flight, redis-server ${redisVersion}, ${cpus().length} CPUs`);
  const rows: Row[] = [];
  for (const mode of MODES) rows.push(await measure(mode, o, log));
  return { ...o, redisVersion, rows, ratioAlways: rows.find((r) => r.mode === 'always')!.ratio };
}

function usage(): string {
  return ['usage: npm run bench:ledger', '', 'Holds/s through the ledger API against redis-benchmark running the same script, per AOF mode.', '',
    'Options (environment variables):', ...envOptionLines(LEDGER_OPTIONS)].join('\n');
}

async function main(): Promise<void> {
  parseCommandLine('bench:ledger', process.argv.slice(2), usage);
  const env = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
  const f = await benchLedger({ holds: env('BENCH_HOLDS', 30_000), rounds: env('BENCH_ROUNDS', 5), clients: env('BENCH_CLIENTS', 8), pipeline: env('BENCH_PIPELINE', 16) });
  const rows = f.rows;
  console.log('');
  console.log('appendfsync   api holds/s   redis-benchmark holds/s   ratio*   api p50 ms   api p99 ms   cost vs off');
  const off = rows.find((r) => r.mode === 'off')!;
  for (const r of rows) {
    console.log(`${r.mode.padEnd(11)} ${fmt(r.apiPerSec, 13)} ${fmt(r.benchPerSec, 25)} ${r.ratio.toFixed(2).padStart(7)} ` +
      `${r.p50Ms.toFixed(2).padStart(12)} ${r.p99Ms.toFixed(2).padStart(12)} ${pct(r.apiPerSec, off.apiPerSec).padStart(13)}`);
  }
  console.log('* median of the per-round ratios; throughputs are medians over the rounds');
  console.log('');
  for (const r of rows.filter((x) => x.mode !== 'always')) {
    console.log(`ledger hold ratio vs redis-benchmark (appendfsync ${r.mode}): ${r.ratio.toFixed(2)}`);
  }
  const always = rows.find((r) => r.mode === 'always')!;
  console.log(`ledger hold ratio vs redis-benchmark: ${always.ratio.toFixed(2)}`);
}

async function measure(mode: AppendFsync, o: LedgerOptions, log: (line: string) => void): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-bench-ledger-'));
  const server = await startManagedRedis({ dir, appendfsync: mode });
  const admin = new Redis(server.url);
  try {
    // The two clients take turns on one server, ROUNDS times each, and the medians are compared:
    // on a small shared machine a single pair of runs is at the mercy of whatever else runs.
    const api: { perSec: number; p50Ms: number; p99Ms: number }[] = [];
    const bench: number[] = [];
    for (let round = 0; round < o.rounds; round++) {
      await admin.flushall();
      api.push(await apiRun(server.url, admin, o));
      await admin.flushall();
      bench.push(await benchRun(server.port, admin, o));
      log(`  ${mode} round ${round + 1}: api ${fmt(api[round]!.perSec, 0)} holds/s, redis-benchmark ${fmt(bench[round]!, 0)} holds/s`);
    }
    const mid = median(api.map((a) => a.perSec));
    const pick = api.find((a) => a.perSec === mid)!;
    const ratio = median(api.map((a, i) => a.perSec / bench[i]!));
    return { mode, apiPerSec: mid, benchPerSec: median(bench), ratio, p50Ms: pick.p50Ms, p99Ms: pick.p99Ms };
  } finally {
    admin.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** One user balance and one deposit, funded for every hold of the run. */
async function fixture(ledger: Ledger): Promise<{ ub: string; dep: string }> {
  const dep = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'bench' })).balance.id;
  await ledger.reloadPartnerBalance({ id: dep, amountMinor: MAX_AMOUNT_MINOR, idempotencyKey: 'bench-reload' });
  const ub = (await ledger.createUserBalance({ customerId: 'bench', currency: 'EUR', configId: 'bench' })).id;
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'bench-topup', txId: 'topup', balanceId: ub, amountMinor: MAX_AMOUNT_MINOR, partnerId: null });
  return { ub, dep };
}

async function apiRun(url: string, admin: Redis, o: LedgerOptions): Promise<{ perSec: number; p50Ms: number; p99Ms: number }> {
  const { holds: HOLDS, clients: CLIENTS, pipeline: PIPELINE } = o;
  const setup = await Ledger.open(admin);
  const { ub, dep } = await fixture(setup);
  const clients = Array.from({ length: CLIENTS }, () => new Redis(url, { enableAutoPipelining: true }));
  const ledgers = await Promise.all(clients.map((c) => Ledger.open(c)));
  const expiresAtMs = Date.now() + 86_400_000;
  // Each hold's round trip in µs, in an HDR histogram like every latency the benchmarks report.
  const latencyUs = newHistogram();
  // Warm-up (JIT, script cache on each connection), not measured.
  await Promise.all(Array.from({ length: WARMUP }, (_, i) => ledgers[i % CLIENTS]!.hold({
    idempotencyKey: 'w' + i, txId: 'w' + i, balanceId: ub, depositId: dep, amountMinor: 1, expiresAtMs,
  })));
  let next = 0;
  let declined = 0;
  const loop = async (ledger: Ledger) => {
    for (;;) {
      const i = next++;
      if (i >= HOLDS) return;
      const t0 = performance.now();
      const r = await ledger.hold({ idempotencyKey: 'i' + i, txId: 't' + i, balanceId: ub, depositId: dep, amountMinor: 1 + (i % 100), expiresAtMs });
      recordUs(latencyUs, performance.now() - t0);
      if (!r.approved) declined++;
    }
  };
  const start = performance.now();
  await Promise.all(ledgers.flatMap((l) => Array.from({ length: PIPELINE }, () => loop(l))));
  const seconds = (performance.now() - start) / 1000;
  for (const c of clients) c.disconnect();
  if (declined > 0) throw new Error(`benchmark holds declined: ${declined}`);
  const p = percentiles(latencyUs);
  return { perSec: HOLDS / seconds, p50Ms: p.p50 / 1000, p99Ms: p.p99 / 1000 };
}

/** redis-benchmark sending EVALSHA of the same script with the same KEYS/ARGV shape; fresh tx and idempotency keys per request. */
async function benchRun(port: number, admin: Redis, o: LedgerOptions): Promise<number> {
  const { holds: HOLDS, clients: CLIENTS, pipeline: PIPELINE } = o;
  const setup = await Ledger.open(admin);
  const { ub, dep } = await fixture(setup);
  const script = loadScripts().find((s) => s.name === 'hold-deposit-then-user');
  if (script === undefined) throw new Error('hold script missing');
  const sha = await admin.script('LOAD', script.lua) as string;
  const p = '{g00}:';
  // hold-deposit-then-user-12's KEYS; redis-benchmark draws each __rand_int__ on its own, so the
  // company, orphan and guard slots get transaction keys of their own (the company and the guard
  // are not read: no company id, no guard; the orphan slot costs one HGET of a missing key).
  const keys = [p + 'idem:__rand_int__', p + `tx:${ub}:__rand_int__`, p + 'ub:' + ub, p + 'pbt:' + dep, p + `tx:${ub}:__rand_int__`,
    p + 'jnl', p + 'exp', p + 'hist:' + ub, p + 'world', p + `tx:${ub}:__rand_int__`, p + `tx:${ub}:__rand_int__`, p + `tx:${ub}:__rand_int__`];
  // The packed fixed arguments of the hold script; __rand_int__ gives each request its own txId.
  const argv = [`H|0|50|0|0|${Date.now() + 86_400_000}|${Date.now()}|691200000|${ub}|__rand_int__|${dep}||0`];
  const out = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-c', String(CLIENTS), '-P', String(PIPELINE),
    '-n', String(HOLDS), '-r', '100000000000', '--csv', 'EVALSHA', sha, String(keys.length), ...keys, ...argv]);
  const last = out.trim().split('\n').filter((l) => l.startsWith('"EVALSHA')).pop();
  const rps = last === undefined ? NaN : Number(JSON.parse(`[${last}]`)[1]);
  if (!Number.isFinite(rps)) throw new Error(`cannot read redis-benchmark output: ${out.slice(-300)}`);
  const approved = await admin.hget(p + 'ub:' + ub, 'b');
  if (Number(approved) <= 0) throw new Error('redis-benchmark holds did not apply');
  return rps;
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    child.once('error', rej);
    child.once('exit', (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} exited ${code}: ${out.slice(-300)}`))));
  });
}

async function redisVersionOf(): Promise<string> {
  const v = await run('redis-server', ['--version']);
  return /v=([\d.]+)/.exec(v)?.[1] ?? 'unknown';
}

function fmt(n: number, width: number): string {
  return Math.round(n).toLocaleString('en-US').padStart(width);
}

function pct(x: number, base: number): string {
  return `${(((x - base) / base) * 100).toFixed(1)}%`;
}

if (isMain(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(`bench:ledger failed: ${(e as Error).message}`);
    process.exitCode = 1;
  });
}

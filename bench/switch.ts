// `npm run bench:switch` — the switch benchmark, in one command and one run. Parts, in order:
//
//   ceiling  redis-benchmark running a minimal deposit-then-user hold (bench/lua/ceiling-hold-6.lua)
//            with EVALSHA against a private redis-server (AOF appendfsync always), 50 clients,
//            once unpipelined and once with -P 16: the approvals/s Redis alone allows here.
//   cost     Redis's cost of one approved 0100, one at a time with no load around it, for the floor's
//            script, the prototype's and the switch's own code (bench/approval-cost.ts): command
//            time, write commands and AOF bytes per approval, the medians of interleaved rounds.
//   rates    end-to-end latency at each offered rate, open-loop, against a switch running as its
//            own process (its own event loop) with a managed Redis (AOF always), per placement.
//            The placement `floor` is not the switch: it is bench/echo.ts answering each request
//            after one EVALSHA of the ceiling's minimal hold script against its own managed Redis
//            (AOF always) — what one durable Redis round trip per message costs on this machine,
//            with next to nothing around it. The placement `prototype` is the same peer writing
//            each approval as the planned redesign would (bench/lua/prototype-approval-9.lua: the
//            transaction hash as record, idempotency record and cached answer), to measure that
//            layout's Redis time and AOF bytes before building it. The first placement is the
//            ratios' baseline.
//   search   the highest offered rate whose p99 stays within the budget, stepping upward; printed
//            as a ratio to the ceiling's unpipelined rate.
//   soak     (BENCH_SOAK_S > 0) a long run at one rate, printing the switch's RSS at intervals, on
//            a switch of its own started after every placement's rates (so that the soak's Redis
//            of several GB, written out and removed, disturbs none of them)
//            (the first switch placement only).
//   burst    20,000 funded 0100s for one card, pipelined over the connections as fast as the
//            sockets take them, on a fresh Redis; then the ledger invariant check.
//
// Options (environment variables; `--help` prints them):
//   BENCH_TARGET          switch | echo (a trivial echo peer: checks the generator)   default switch
//   BENCH_PLACEMENTS      comma-separated: floor, prototype, workers, main, default     default floor,default
//   BENCH_PARTS           comma-separated parts to run                                  default ceiling,cost,rates,search,burst
//   BENCH_RATES           offered rates of the rates part, per second                   default 1000,2500,5000
//   BENCH_SECONDS         seconds per offered rate                                      default 5
//   BENCH_WARMUP_S        seconds at 1,000/s after a switch starts, not reported        default 1
//   BENCH_CONNECTIONS     TCP connections of the generator                              default 8
//   BENCH_CARDS           funded cards the requests go round                           default 40
//   BENCH_P99_BUDGET_MS   the search's p99 limit (docs/benchmarks.md, latency target)   default 5
//   BENCH_SEARCH_FROM     first rate of the search (stepped down by halves if it fails) default 1000
//   BENCH_SEARCH_STEP     step of the search, per second                                default 500
//   BENCH_SEARCH_MAX      highest rate the search tries                                 default 10000
//   BENCH_SEARCH_SECONDS  seconds per search step                                       default 2
//   BENCH_SOAK_S          soak duration in seconds, 0 = no soak                         default 0
//   BENCH_SOAK_RATE       offered rate of the soak                                      default 2500
//   BENCH_SOAK_REPORT_S   seconds between soak reports (RSS, latency)                   default 60
//   BENCH_BURST           requests of the burst                                         default 20000
//   BENCH_CEILING_REQUESTS requests per redis-benchmark run                             default 100000
//   BENCH_COST_APPROVALS  approvals per variant and round of the cost part               default 2000
//   BENCH_COST_ROUNDS     interleaved rounds of the cost part (medians)                  default 3
//   BENCH_NODE_ARGS       extra node options for the switch process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
//   BENCH_SWITCH_STDOUT   file the switch process's stdout is appended to (e.g. with --trace-gc); unset: discarded
//   BENCH_PARTNER         1: the rates again with an EXTERNAL_BALANCE program against the partner
//                         simulator (2 ms latency), on the first placement              default 0
//   BENCH_CONTROLS        1: the rates again with spend controls on every card              default 0
//   BENCH_CHIP            1: the rates again with chip reads (ARQC + iCVV verified)         default 0
//   BENCH_COPIER_MAIN     1: the rates again with the history copier on the main thread     default 0
// Switch settings (WORKERS, WORKER_ATOMICS, HOLD_COALESCING, BATCH_MAX, ...) pass through the
// environment to the switch process; PLACEMENT, ports, REDIS_URL and SWITCH_SECRET are set here.
// Every figure is written to var/bench/switch-<ISO time>.json (var/ is not in git); benchSwitch()
// returns them as data (npm run bench collects them).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startManagedRedis, freePort, type ManagedRedis } from '../ledger/redis-server.js';
import { projectRoot } from '../ledger/scripts.js';
import { checkLedger, formatReport as formatLedgerReport, openArchive } from '../ledger/check.js';
import { Ledger } from '../ledger/index.js';
import { CardStore } from '../stores/cards.js';
import { derive } from '../stores/secrets.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { runOpenLoop, runBurst, formatReport, type LoadReport } from './loadgen.js';
import { seedCards } from './seed.js';
import { ChipRequestFactory, RequestFactory, benchPan, type RequestSource } from './requests.js';
import { CardDataBuilder } from '../cardauth/card-data.js';
import { developmentKeys } from '../cardauth/keys.js';
import type { SpendControl } from '../stores/controls.js';
import { startPartnerSimulator } from '../simulators/partner/server.js';
import { envOptionLines, isMain, parseCommandLine } from '../scripts/cli.js';
import { aofState, formatCost, redisCost, type RedisCost } from './redis-cost.js';
import { formatApprovalCost, measureApprovalCost, type ApprovalCost } from './approval-cost.js';

const OPTIONS: ReadonlyArray<readonly [name: string, dflt: string, what: string]> = [
  ['BENCH_TARGET', 'switch', 'switch, or echo: a trivial echo peer that shows what the generator itself adds'],
  ['BENCH_PLACEMENTS', 'floor,default', 'comma-separated placements: floor (one EVALSHA per message, no switch), prototype (the redesigned approval\'s writes, no switch), workers, main, default (the one the switch chooses here: main on two cores or fewer, else workers); the first is the ratios\' baseline'],
  ['BENCH_PARTS', 'ceiling,cost,rates,search,burst', 'parts to run (soak runs when BENCH_SOAK_S > 0)'],
  ['BENCH_RATES', '1000,2500,5000', 'offered rates of the rates part, per second'],
  ['BENCH_SECONDS', '5', 'seconds per offered rate'],
  ['BENCH_WARMUP_S', '1', 'seconds at 1,000/s after each switch start, not reported'],
  ['BENCH_CONNECTIONS', '8', 'TCP connections of the load generator'],
  ['BENCH_CARDS', '40', 'funded cards the requests go round'],
  ['BENCH_P99_BUDGET_MS', '5', 'p99 limit of the sustainable-rate search (docs/benchmarks.md, latency target)'],
  ['BENCH_SEARCH_FROM', '1000', 'first rate of the search; if it fails, the search halves downward'],
  ['BENCH_SEARCH_STEP', '500', 'upward step of the search, per second'],
  ['BENCH_SEARCH_MAX', '10000', 'highest rate the search tries'],
  ['BENCH_SEARCH_SECONDS', '2', 'seconds per search step'],
  ['BENCH_SOAK_S', '0', 'soak duration in seconds (e.g. 600); 0 = no soak'],
  ['BENCH_SOAK_RATE', '2500', 'offered rate of the soak'],
  ['BENCH_SOAK_REPORT_S', '60', 'seconds between soak reports (RSS, latency)'],
  ['BENCH_BURST', '20000', 'requests of the one-card burst'],
  ['BENCH_CEILING_REQUESTS', '100000', 'requests per redis-benchmark run of the ceiling'],
  ['BENCH_COST_APPROVALS', '2000', 'approvals per variant and round of the cost part (Redis per approval, one at a time)'],
  ['BENCH_COST_ROUNDS', '3', 'interleaved rounds of the cost part; each figure is their median'],
  ['BENCH_NODE_ARGS', '', 'extra node options for the switch process, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof'],
  ['BENCH_SWITCH_STDOUT', '', 'file the switch process\'s stdout is appended to (--trace-gc, bench/alloc-profile.ts); unset: discarded'],
  ['BENCH_PARTNER', '0', '1: the rates again with an EXTERNAL_BALANCE program against the partner simulator (2 ms latency)'],
  ['BENCH_CONTROLS', '0', '1: the rates again with spend controls on every card (a category block list, a country block list, a daily VELOCITY counter and a SHADOW rule), on the first switch placement'],
  ['BENCH_COPIER_MAIN', '0', '1: the rates again with the history copier on the main thread (HISTORY_COPIER=main), against the default thread of its own, on the first switch placement'],
  ['BENCH_CHIP', '0', '1: the rates again with chip reads (a fresh ARQC and the iCVV in every 0100, verified under the program\'s keys), on the first switch placement'],
];
export const SWITCH_OPTIONS = OPTIONS;

function opt(name: string): string {
  const v = process.env[name];
  return v === undefined || v === '' ? OPTIONS.find((o) => o[0] === name)![1] : v;
}
function num(name: string): number {
  const n = Number(opt(name));
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name}=${opt(name)} is not a number ≥ 0`);
  return n;
}
function list(name: string): string[] {
  return opt(name).split(',').map((s) => s.trim()).filter((s) => s !== '');
}

const TARGET = opt('BENCH_TARGET');
/** The placement that is not the switch: the echo peer with one EVALSHA per message (bench/echo.ts). */
const FLOOR = 'floor';
/** Not the switch either: the echo peer writing each approval as the planned redesign would (bench/lua/prototype-approval-9.lua). */
const PROTOTYPE = 'prototype';
const PEERS = new Set([FLOOR, PROTOTYPE]);
// `default`: the placement the switch chooses on this machine (app/config.ts PLACEMENT=auto: the main
// thread on two cores or fewer, piscina workers above), named as that placement.
const PLACEMENTS = list('BENCH_PLACEMENTS').map((p) => (p === 'default' ? (availableParallelism() <= 2 ? 'main' : 'workers') : p));
/** The switch's first placement: the partner variant, the soak and the burst run on it alone. */
const SWITCH_PLACEMENT = PLACEMENTS.find((p) => !PEERS.has(p)) ?? 'workers';
const PARTS = new Set(list('BENCH_PARTS'));
const RATES = list('BENCH_RATES').map(Number);
const SECONDS = num('BENCH_SECONDS');
const WARMUP_S = num('BENCH_WARMUP_S');
const CONNECTIONS = num('BENCH_CONNECTIONS');
const CARDS = num('BENCH_CARDS');
const BUDGET_P99_US = num('BENCH_P99_BUDGET_MS') * 1000;
const NODE_ARGS = opt('BENCH_NODE_ARGS').split(' ').filter((a) => a !== '');
const AMOUNT_MINOR = 100;
const DEMO = '0019167984';
/** The partner variant's program: EXTERNAL_BALANCE, its balances kept by the partner simulator. */
const PARTNER_PROGRAM = '0019900001';
const PARTNER_LATENCY_MS = 2;
const RSS_INTERVAL_MS = 500;
const SETTLE_MAX_MS = 60_000;

// ---------------------------------------------------------------- the Redis ceiling

interface Ceiling { requests: number; unpipelinedPerSecond: number; pipelined16PerSecond: number; held: number }

async function measureCeiling(): Promise<Ceiling> {
  const dir = tempDir('antaca-bench-ceiling-');
  const server = await managedRedis(dir);
  const admin = new Redis(server.url);
  try {
    const lua = readFileSync(join(projectRoot(), 'bench', 'lua', 'ceiling-hold-6.lua'), 'utf8');
    const sha = await admin.script('LOAD', lua) as string;
    const p = '{g00}:';
    await admin.hset(p + 'ub:bench', 'a', 1e15, 'b', 0);
    await admin.hset(p + 'pbt:bench', 'a', 1e15, 'b', 0);
    const requests = num('BENCH_CEILING_REQUESTS');
    // __rand_int__ is replaced per request, so each hold has its own idempotency key and txId.
    const keys = [p + 'idem:__rand_int__', p + 'tx:bench:__rand_int__', p + 'ub:bench', p + 'pbt:bench', p + 'jnl', p + 'exp'];
    const argv = [String(AMOUNT_MINOR), 't__rand_int__', String(Date.now() + 86_400_000), String(Date.now()), '691200000'];
    const run = (pipeline: number) => redisBenchmark(['-h', server.host, '-p', String(server.port), '-c', '50', '-n', String(requests),
      '-P', String(pipeline), '-r', '100000000000', '--csv', 'EVALSHA', sha, String(keys.length), ...keys, ...argv]);
    const unpipelined = await run(1);
    const pipelined = await run(16);
    const held = await admin.xlen(p + 'jnl');
    if (held < 2 * requests * 0.99) throw new Error(`the ceiling script held ${held} of ${2 * requests}: it is declining, the figure would be wrong`);
    return { requests, unpipelinedPerSecond: unpipelined, pipelined16PerSecond: pipelined, held };
  } finally {
    admin.disconnect();
    await server.stop();
    removeDir(dir);
  }
}

/** Requests per second of the last EVALSHA line of redis-benchmark's CSV output. */
async function redisBenchmark(args: string[]): Promise<number> {
  const out = await new Promise<string>((res, rej) => {
    const child = tracked(spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    let text = '';
    child.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { text += d.toString(); });
    child.once('error', rej);
    child.once('exit', (code) => (code === 0 ? res(text) : rej(new Error(`redis-benchmark exited ${code}: ${text.slice(-300)}`))));
  });
  const last = out.trim().split('\n').filter((l) => l.startsWith('"EVALSHA')).pop();
  const rps = last === undefined ? NaN : Number(JSON.parse(`[${last}]`)[1]);
  if (!Number.isFinite(rps)) throw new Error(`cannot read redis-benchmark output: ${out.slice(-300)}`);
  return rps;
}

// ---------------------------------------------------------------- the switch under test

interface Target { name: string; pid: number; isoPort: number; httpPort: number | null; stop(): Promise<void> }

/** Seeds `cards` cards with `fundsMinor` each, and the demo program's deposit, into a fresh ledger. */
async function seed(url: string, secret: Buffer, pans: readonly string[], fundsMinor: number, configId = DEMO): Promise<string[]> {
  const redis = new Redis(url);
  try {
    return await seedCards(redis, secret, pans, { configId, fundsMinor, prefix: 'bench', cardPrefix: 'bc' });
  } finally {
    redis.disconnect();
  }
}

/**
 * What a run interrupted by Ctrl-C or a SIGTERM would leave behind: the processes it started
 * (switches, echo peers, redis-servers, redis-benchmark) and their data directories, which after
 * a soak hold gigabytes. installInterruptCleanup() kills and removes them on the way out.
 */
const leftovers = { pids: new Set<number>(), dirs: new Set<string>() };

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  leftovers.dirs.add(dir);
  return dir;
}

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  leftovers.dirs.delete(dir);
}

function tracked<T extends { pid?: number | undefined; once(event: 'exit', fn: () => void): unknown }>(child: T): T {
  const pid = child.pid;
  if (pid !== undefined) { leftovers.pids.add(pid); child.once('exit', () => leftovers.pids.delete(pid)); }
  return child;
}

async function managedRedis(dir: string): Promise<ManagedRedis> {
  const redis = await startManagedRedis({ dir, appendfsync: 'always' });
  leftovers.pids.add(redis.pid);
  void redis.exited.then(() => leftovers.pids.delete(redis.pid), () => leftovers.pids.delete(redis.pid));
  return redis;
}

/** A fresh managed Redis (appendfsync always) in its own directory, for one variant of the cost part. */
async function costRedis(): Promise<{ redis: ManagedRedis; close(): Promise<void> }> {
  const dir = tempDir('bench-cost-');
  const redis = await managedRedis(dir);
  return { redis, close: async () => { await redis.stop(); removeDir(dir); } };
}

/** On SIGINT / SIGTERM: SIGKILL every process the run started, remove their directories, exit 130 / 143. */
export function installInterruptCleanup(): void {
  const onSignal = (signal: NodeJS.Signals) => {
    for (const pid of leftovers.pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ } }
    for (const dir of leftovers.dirs) { try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ } }
    process.stderr.write(`\nbench:switch: interrupted (${signal}); its processes were stopped and their directories removed\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/**
 * Node arguments that run one of the project's modules (`app/main`, `bench/echo`) as this
 * benchmark runs: from dist/ when built (`npm run bench:switch`), from the sources under tsx when
 * the benchmark itself runs from them (tests).
 */
function moduleArgs(path: string): string[] {
  return import.meta.url.endsWith('.ts') ? ['--import=tsx', join(projectRoot(), path + '.ts')] : [join(projectRoot(), 'dist', path + '.js')];
}

function spawnChild(args: string[], env: Record<string, string>): { child: ChildProcess; stderr: () => string } {
  const child = tracked(spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
  // The switch's log lines are kept (the last few KiB) and shown only if it fails.
  let tail = '';
  child.stderr!.on('data', (d: Buffer) => { tail = (tail + d.toString()).slice(-4096); });
  // Its stdout (e.g. --trace-gc from BENCH_NODE_ARGS) goes to BENCH_SWITCH_STDOUT, or is drained.
  const out = process.env.BENCH_SWITCH_STDOUT;
  if (out) child.stdout!.pipe(createWriteStream(out, { flags: 'a' }));
  else child.stdout!.resume();
  return { child, stderr: () => tail };
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
}

async function startSwitchProcess(placement: string, redisUrl: string, secret: Buffer, extraEnv: Record<string, string> = {}): Promise<Target> {
  const isoPort = await freePort();
  const httpPort = await freePort();
  const { child, stderr } = spawnChild([...NODE_ARGS, ...moduleArgs('app/main')], {
    PLACEMENT: placement, REDIS_URL: redisUrl, ISO_PORT: String(isoPort), HTTP_PORT: String(httpPort), SWITCH_SECRET: secret.toString('hex'), ...extraEnv,
  });
  child.stdout!.resume();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try { if ((await fetch(`http://127.0.0.1:${httpPort}/health`)).status === 200) return { name: placement, pid: child.pid!, isoPort, httpPort, stop: stopper(child) }; } catch { /* not yet */ }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`switch (${placement}) did not become healthy:\n${stderr()}`);
}

/** The echo peer; with `redis`, the floor (each answer after one EVALSHA of the ceiling script there). */
async function startEchoProcess(redis: ManagedRedis | null = null, name = FLOOR): Promise<Target> {
  const env: Record<string, string> = { ECHO_PORT: '0', ECHO_REDIS_SCRIPT: name === PROTOTYPE ? 'prototype' : 'ceiling' };
  if (redis !== null) {
    if (redis.socketPath !== null) env.ECHO_REDIS_SOCKET = redis.socketPath;
    else env.ECHO_REDIS_URL = redis.url;
  }
  const { child, stderr } = spawnChild(moduleArgs('bench/echo'), env);
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /echo listening (\d+)/.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    child.once('exit', () => reject(new Error(`echo server exited:\n${stderr()}`)));
  });
  return { name: redis === null ? 'echo' : name, pid: child.pid!, isoPort: port, httpPort: null, stop: stopper(child) };
}

// ---------------------------------------------------------------- RSS of the switch process

interface RssSummary { startKiB: number; endKiB: number; maxKiB: number; samples: Array<[seconds: number, kib: number]> }

/** Samples VmRSS of a process every RSS_INTERVAL_MS (one small /proc read, off the schedule's path). */
class RssSampler {
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = Date.now();
  readonly samples: Array<[number, number]> = [];

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_INTERVAL_MS);
  }

  sample(): number {
    let kib = NaN;
    try { kib = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1]); } catch { /* exited */ }
    if (Number.isFinite(kib)) this.samples.push([(Date.now() - this.t0) / 1000, kib]);
    return kib;
  }

  stop(): RssSummary {
    clearInterval(this.timer);
    this.sample();
    const kibs = this.samples.map((s) => s[1]);
    return { startKiB: kibs[0] ?? NaN, endKiB: kibs[kibs.length - 1] ?? NaN, maxKiB: Math.max(...kibs), samples: this.samples };
  }
}


/** User + system CPU time of a process so far, in µs, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

/** How long a run waits after its last answer for the history copier before PostgreSQL's CPU time is read. */
const HISTORY_CATCH_UP_MS = 1000;

/**
 * User + system CPU time so far, in µs, of the managed PostgreSQL under `pgDir` (the switch's
 * history database): its postmaster (data/postmaster.pid) and every process it forked (the
 * backends, the WAL writer, the checkpointer). NaN when it is not running. A backend that exited
 * during a run takes its time with it: the switch's pool keeps its connections.
 */
function postgresCpuUs(pgDir: string): number {
  let postmaster: number;
  try { postmaster = Number(readFileSync(join(pgDir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]); } catch { return NaN; }
  if (!Number.isInteger(postmaster) || postmaster <= 0) return NaN;
  let total = cpuUs(postmaster);
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) total += cpuUs(Number(name));
    } catch { /* exited */ }
  }
  return total;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------- the parts against a target

interface RateRun {
  placement: string; offeredPerSecond: number; report: LoadReport; redis: RedisCost | null;
  /** CPU time (user + system, from /proc, 10 ms ticks) per answer of the target process and of redis-server. */
  targetCpuUsPerAnswer: number; redisCpuUsPerAnswer: number | null;
  /** The same of the switch's history database (its managed PostgreSQL); null for the peers. */
  historyCpuUsPerAnswer: number | null;
  /** Where the slow answers were slow, by the switch's own clocks (null for the echo and the floor). */
  clocks: ClockShares | null;
}

/**
 * Shares of a run's answers slower than 3 ms and 5 ms by three clocks: end to end (the generator,
 * from its HDR histogram), inside the switch (switch_message_latency_seconds: frame read off the
 * socket → answer handed to the socket) and the ledger script call (switch_redis_script_seconds:
 * queueing, round trip, Redis execution and fsync). Both switch histograms are Prometheus ones,
 * read before and after the run; 3 ms and 5 ms are bucket bounds, so those shares are exact.
 * An answer slow end to end but not inside the switch waited outside its clock: in the socket
 * before the switch read it (an event loop busy or paused), or in the kernel and the generator.
 */
export interface ClockShares {
  over3ms: { endToEnd: number; inSwitch: number; script: number };
  over5ms: { endToEnd: number; inSwitch: number; script: number };
}

/** Sums the cumulative bucket counts of one histogram across its label sets: le → count. */
export function histogramBuckets(metricsText: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  const re = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm');
  for (const m of metricsText.matchAll(re)) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
  return out;
}

/** Share of observations above bucket bound `le` between two scrapes (NaN with none). */
export function shareAbove(before: Map<string, number>, after: Map<string, number>, le: string): number {
  const total = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  const within = (after.get(le) ?? 0) - (before.get(le) ?? 0);
  return total > 0 ? (total - within) / total : NaN;
}

async function scrape(httpPort: number | null): Promise<string | null> {
  if (httpPort === null) return null;
  try { return await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(); } catch { return null; }
}

function clockShares(before: string | null, after: string | null, report: LoadReport, overUs: (us: number) => number): ClockShares | null {
  if (before === null || after === null) return null;
  const lat = ['switch_message_latency_seconds', 'switch_redis_script_seconds'].map((n) => [histogramBuckets(before, n), histogramBuckets(after, n)] as const);
  const at = (le: string, ms: number) => ({ endToEnd: overUs(ms * 1000) / Math.max(1, report.answered), inSwitch: shareAbove(lat[0]![0], lat[0]![1], le), script: shareAbove(lat[1]![0], lat[1]![1], le) });
  return { over3ms: at('0.003', 3), over5ms: at('0.005', 5) };
}

function pct(x: number): string {
  return Number.isNaN(x) ? '-' : `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
}

function formatClocks(c: ClockShares): string {
  const one = (k: 'over3ms' | 'over5ms') => `${pct(c[k].endToEnd)} end to end, ${pct(c[k].inSwitch)} inside the switch, ${pct(c[k].script)} in the ledger call`;
  return `answers over 3 ms: ${one('over3ms')}; over 5 ms: ${one('over5ms')}`;
}
interface SearchStep { offeredPerSecond: number; p99Us: number; answered: number; sent: number; pass: boolean }
interface SearchResult { budgetP99Us: number; steps: SearchStep[]; sustainablePerSecond: number }
interface SoakSegment { atSeconds: number; rssKiB: number; report: LoadReport }
interface PlacementResult { placement: string; rates: RateRun[]; search: SearchResult | null; soak: SoakSegment[]; rss: RssSummary }
interface BurstResult { placement: string; report: LoadReport; approved: number; declined91: number; declined05: number; declined51: number; userAvailableAfterMinor: number | null; ledgerOk: boolean | null; ledgerReport: string | null; rss: RssSummary }

/** A target under load: the process, its Redis (null for echo) and the request factory of its run. */
interface Session { target: Target; probe: Redis | null; redisPid: number | null; pgDir: string | null; factory: RequestSource; placement: string }

/**
 * Waits until the switch has answered (or dropped) every request it read, as its
 * switch_inflight_requests gauge says, so that the backlog of an overloaded run does not become
 * the latency of the next one. Gives up after SETTLE_MAX_MS and says so.
 */
async function settle(s: Session): Promise<void> {
  if (s.target.httpPort === null) return;
  const deadline = Date.now() + SETTLE_MAX_MS;
  let inflight = NaN;
  while (Date.now() < deadline) {
    // A scrape that fails (the switch busy) reads as unknown and is tried again.
    inflight = Number(/^switch_inflight_requests (\S+)$/m.exec(await scrape(s.target.httpPort) ?? '')?.[1]);
    if (inflight === 0) return;
    await sleep(200);
  }
  console.log(`  (the switch still had ${inflight} requests in flight ${SETTLE_MAX_MS / 1000} s after the run: the next run starts on a backlog)`);
}

async function runAt(s: Session, rate: number, seconds: number): Promise<RateRun> {
  await settle(s);
  const plan = s.factory.plan(Math.max(1, Math.round(rate * seconds)));
  if (s.probe !== null) await s.probe.config('RESETSTAT');
  const cpu0 = [cpuUs(s.target.pid), s.redisPid === null ? NaN : cpuUs(s.redisPid), s.pgDir === null ? NaN : postgresCpuUs(s.pgDir)];
  const metrics0 = await scrape(s.target.httpPort);
  const aof0 = s.probe === null ? null : aofState(await s.probe.info('persistence'));
  const report = await runOpenLoop({ port: s.target.isoPort, connections: CONNECTIONS, ratePerSecond: rate, plan, dialect: DIALECT_1987 });
  const clocks = clockShares(metrics0, await scrape(s.target.httpPort), report, (us) => (us === 3000 ? report.over3ms : report.over5ms));
  const targetCpuUsPerAnswer = (cpuUs(s.target.pid) - cpu0[0]!) / Math.max(1, report.answered);
  const redisCpuUsPerAnswer = s.redisPid === null ? null : (cpuUs(s.redisPid) - cpu0[1]!) / Math.max(1, report.answered);
  // The copier is behind the answers (under a second at p99): give it that before reading PostgreSQL's time.
  if (s.pgDir !== null) await sleep(HISTORY_CATCH_UP_MS);
  const historyCpuUsPerAnswer = s.pgDir === null ? null : (postgresCpuUs(s.pgDir) - cpu0[2]!) / Math.max(1, report.answered);
  const redis = s.probe === null ? null : redisCost(await s.probe.info('commandstats'), report.answered, report.codes['00'] ?? 0);
  if (redis !== null) {
    const aof1 = aofState(await s.probe!.info('persistence'));
    // A rewrite during the run starts the file over: no figure then.
    const clean = aof0 !== null && aof1.rewrites === aof0.rewrites && !aof0.rewriting && !aof1.rewriting && aof1.bytes >= aof0.bytes;
    redis.aofBytesPerAnswer = clean ? (aof1.bytes - aof0!.bytes) / Math.max(1, report.answered) : NaN;
  }
  return { placement: s.placement, offeredPerSecond: rate, report, redis, targetCpuUsPerAnswer, redisCpuUsPerAnswer, historyCpuUsPerAnswer, clocks };
}

function passes(r: LoadReport): boolean {
  return r.answered === r.sent && r.latencyUs.p99 <= BUDGET_P99_US;
}

/** Steps upward from BENCH_SEARCH_FROM until p99 leaves the budget; halves downward if the first rate fails. */
async function search(s: Session): Promise<SearchResult> {
  const seconds = num('BENCH_SEARCH_SECONDS');
  const steps: SearchStep[] = [];
  const attempt = async (rate: number) => {
    const r = (await runAt(s, rate, seconds)).report;
    const step = { offeredPerSecond: rate, p99Us: r.latencyUs.p99, answered: r.answered, sent: r.sent, pass: passes(r) };
    steps.push(step);
    console.log(`  search ${String(rate).padStart(6)}/s  p99 ${(r.latencyUs.p99 / 1000).toFixed(2)} ms  answered ${r.answered}/${r.sent}  ${step.pass ? 'within' : 'over'} budget`);
    return step.pass;
  };
  let best = 0;
  let rate = num('BENCH_SEARCH_FROM');
  if (await attempt(rate)) {
    best = rate;
    for (rate += num('BENCH_SEARCH_STEP'); rate <= num('BENCH_SEARCH_MAX'); rate += num('BENCH_SEARCH_STEP')) {
      if (!(await attempt(rate))) break;
      best = rate;
    }
  } else {
    for (rate = Math.floor(rate / 2); rate >= 125; rate = Math.floor(rate / 2)) {
      if (await attempt(rate)) { best = rate; break; }
    }
  }
  return { budgetP99Us: BUDGET_P99_US, steps, sustainablePerSecond: best };
}

async function soak(s: Session, rss: RssSampler): Promise<SoakSegment[]> {
  const total = num('BENCH_SOAK_S');
  const every = Math.max(1, num('BENCH_SOAK_REPORT_S'));
  const rate = num('BENCH_SOAK_RATE');
  const out: SoakSegment[] = [];
  console.log(`  soak: ${total} s at ${rate}/s, a report every ${every} s (segments run back to back, each packed before it starts)`);
  for (let at = 0; at < total; at += every) {
    const r = (await runAt(s, rate, Math.min(every, total - at))).report;
    const kib = rss.sample();
    out.push({ atSeconds: at + Math.min(every, total - at), rssKiB: kib, report: r });
    console.log(`  soak t=${String(at + Math.min(every, total - at)).padStart(5)} s  rss ${(kib / 1024).toFixed(1)} MiB  ` + formatReport('', r).trim());
  }
  return out;
}

/**
 * A program other than the demo one for a run: its id, the switch's extra environment, and what
 * to do once the balances exist (the partner variant funds them at the partner).
 */
interface Variant {
  name: string; configId: string; env: Record<string, string>;
  funded(balanceIds: readonly string[], fundsMinor: number): void;
  /** After the cards are seeded (ids `bc0`, `bc1`, ...), in the session's Redis. */
  seeded?(cards: CardStore, cardIds: readonly string[]): Promise<void>;
  /** The requests of the run, when not the plain purchases. */
  requests?(pans: readonly string[]): RequestSource;
  /** Cards the requests go round, when not BENCH_CARDS. */
  cards?: number;
  close(): Promise<void>;
}

/**
 * Spend controls on every card (docs/cards.md): what an issuer with rules pays. A category block
 * list with a range, a country block list, a daily VELOCITY counter far above the run (checked and
 * counted atomically in the hold) and a SHADOW rule that never matches the load.
 */
function controlsVariant(): Variant {
  const controls: SpendControl[] = [
    { id: 'no-gambling', mode: 'ENFORCED', type: 'MCC_BLOCK', values: ['7995', '7800-7802'] },
    { id: 'no-sanctioned', mode: 'ENFORCED', type: 'COUNTRY_BLOCK', values: ['PRK', 'IRN'] },
    { id: 'day-limit', mode: 'ENFORCED', type: 'VELOCITY', window: 'DAY', amount: 999_999_999_999, count: 1_000_000_000, scope: 'ALL' },
    { id: 'watch-merchant', mode: 'SHADOW', type: 'MERCHANT_BLOCK', values: ['MERCHANT0000999'] },
  ];
  return {
    name: 'controls', configId: DEMO, env: {}, funded() {},
    async seeded(cards, cardIds) { for (const id of cardIds) await cards.setControls(id, controls); },
    async close() {},
  };
}

/** The history copier on the main thread (HISTORY_COPIER=main), as it ran before it had a thread of its own. */
function copierMainVariant(): Variant {
  return { name: 'copier-main', configId: DEMO, env: { HISTORY_COPIER: 'main' }, funded() {}, async close() {} };
}

/**
 * Chip reads verified under the program's keys: a key file of the session's own (KEYS_FILE, a
 * development key set for the demo program), the same keys building each card's ARQC and iCVV.
 */
function chipVariant(): Variant {
  const dir = tempDir('antaca-bench-chip-');
  const file = join(dir, 'keys.json');
  const keys = { [DEMO]: developmentKeys() };
  writeFileSync(file, JSON.stringify(keys));
  const builder = new CardDataBuilder(keys);
  return {
    // A card makes one chip read at a time: a counter it has sent is refused when a higher one of
    // the same card was verified first, so the run goes round enough cards (each every 200 ms at
    // 5,000/s) that no two reads of a card are ever in flight together.
    name: 'chip', configId: DEMO, env: { KEYS_FILE: file }, funded() {}, cards: 1000,
    requests: (pans) => new ChipRequestFactory(pans, builder, DEMO, AMOUNT_MINOR),
    async close() { removeDir(dir); },
  };
}

/** The partner simulator (EXTERNAL_BALANCE, 2 ms per answer) and a programs file naming it. */
async function partnerVariant(): Promise<Variant> {
  const sim = await startPartnerSimulator({ config: { mode: 'EXTERNAL_BALANCE', latencyMs: PARTNER_LATENCY_MS } });
  const dir = tempDir('antaca-bench-partner-');
  const file = join(dir, 'programs.json');
  // The load carries no card data (as the demo program's, RELAXED): the partner call is what this variant measures.
  writeFileSync(file, JSON.stringify([{ configId: PARTNER_PROGRAM, bin: '555779', currency: 'EUR', mode: 'EXTERNAL_BALANCE', partner: { baseUrl: sim.url, timeoutMs: 1500 }, cardholderVerification: 'RELAXED' }]));
  return {
    name: 'partner', configId: PARTNER_PROGRAM, env: { PROGRAMS_FILE: file },
    funded(balanceIds, fundsMinor) {
      balanceIds.forEach((balanceId, i) => sim.sim.setBalance({ balanceId, userId: 'bench-' + i, currency: 'EUR', amount: fundsMinor }));
    },
    async close() { await sim.close(); removeDir(dir); },
  };
}

/** Starts a fresh Redis (switch target) and the target process, seeded with `pans` each holding fundsMinor. */
async function openSession(placement: string, pans: string[], fundsMinor: number, variant: Variant | null = null): Promise<{ s: Session; redis: ManagedRedis | null; dir: string | null; balances: string[] }> {
  if (TARGET === 'echo') return { s: { target: await startEchoProcess(), probe: null, redisPid: null, pgDir: null, factory: new RequestFactory(pans, AMOUNT_MINOR), placement: 'echo' }, redis: null, dir: null, balances: [] };
  const dir = tempDir('antaca-bench-switch-');
  const redis = await managedRedis(dir);
  if (PEERS.has(placement)) {
    const target = await startEchoProcess(redis, placement).catch(async (err: unknown) => { await redis.stop(); removeDir(dir); throw err; });
    return { s: { target, probe: new Redis(redis.url), redisPid: redis.pid, pgDir: null, factory: new RequestFactory(pans, AMOUNT_MINOR), placement }, redis, dir, balances: [] };
  }
  const secret = randomBytes(32);
  const balances = await seed(redis.url, secret, pans, fundsMinor, variant?.configId);
  variant?.funded(balances, fundsMinor);
  if (variant?.seeded !== undefined) {
    const client = new Redis(redis.url);
    try { await variant.seeded(CardStore.fromSecrets(client, derive(secret, 'env')), pans.map((_, i) => 'bc' + i)); } finally { client.disconnect(); }
  }
  let target: Target;
  try {
    // The switch's history database: a managed PostgreSQL of its own beside its Redis (initdb on
    // the session's first start), not the working directory's var/pg.
    target = await startSwitchProcess(placement, redis.url, secret, { PG_DIR: join(dir, 'pg'), ...variant?.env });
  } catch (err) {
    // Nothing of a session that did not start may keep the bench from ending.
    await redis.stop();
    removeDir(dir);
    throw err;
  }
  const name = variant === null ? placement : `${placement}+${variant.name}`;
  const factory = variant?.requests?.(pans) ?? new RequestFactory(pans, AMOUNT_MINOR);
  return { s: { target, probe: new Redis(redis.url), redisPid: redis.pid, pgDir: join(dir, 'pg'), factory, placement: name }, redis, dir, balances };
}

async function closeSession(o: { s: Session; redis: ManagedRedis | null; dir: string | null }): Promise<void> {
  o.s.probe?.disconnect();
  await o.s.target.stop();
  await o.redis?.stop();
  if (o.dir !== null) removeDir(o.dir);
}

async function warmUp(s: Session): Promise<void> {
  if (WARMUP_S > 0) await runOpenLoop({ port: s.target.isoPort, connections: CONNECTIONS, ratePerSecond: 1000, plan: s.factory.plan(Math.round(1000 * WARMUP_S)), dialect: DIALECT_1987 });
}

/**
 * One placement's rates and search on a fresh switch and Redis; with `soakOnly`, the soak alone
 * (after the warm-up) on a fresh switch of its own.
 */
async function benchPlacement(placement: string, variant: Variant | null = null, soakOnly = false): Promise<PlacementResult> {
  const pans = Array.from({ length: variant?.cards ?? CARDS }, (_, i) => benchPan(i));
  // The same total funds however many cards the run goes round.
  const session = await openSession(placement, pans, Math.floor((1e11 * CARDS) / pans.length), variant);
  const s = session.s;
  const rss = new RssSampler(s.target.pid);
  const result: PlacementResult = { placement: s.placement, rates: [], search: null, soak: [], rss: { startKiB: NaN, endKiB: NaN, maxKiB: NaN, samples: [] } };
  try {
    console.log(`\n${s.placement}${soakOnly ? ' (soak, on a switch and Redis of its own)' : ''}: pid ${s.target.pid}, ${CONNECTIONS} connections, ${CARDS} cards`);
    await warmUp(s);
    if (PARTS.has('rates') && !soakOnly) {
      for (const rate of RATES) {
        const run = await runAt(s, rate, SECONDS);
        result.rates.push(run);
        console.log(formatReport(`  ${rate}/s`, run.report));
        console.log(`    CPU per answer: ${s.placement} ${run.targetCpuUsPerAnswer.toFixed(0)} µs` + (run.redisCpuUsPerAnswer === null ? '' : `, redis-server ${run.redisCpuUsPerAnswer.toFixed(0)} µs`) +
          (run.historyCpuUsPerAnswer === null ? '' : `, PostgreSQL ${run.historyCpuUsPerAnswer.toFixed(0)} µs`));
        if (run.redis !== null) console.log('    ' + formatCost(run.redis));
        if (run.clocks !== null) console.log('    ' + formatClocks(run.clocks));
      }
    }
    if (PARTS.has('search') && variant === null && !soakOnly) result.search = await search(s);
    if (soakOnly) result.soak = await soak(s, rss);
  } finally {
    result.rss = rss.stop();
    await closeSession(session);
  }
  console.log(`  process RSS: start ${mib(result.rss.startKiB)}, end ${mib(result.rss.endKiB)}, max ${mib(result.rss.maxKiB)} MiB`);
  return result;
}

/** BENCH_BURST funded 0100s for one card, as fast as the sockets take them; then the ledger check. */
async function burst(placement: string): Promise<BurstResult> {
  const count = num('BENCH_BURST');
  // Card 0 takes the burst and holds exactly what it needs; card 1 takes the warm-up.
  const session = await openSession(placement, [benchPan(900_000), benchPan(900_001)], count * AMOUNT_MINOR);
  const s = session.s;
  const warm = { ...s, factory: new RequestFactory([benchPan(900_001)], AMOUNT_MINOR) };
  const rss = new RssSampler(s.target.pid);
  try {
    await warmUp(warm);
    const plan = new RequestFactory([benchPan(900_000)], AMOUNT_MINOR).plan(count);
    const report = await runBurst({ port: s.target.isoPort, connections: CONNECTIONS, plan, dialect: DIALECT_1987 });
    let ledgerOk: boolean | null = null;
    let ledgerReport: string | null = null;
    let userAvailableAfterMinor: number | null = null;
    if (session.redis !== null) {
      const client = new Redis(session.redis.url);
      // What the copier has taken out of Redis is counted from the switch's history database, as
      // npm run ledger:check does; it is given the time to copy the burst's last entries first.
      await sleep(HISTORY_CATCH_UP_MS);
      const archive = await openArchive({ PG_DIR: join(session.dir!, 'pg') }, client);
      const check = await checkLedger(client, archive?.archive ?? null).finally(() => archive?.close());
      ledgerOk = check.ok;
      ledgerReport = formatLedgerReport(check);
      userAvailableAfterMinor = (await (await Ledger.open(client)).getUserBalance(session.balances[0]!))?.availableMinor ?? null;
      client.disconnect();
    }
    const c = report.codes;
    return { placement: s.placement, report, approved: c['00'] ?? 0, declined91: c['91'] ?? 0, declined05: c['05'] ?? 0, declined51: c['51'] ?? 0, userAvailableAfterMinor, ledgerOk, ledgerReport, rss: rss.stop() };
  } finally {
    rss.stop();
    await closeSession(session);
  }
}

// ---------------------------------------------------------------- report

function mib(kib: number): string {
  return (kib / 1024).toFixed(1);
}

function ms(us: number): string {
  return (us / 1000).toFixed(us < 10_000 ? 2 : 0);
}

export interface Results {
  startedAt: string; machine: { cpus: number; node: string }; options: Record<string, string>;
  ceiling: Ceiling | null; placements: PlacementResult[]; burst: BurstResult | null;
  /** The cost part: Redis per approved 0100, one at a time (bench/approval-cost.ts); null when not run. */
  cost: ApprovalCost[] | null;
  /** BENCH_PARTNER=1: the rates with an EXTERNAL_BALANCE program against the partner simulator; null when skipped. */
  partner: PlacementResult | null;
  /** BENCH_CONTROLS=1, BENCH_CHIP=1: the rates with spend controls on the cards, with chip reads; empty when skipped. */
  variants: PlacementResult[];
  sustainableToCeiling: Record<string, number | null>;
}

function printSummary(r: Results): void {
  console.log('\nsummary (latency: write → answer read; late: scheduled → write; both µs-resolution HDR histograms)');
  if (r.ceiling !== null) {
    console.log(`  redis ceiling (redis-benchmark -c 50, minimal hold script, AOF always): ${Math.round(r.ceiling.unpipelinedPerSecond)}/s unpipelined, ${Math.round(r.ceiling.pipelined16PerSecond)}/s with -P 16`);
  }
  if (r.cost !== null) {
    console.log('  Redis per approved 0100, one at a time (medians):');
    for (const line of formatApprovalCost(r.cost).slice(0, 1 + r.cost.length)) console.log('  ' + line);
  }
  if (r.placements.some((p) => p.rates.length > 0) || r.partner !== null) {
    console.log('  placement  offered/s  answered/sent    p50 ms   p99 ms  p99.9 ms   max ms  late p99 ms  redis µs/answer  µs/approved  CPU µs/answer (target/redis/gen)  codes');
  }
  for (const p of [...r.placements, ...(r.partner === null ? [] : [r.partner]), ...r.variants]) {
    for (const run of p.rates) {
      const l = run.report.latencyUs;
      console.log(`  ${p.placement.padEnd(9)} ${String(run.offeredPerSecond).padStart(10)}  ${`${run.report.answered}/${run.report.sent}`.padStart(13)}  ` +
        `${ms(l.p50).padStart(8)} ${ms(l.p99).padStart(8)} ${ms(l.p999).padStart(9)} ${ms(l.max).padStart(8)} ${ms(run.report.latenessUs.p99).padStart(12)}  ` +
        `${(run.redis === null ? '-' : run.redis.usPerAnswer.toFixed(0)).padStart(15)}  ${(run.redis === null ? '-' : run.redis.usPerApproved.toFixed(0)).padStart(11)}  ` +
        `${`${run.targetCpuUsPerAnswer.toFixed(0)}/${run.redisCpuUsPerAnswer === null ? '-' : run.redisCpuUsPerAnswer.toFixed(0)}/${run.report.generatorCpuUsPerRequest.toFixed(0)}`.padStart(32)}  ${JSON.stringify(run.report.codes)}`);
    }
  }
  const base = r.placements[0];
  for (const p of r.placements.slice(1)) {
    for (const run of p.rates) {
      const b = base?.rates.find((x) => x.offeredPerSecond === run.offeredPerSecond);
      if (b === undefined) continue;
      const ratio = run.report.latencyUs.p99 / Math.max(1, b.report.latencyUs.p99);
      // The floor does a subset of the switch's work: a ratio below 1 means the floor's run was disturbed.
      const doubt = PEERS.has(base!.placement) && !PEERS.has(p.placement) && ratio < 1 ? `  (below 1: the ${base!.placement}'s run at this rate was disturbed by the machine; run again)` : '';
      console.log(`  p99 ratio ${p.placement} / ${base!.placement} at ${run.offeredPerSecond}/s: ${ratio.toFixed(2)}x${doubt}`);
    }
  }
  // The targets' ratios (docs/benchmarks.md): CPU per answer of everything a side runs — the
  // switch, its Redis and its PostgreSQL against the floor and its Redis — in the same run.
  for (const p of [...r.placements.slice(1), ...(r.partner === null ? [] : [r.partner]), ...r.variants]) {
    for (const run of p.rates) {
      const b = base?.rates.find((x) => x.offeredPerSecond === run.offeredPerSecond);
      if (b === undefined) continue;
      const side = (x: RateRun) => x.targetCpuUsPerAnswer + (x.redisCpuUsPerAnswer ?? 0) + (Number.isFinite(x.historyCpuUsPerAnswer ?? NaN) ? x.historyCpuUsPerAnswer! : 0);
      const parts = `${run.targetCpuUsPerAnswer.toFixed(0)} + ${(run.redisCpuUsPerAnswer ?? NaN).toFixed(0)}` + (run.historyCpuUsPerAnswer === null ? '' : ` + ${run.historyCpuUsPerAnswer.toFixed(0)}`);
      console.log(`  CPU per answer ${p.placement} / ${base!.placement} at ${run.offeredPerSecond}/s: (${parts}) / (${b.targetCpuUsPerAnswer.toFixed(0)} + ${(b.redisCpuUsPerAnswer ?? NaN).toFixed(0)}) µs = ${(side(run) / Math.max(1, side(b))).toFixed(2)}x` +
        `; answered ${run.report.answered}/${run.report.sent}`);
    }
  }
  const plain = r.placements.find((p) => p.placement === SWITCH_PLACEMENT);
  for (const v of r.variants) {
    for (const run of v.rates) {
      const b = plain?.rates.find((x) => x.offeredPerSecond === run.offeredPerSecond);
      if (b === undefined) continue;
      const side = (x: RateRun) => x.targetCpuUsPerAnswer + (x.redisCpuUsPerAnswer ?? 0) + (x.historyCpuUsPerAnswer ?? 0);
      console.log(`  ${v.placement} / ${SWITCH_PLACEMENT} at ${run.offeredPerSecond}/s: CPU per answer ${(side(run) / Math.max(1, side(b))).toFixed(2)}x, p99 ${(run.report.latencyUs.p99 / Math.max(1, b.report.latencyUs.p99)).toFixed(2)}x`);
    }
  }
  for (const p of r.placements) {
    if (p.search !== null) {
      const ratio = r.sustainableToCeiling[p.placement];
      console.log(`  ${p.placement}: highest rate with p99 ≤ ${p.search.budgetP99Us / 1000} ms: ${p.search.sustainablePerSecond}/s` +
        (ratio === null || ratio === undefined ? '' : `; sustainable / ceiling = ${ratio.toFixed(2)}`));
    }
    console.log(`  ${p.placement}: process RSS start ${mib(p.rss.startKiB)} MiB, end ${mib(p.rss.endKiB)} MiB, max ${mib(p.rss.maxKiB)} MiB`);
    if (p.soak.length > 0) {
      const p99s = p.soak.map((x) => x.report.latencyUs.p99);
      console.log(`  ${p.placement}: soak ${p.soak[p.soak.length - 1]!.atSeconds} s at ${opt('BENCH_SOAK_RATE')}/s: RSS ${p.soak.map((x) => mib(x.rssKiB)).join(' → ')} MiB; ` +
        `p99 ${ms(Math.min(...p99s))}-${ms(Math.max(...p99s))} ms; answered ${p.soak.reduce((n, x) => n + x.report.answered, 0)}/${p.soak.reduce((n, x) => n + x.report.sent, 0)}`);
    }
  }
  const b = r.burst;
  if (b !== null) {
    console.log(`  burst (${b.placement}): ${b.report.sent} 0100s for one card over ${CONNECTIONS} connections in ${b.report.seconds.toFixed(2)} s = ` +
      `${Math.round(b.report.answersPerSecond)} answers/s; answered ${b.report.answered}/${b.report.sent}; 00 ${b.approved}, 91 ${b.declined91}, 05 ${b.declined05}, 51 ${b.declined51}` +
      (b.userAvailableAfterMinor === null ? '' : `; card balance after ${b.userAvailableAfterMinor} minor`) +
      (b.ledgerOk === null ? '' : `; ledger check ${b.ledgerOk ? 'OK' : 'FAILED'}`));
  }
}

function writeResults(r: Results): string {
  const dir = join(projectRoot(), 'var', 'bench');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `switch-${r.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  writeFileSync(file, JSON.stringify(r, null, 2) + '\n');
  return file;
}

function usage(): string {
  return ['usage: npm run bench:switch', '',
    'The Redis ceiling, Redis per approval one at a time, open-loop latency of the switch, the sustainable rate, a one-card burst.', '',
    'Options (environment variables):', ...envOptionLines(OPTIONS), '',
    'Switch settings (WORKERS, WORKER_ATOMICS, HOLD_COALESCING, BATCH_MAX, ...) pass through to the switch process.',
    'Results: printed, and written to var/bench/switch-<ISO time>.json.'].join('\n');
}

/** Runs the parts BENCH_PARTS names, printing progress; returns every figure. */
export async function benchSwitch(): Promise<Results> {
  if (TARGET !== 'switch' && TARGET !== 'echo') throw new Error(`BENCH_TARGET=${TARGET} must be switch or echo`);
  for (const p of PLACEMENTS) if (p !== 'workers' && p !== 'main' && !PEERS.has(p)) throw new Error(`BENCH_PLACEMENTS: ${p} is not floor, prototype, workers or main`);
  const r: Results = {
    startedAt: new Date().toISOString(), machine: { cpus: cpus().length, node: process.version },
    options: Object.fromEntries(OPTIONS.map(([name]) => [name, opt(name)])), ceiling: null, placements: [], burst: null, sustainableToCeiling: {}, partner: null, variants: [], cost: null,
  };
  console.log(`bench:switch — target ${TARGET}, ${r.machine.cpus} CPUs, node ${r.machine.node}, AOF appendfsync always, ` +
    `load average ${loadavg().map((x) => x.toFixed(2)).join(' ')} before the run (figures from a machine busy with other work are its, not the switch's)`);
  if (PARTS.has('ceiling') && TARGET === 'switch') {
    r.ceiling = await measureCeiling();
    console.log(`redis ceiling: ${Math.round(r.ceiling.unpipelinedPerSecond)} holds/s unpipelined, ${Math.round(r.ceiling.pipelined16PerSecond)} holds/s with -P 16 (${r.ceiling.requests} requests each)`);
  }
  if (PARTS.has('cost') && TARGET === 'switch') {
    console.log(`\nRedis per approved 0100, one at a time (${num('BENCH_COST_APPROVALS')} approvals per variant and round, ${num('BENCH_COST_ROUNDS')} interleaved rounds, medians; appendfsync always):`);
    r.cost = await measureApprovalCost({ approvals: num('BENCH_COST_APPROVALS'), warmup: 200, rounds: Math.max(1, num('BENCH_COST_ROUNDS')) }, costRedis, (l) => console.log(l));
    for (const line of formatApprovalCost(r.cost)) console.log(line);
  }
  const placements = TARGET === 'echo' ? ['echo'] : PLACEMENTS;
  if (PARTS.has('rates') || PARTS.has('search')) {
    for (const p of placements) r.placements.push(await benchPlacement(p));
  }
  for (const p of r.placements) {
    if (p.search !== null) r.sustainableToCeiling[p.placement] = r.ceiling === null ? null : p.search.sustainablePerSecond / r.ceiling.unpipelinedPerSecond;
  }
  if (opt('BENCH_PARTNER') === '1' && TARGET === 'switch' && PARTS.has('rates')) {
    const variant = await partnerVariant();
    try { r.partner = await benchPlacement(SWITCH_PLACEMENT, variant); } finally { await variant.close(); }
  } else {
    console.log('\npartner variant: skipped (BENCH_PARTNER=1 to run it)');
  }
  for (const [flag, make] of [['BENCH_CONTROLS', controlsVariant], ['BENCH_CHIP', chipVariant], ['BENCH_COPIER_MAIN', copierMainVariant]] as const) {
    if (opt(flag) !== '1' || TARGET !== 'switch' || !PARTS.has('rates')) continue;
    const variant = make();
    try { r.variants.push(await benchPlacement(SWITCH_PLACEMENT, variant)); } finally { await variant.close(); }
  }
  if (num('BENCH_SOAK_S') > 0) {
    // After every placement's rates: the soak leaves a Redis of several GB to write out and remove.
    const on = TARGET === 'echo' ? placements[0]! : SWITCH_PLACEMENT;
    const soaked = await benchPlacement(on, null, true);
    const p = r.placements.find((x) => x.placement === soaked.placement);
    if (p === undefined) r.placements.push(soaked); else p.soak = soaked.soak;
  }
  if (PARTS.has('burst')) {
    r.burst = await burst(TARGET === 'echo' ? placements[0]! : SWITCH_PLACEMENT);
    if (r.burst.ledgerReport !== null) console.log(`\nledger check of the burst's Redis (ledger/check.ts, as npm run ledger:check):\n${r.burst.ledgerReport}`);
  }
  return r;
}

async function main(): Promise<void> {
  parseCommandLine('bench:switch', process.argv.slice(2), usage);
  installInterruptCleanup();
  const r = await benchSwitch();
  printSummary(r);
  console.log(`\nresults: ${writeResults(r)}`);
}

if (isMain(import.meta.url)) {
  main().catch((e: unknown) => { console.error(`bench:switch failed: ${(e as Error).stack ?? String(e)}`); process.exit(1); });
}

// `npm run bench:history` — what history costs: the copier's CPU per row, the sizes of hot state
// in Redis and of history in PostgreSQL, and how soon a row reaches the history database.
//
//   sizes   a switch (in this process, main-thread placement) with a managed Redis (AOF always)
//           and a managed PostgreSQL, its copier stopped: BENCH_TRANSACTIONS authorizations, then
//           their clearings (0220 with field 90). Redis's used_memory after the authorizations
//           are copied (bytes per open hold within the windows) and after the clearings are
//           (bytes per finished transaction within the windows: its hash, records, index entries,
//           cached answers, reference indexes and idempotency records until their windows end);
//           PostgreSQL's tables and indexes per transaction.
//   copy    the rows those messages left in the streams, copied by a copier of BENCH_COPY_BATCH
//           entries per stream and cycle (400 rows is what a cycle meets at 1,000 answers/s): CPU
//           per row of this process (the copier alone runs), of PostgreSQL's processes and of
//           redis-server.
//   delay   the copier running, BENCH_RATE authorizations/s for BENCH_SECONDS (open loop, this
//           process): the copy delay's p99 (write in Redis to commit in PostgreSQL, from the
//           switch's histogram) and the CPU per answer of this process, Redis and PostgreSQL.
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../app/config.js';
import { startSwitch } from '../app/start.js';
import { startManagedRedis } from '../ledger/redis-server.js';
import { startManagedPostgres } from '../history/pg-server.js';
import { HistoryCopier } from '../history/copier.js';
import { seedCards } from './seed.js';
import { derive } from '../stores/secrets.js';
import { IsoCodec } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { frame } from '../switch/net/framer.js';
import { runOpenLoop, type RequestPlan } from './loadgen.js';
import { benchPan } from './requests.js';
import { envOptionLines, isMain, parseCommandLine, type EnvOptions } from '../scripts/cli.js';

export const HISTORY_OPTIONS: EnvOptions = [
  ['BENCH_TRANSACTIONS', '10000', 'authorizations (and as many clearings) of the sizes and copy parts'],
  ['BENCH_COPY_BATCH', '200', 'entries per stream and copy cycle of the copy part (two streams: twice as many rows)'],
  ['BENCH_RATE', '1000', 'authorizations per second of the delay part'],
  ['BENCH_SECONDS', '20', 'seconds of the delay part'],
  ['BENCH_CARDS', '200', 'funded cards the requests go round'],
];

const num = (name: string): number => Number(process.env[name] || HISTORY_OPTIONS.find((o) => o[0] === name)![1]);
const DEMO = '0019167984';
const F7 = '1125101500';

/** CPU seconds of a postmaster and every process it forked (its backends, checkpointer, WAL writer), those that have exited included. */
function postgresCpuSeconds(postmaster: number): number {
  let total = 0;
  try {
    const stat = readFileSync(`/proc/${postmaster}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
  } catch { /* gone */ }
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Children and their own (exited ones are counted by the parent's cutime/cstime).
      if (Number(f[1]) === postmaster) total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    } catch { /* gone */ }
  }
  return total;
}

async function redisCpuSeconds(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const v = (k: string) => Number(new RegExp(`^${k}:([\\d.]+)`, 'm').exec(info)?.[1] ?? 0);
  return v('used_cpu_user') + v('used_cpu_sys');
}

async function usedMemory(r: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await r.info('memory'))?.[1] ?? 0);
}

/** 0100s (kind auth) or their 0220 clearings (field 90 naming the 0100 of the same index). */
function plan(codec: IsoCodec, pans: string[], count: number, kind: 'auth' | 'clear', first = 0): RequestPlan {
  const frames: Buffer[] = [];
  const stans = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const n = first + i;
    const stan = (n % 999_998) + 1;
    const acq = String(100000 + Math.floor(n / 999_998));
    const pan = pans[n % pans.length]!;
    const fields = new Map<number, string>([
      [2, pan], [3, '000000'], [4, '000000000100'], [7, kind === 'auth' ? F7 : '1125111500'], [11, String(stan).padStart(6, '0')],
      [12, '101500'], [13, '1125'], [14, '3012'], [18, '5411'], [22, '051'], [32, acq], [37, String(n).padStart(12, '0')],
      [41, 'TERM0001'], [42, 'MERCHANT0000001'], [49, '978'],
    ]);
    if (kind === 'clear') fields.set(90, '0100' + String(stan).padStart(6, '0') + F7 + acq.padStart(11, '0') + '0'.repeat(11));
    frames.push(frame(codec.pack({ mti: kind === 'auth' ? '0100' : '0220', fields })));
    stans[i] = stan;
  }
  return { frames, stans };
}

export async function benchHistory(log: (line: string) => void = console.log): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-bench-history-'));
  chmodSync(dir, 0o755);
  const redisServer = await startManagedRedis({ dir: join(dir, 'redis'), appendfsync: 'always' });
  const pgServer = await startManagedPostgres({ dir: join(dir, 'pg') });
  const redis = new Redis(redisServer.url);
  const secret = randomBytes(32);
  const out: Record<string, number> = {};
  const app = await startSwitch({
    config: loadConfig({ ISO_PORT: '0', HTTP_PORT: '0', REDIS_URL: redisServer.url, DATABASE_URL: pgServer.url, LOG_LEVEL: 'warn' }),
    placement: 'main', secrets: derive(secret, 'env'), log: () => {},
  });
  try {
    const n = num('BENCH_TRANSACTIONS');
    const pans = Array.from({ length: num('BENCH_CARDS') }, (_, i) => benchPan(i));
    await seedCards(redis, secret, pans, { configId: DEMO, fundsMinor: 1e10, prefix: 'bh' });
    const codec = new IsoCodec(DIALECT_1987);
    const copier = new HistoryCopier({ redis, keys: app.ledger.keys, pool: app.history.pool, windows: app.ledger.windows, log: () => {}, batchMax: num('BENCH_COPY_BATCH') });
    const drain = async (): Promise<{ rows: number; cpuUs: number; pgUs: number; redisUs: number; seconds: number }> => {
      const [c0, p0, r0, t0] = [process.cpuUsage(), postgresCpuSeconds(pgServer.pid), await redisCpuSeconds(redis), performance.now()];
      let rows = 0;
      for (;;) { const k = await copier.cycle(); rows += k; if (k === 0) break; }
      const c1 = process.cpuUsage(c0);
      return { rows, cpuUs: c1.user + c1.system, pgUs: (postgresCpuSeconds(pgServer.pid) - p0) * 1e6, redisUs: ((await redisCpuSeconds(redis)) - r0) * 1e6, seconds: (performance.now() - t0) / 1000 };
    };
    await drain(); // the seeding's journal
    await app.history.copier.stop();
    await new Promise((r) => setTimeout(r, 500));
    const base = await usedMemory(redis);
    const pgBase = await pgBytes(app.history.pool);

    const auths = await runOpenLoop({ port: app.isoPort, connections: 4, ratePerSecond: 2000, plan: plan(codec, pans, n, 'auth'), dialect: DIALECT_1987 });
    log(`authorizations: ${auths.answered} answered, codes ${JSON.stringify(auths.codes)}`);
    await new Promise((r) => setTimeout(r, 500)); // records written after the answers
    const copyAuth = await drain();
    const open = await usedMemory(redis);
    const clears = await runOpenLoop({ port: app.isoPort, connections: 4, ratePerSecond: 2000, plan: plan(codec, pans, n, 'clear'), dialect: DIALECT_1987 });
    log(`clearings: ${clears.answered} answered, codes ${JSON.stringify(clears.codes)}`);
    await new Promise((r) => setTimeout(r, 500));
    const copyClear = await drain();
    const finished = await usedMemory(redis);
    const pgAfter = await pgBytes(app.history.pool);

    out.redisBytesPerOpenHold = (open - base) / n;
    out.redisBytesPerFinishedTransaction = (finished - base) / n;
    out.pgBytesPerTransaction = (pgAfter.total - pgBase.total) / n;
    out.pgJournalBytesPerTransaction = (pgAfter.journal - pgBase.journal) / n;
    out.pgRecordsBytesPerTransaction = (pgAfter.records - pgBase.records) / n;
    log(`sizes: Redis ${out.redisBytesPerOpenHold.toFixed(0)} B per open hold, ${out.redisBytesPerFinishedTransaction.toFixed(0)} B per finished transaction (hold + clearing) within the windows; ` +
      `PostgreSQL ${out.pgBytesPerTransaction.toFixed(0)} B per transaction (journal ${out.pgJournalBytesPerTransaction.toFixed(0)}, records ${out.pgRecordsBytesPerTransaction.toFixed(0)}, tables and indexes)`);
    for (const [name, c] of [['authorizations', copyAuth], ['clearings', copyClear]] as const) {
      log(`copy (${name}): ${c.rows} rows in ${c.seconds.toFixed(2)} s (${(c.rows / c.seconds).toFixed(0)} rows/s); CPU per row: copier ${(c.cpuUs / c.rows).toFixed(1)} µs, ` +
        `postgres ${(c.pgUs / c.rows).toFixed(1)} µs, redis-server ${(c.redisUs / c.rows).toFixed(1)} µs, total ${((c.cpuUs + c.pgUs + c.redisUs) / c.rows).toFixed(1)} µs`);
    }
    const rows = copyAuth.rows + copyClear.rows;
    out.copyRows = rows;
    out.copierCpuUsPerRow = (copyAuth.cpuUs + copyClear.cpuUs) / rows;
    out.postgresCpuUsPerRow = (copyAuth.pgUs + copyClear.pgUs) / rows;
    out.redisCpuUsPerRow = (copyAuth.redisUs + copyClear.redisUs) / rows;
    out.copyCpuUsPerRow = out.copierCpuUsPerRow + out.postgresCpuUsPerRow + out.redisCpuUsPerRow;

    app.history.copier.start();
    const rate = num('BENCH_RATE');
    const seconds = num('BENCH_SECONDS');
    const before = await delayBuckets(app.httpPort);
    const [c0, p0, r0] = [process.cpuUsage(), postgresCpuSeconds(pgServer.pid), await redisCpuSeconds(redis)];
    const run = await runOpenLoop({ port: app.isoPort, connections: 4, ratePerSecond: rate, plan: plan(codec, pans, rate * seconds, 'auth', n), dialect: DIALECT_1987 });
    await new Promise((r) => setTimeout(r, 1500));
    const c1 = process.cpuUsage(c0);
    const after = await delayBuckets(app.httpPort);
    out.delayP99Seconds = p99Bound(before, after);
    out.answers = run.answered;
    out.processCpuUsPerAnswer = (c1.user + c1.system) / run.answered;
    out.postgresCpuUsPerAnswer = (postgresCpuSeconds(pgServer.pid) - p0) * 1e6 / run.answered;
    out.redisCpuUsPerAnswer = ((await redisCpuSeconds(redis)) - r0) * 1e6 / run.answered;
    log(`delay at ${rate}/s for ${seconds} s: ${run.answered} answered (p99 latency ${(run.latencyUs.p99 / 1000).toFixed(2)} ms); copy delay p99 ≤ ${out.delayP99Seconds} s; ` +
      `CPU per answer: this process (switch, copier and load generator) ${out.processCpuUsPerAnswer.toFixed(0)} µs, redis-server ${out.redisCpuUsPerAnswer.toFixed(0)} µs, postgres ${out.postgresCpuUsPerAnswer.toFixed(0)} µs`);
    log(`copying, per approved 0100 (2 rows: its journal entry and its record): ${(2 * out.copyCpuUsPerRow).toFixed(0)} µs of CPU`);
  } finally {
    await app.stop();
    redis.disconnect();
    await pgServer.stop();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

async function pgBytes(pool: import('pg').Pool): Promise<{ total: number; journal: number; records: number }> {
  const r = await pool.query(`SELECT pg_total_relation_size('history.journal_entries')::bigint AS j, pg_total_relation_size('history.records')::bigint AS r`);
  const journal = Number(r.rows[0].j);
  const records = Number(r.rows[0].r);
  return { total: journal + records, journal, records };
}

async function delayBuckets(port: number): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = new Map<number, number>();
  for (const m of text.matchAll(/^switch_history_copy_delay_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) out.set(m[1] === '+Inf' ? Infinity : Number(m[1]), Number(m[2]));
  return out;
}

/** The smallest bucket bound under which 99 % of the delays observed between the two readings fall. */
function p99Bound(before: Map<number, number>, after: Map<number, number>): number {
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const [le, c] of [...after].sort((a, b) => a[0] - b[0])) {
    if (c - (before.get(le) ?? 0) >= 0.99 * total) return le;
  }
  return Infinity;
}

if (isMain(import.meta.url)) {
  parseCommandLine('bench:history', process.argv.slice(2), () => [
    'usage: npm run bench:history', '',
    'The history copier\'s CPU per row, Redis bytes per open hold and per finished transaction,',
    'PostgreSQL bytes per transaction, and the copy delay\'s p99 at a steady rate.', '',
    'Options (environment variables):', ...envOptionLines(HISTORY_OPTIONS),
  ].join('\n'));
  benchHistory().then(() => process.exit(0), (err: unknown) => { console.error(err); process.exit(1); });
}

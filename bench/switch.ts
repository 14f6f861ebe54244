// `npm run bench:switch`: the whole switch under open-loop 0100 load, once per placement of the
// deciding code and its Redis I/O, against one managed Redis with AOF fsync always (the default).
// The switch runs as its own process (node dist/switch/main.js), the load generator here, so
// they do not share an event loop. Placements run interleaved, and medians are reported, because
// this 2-core machine is shared and noisy.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startManagedRedis, freePort } from '../ledger/redis-server.js';
import { Ledger } from '../ledger/index.js';
import { CardStore, luhnCheckDigit } from '../switch/cards.js';
import { derive } from '../switch/secrets.js';
import { runOpenLoop, formatReport, type LoadReport } from './loadgen.js';
import type { IsoMessage } from '../switch/iso/codec.js';

const RATES = (process.env.BENCH_RATES ?? '2000,5000').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CARDS = 2000;
/** BENCH_NODE_ARGS: extra node options for the switch process, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const CONNECTIONS = 4;
const DEMO = '0019167984';

interface Variant { name: string; env: Record<string, string> }
const ALL_VARIANTS: Variant[] = [
  { name: 'workers (atomics sync)', env: { PLACEMENT: 'workers', WORKER_ATOMICS: 'sync', WORKERS: '2' } },
  { name: 'workers (atomics async)', env: { PLACEMENT: 'workers', WORKER_ATOMICS: 'async', WORKERS: '2' } },
  { name: 'workers (atomics disabled)', env: { PLACEMENT: 'workers', WORKER_ATOMICS: 'disabled', WORKERS: '2' } },
  { name: 'main thread', env: { PLACEMENT: 'main' } },
  { name: 'workers, holds one by one', env: { PLACEMENT: 'workers', WORKER_ATOMICS: 'disabled', WORKERS: '2', HOLD_COALESCING: 'off' } },
  { name: 'main, holds one by one', env: { PLACEMENT: 'main', HOLD_COALESCING: 'off' } },
];
/** BENCH_VARIANTS: indexes into the list above (e.g. `2,3`); the first one chosen is the baseline of the ratios. */
const VARIANTS = process.env.BENCH_VARIANTS === undefined ? ALL_VARIANTS
  : process.env.BENCH_VARIANTS.split(',').map((i) => ALL_VARIANTS[Number(i)]).filter((v): v is Variant => v !== undefined);

function pan(i: number): string {
  const body = '555770' + String(i).padStart(9, '0');
  return body + luhnCheckDigit(body);
}

async function seed(url: string, secret: Buffer): Promise<void> {
  const redis = new Redis(url);
  const ledger = await Ledger.open(redis);
  const cards = CardStore.fromSecrets(redis, derive(secret, 'env'));
  const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: DEMO });
  await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: 1e13, idempotencyKey: 'bench-deposit' });
  for (let i = 0; i < CARDS; i++) {
    const b = await ledger.createUserBalance({ customerId: 'bench-' + i, currency: 'EUR', configId: DEMO });
    await ledger.post({ type: 'TOPUP', idempotencyKey: 'bench-top-' + i, txId: 'bench-top-' + i, balanceId: b.id, amountMinor: 1e11, partnerId: null });
    await cards.put(pan(i), { id: 'bc' + i, customerId: 'bench-' + i, balanceId: b.id, configId: DEMO, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
  }
  redis.disconnect();
}

async function startSwitch(v: Variant, redisUrl: string, secret: Buffer): Promise<{ child: ChildProcess; isoPort: number }> {
  const isoPort = await freePort();
  const httpPort = await freePort();
  const child = spawn(process.execPath, [...NODE_ARGS, new URL('../switch/main.js', import.meta.url).pathname], {
    env: { ...process.env, ...v.env, REDIS_URL: redisUrl, ISO_PORT: String(isoPort), HTTP_PORT: String(httpPort), SWITCH_SECRET: secret.toString('hex') },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try { if ((await fetch(`http://127.0.0.1:${httpPort}/health`)).status === 200) return { child, isoPort }; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`switch (${v.name}) did not become healthy`);
}

let seq = 0;
function request(i: number): IsoMessage {
  seq++;
  const f7 = '1125' + String(100000 + (seq % 900000)).padStart(6, '0');
  return {
    mti: '0100',
    fields: new Map<number, string>([
      [2, pan(i % CARDS)], [3, '000000'], [4, '000000000100'], [7, f7], [11, '000000'], [12, '101500'], [13, '1125'],
      [14, '3012'], [18, '5411'], [22, '051'], [32, String(100000 + (seq >> 10))], [37, String(seq).padStart(12, '0')],
      [41, 'TERM0001'], [42, 'MERCHANT0000001'], [49, '978'],
    ]),
  };
}

/** Redis time per answered request, by command, from INFO commandstats (reset before the run). */
function redisCost(info: string, answered: number): string {
  const parts: string[] = [];
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm)) {
    const usec = Number(m[3]);
    total += usec;
    if (usec / Math.max(1, answered) >= 1) parts.push(`${m[1]} ${(usec / Math.max(1, answered)).toFixed(1)} µs (${(Number(m[2]) / Math.max(1, answered)).toFixed(2)} calls)`);
  }
  return `redis per answer: ${(total / Math.max(1, answered)).toFixed(1)} µs — ${parts.join(', ')}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-bench-switch-'));
  const redis = await startManagedRedis({ dir, appendfsync: 'always' });
  const secret = randomBytes(32);
  try {
    await seed(redis.url, secret);
    console.log(`open-loop 0100 load over ${CONNECTIONS} connections, ${SECONDS} s per run, ${CARDS} cards, AOF appendfsync always, ${ROUNDS} rounds, placements interleaved`);
    for (const rate of RATES) {
      const results = new Map<string, LoadReport[]>();
      for (let round = 0; round < ROUNDS; round++) {
        for (const v of VARIANTS) {
          const { child, isoPort } = await startSwitch(v, redis.url, secret);
          await runOpenLoop({ port: isoPort, ratePerSecond: rate, durationSeconds: 1, connections: CONNECTIONS, makeRequest: request }); // warm-up
          const probe = new Redis(redis.url);
          await probe.config('RESETSTAT');
          const r = await runOpenLoop({ port: isoPort, ratePerSecond: rate, durationSeconds: SECONDS, connections: CONNECTIONS, makeRequest: request });
          console.log(formatReport(`${rate}/s ${v.name} #${round + 1}`, r));
          console.log('  ' + redisCost(await probe.info('commandstats'), r.answered));
          probe.disconnect();
          results.set(v.name, [...(results.get(v.name) ?? []), r]);
          child.kill('SIGTERM');
          await new Promise((r2) => child.once('exit', r2));
        }
      }
      console.log(`\n${rate}/s offered, medians over rounds:`);
      const rows = VARIANTS.map((v) => {
        const rs = results.get(v.name) ?? [];
        return { name: v.name, p50: median(rs.map((r) => r.latencyMs.p50)), p99: median(rs.map((r) => r.latencyMs.p99)), tput: median(rs.map((r) => r.throughputPerSecond)), unanswered: rs.reduce((n, r) => n + r.unanswered, 0) };
      });
      for (const r of rows) console.log(`  ${r.name.padEnd(26)} p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  throughput ${r.tput.toFixed(0)}/s  unanswered ${r.unanswered}`);
      const base = rows[0] as (typeof rows)[number];
      for (const r of rows.slice(1)) console.log(`  p99 ratio ${r.name} / ${base.name}: ${(r.p99 / base.p99).toFixed(2)}x`);
      console.log('');
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });

// `npm run bench:soak` — a soak of hot state and history: a switch (in this process, main-thread
// placement) with a managed Redis (AOF always) and a managed PostgreSQL, fed at a steady rate with
// authorizations that are each cleared a second later (an 0220 naming it in field 90), with every
// retention window a few seconds long. Every minute it prints Redis's memory, its key count, the
// history backlog and the rows in the history database: once the windows have passed, Redis's
// memory stops growing. At the end it waits for the backlog to drain and checks that the history
// database holds a record of every message answered, that the API lists every transaction of every
// card, and that the ledger check passes over Redis and the history database. Exit 0 when all hold.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../app/config.js';
import { startSwitch } from '../app/start.js';
import { startManagedRedis } from '../ledger/redis-server.js';
import { startManagedPostgres } from '../history/pg-server.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { seedCards } from './seed.js';
import { derive } from '../stores/secrets.js';
import { IsoCodec } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { frame } from '../switch/net/framer.js';
import { benchPan } from './requests.js';
import { envOptionLines, isMain, parseCommandLine, type EnvOptions } from '../scripts/cli.js';

export const SOAK_OPTIONS: EnvOptions = [
  ['BENCH_SOAK_MINUTES', '10', 'minutes of traffic'],
  ['BENCH_SOAK_RATE', '100', 'authorizations per second (each cleared a second later: twice as many messages)'],
  ['BENCH_SOAK_CARDS', '100', 'funded cards the authorizations go round'],
  ['BENCH_SOAK_REPORT_S', '60', 'seconds between reports'],
  ['REDIS_RETENTION', '20s', 'the switch\'s window for finished transactions and records (and the others below)'],
  ['DUPLICATE_WINDOW', '20s', 'the cached answers\' window'],
  ['REFERENCE_RETENTION', '30s', 'the reference indexes\' window'],
];
const opt = (name: string): string => process.env[name] || SOAK_OPTIONS.find((o) => o[0] === name)![1];
const DEMO = '0019167984';
const F7 = '1207101500';

/** One request of the soak, by its STAN: what it was and the answer's field 39 once read. */
interface Sent { kind: 'auth' | 'clear'; card: number }

export async function soak(log: (line: string) => void = console.log): Promise<boolean> {
  const minutes = Number(opt('BENCH_SOAK_MINUTES'));
  const rate = Number(opt('BENCH_SOAK_RATE'));
  const cardCount = Number(opt('BENCH_SOAK_CARDS'));
  const reportS = Number(opt('BENCH_SOAK_REPORT_S'));
  const dir = mkdtempSync(join(tmpdir(), 'antaca-soak-'));
  chmodSync(dir, 0o755);
  const redisServer = await startManagedRedis({ dir: join(dir, 'redis'), appendfsync: 'always' });
  const pgServer = await startManagedPostgres({ dir: join(dir, 'pg') });
  const redis = new Redis(redisServer.url);
  const secret = randomBytes(32);
  const app = await startSwitch({
    config: loadConfig({
      ISO_PORT: '0', HTTP_PORT: '0', REDIS_URL: redisServer.url, DATABASE_URL: pgServer.url, LOG_LEVEL: 'warn',
      REDIS_RETENTION: opt('REDIS_RETENTION'), DUPLICATE_WINDOW: opt('DUPLICATE_WINDOW'), REFERENCE_RETENTION: opt('REFERENCE_RETENTION'),
    }),
    placement: 'main', secrets: derive(secret, 'env'), log: (level, msg) => { if (level !== 'info') log(`  switch ${level}: ${msg}`); },
  });
  let ok = true;
  try {
    const pans = Array.from({ length: cardCount }, (_, i) => benchPan(700_000 + i));
    await seedCards(redis, secret, pans, { configId: DEMO, fundsMinor: 1e11, prefix: 'soak' });
    const codec = new IsoCodec(DIALECT_1987);
    const link = await openLink(app.isoPort, codec);
    const sent = new Map<number, Sent>();
    const codes = new Map<string, number>();
    const perCard = new Array<number>(cardCount).fill(0);
    let answered = 0;
    link.onAnswer = (stan, code) => {
      const s = sent.get(stan);
      if (s === undefined) return;
      sent.delete(stan);
      answered++;
      codes.set(`${s.kind} ${code}`, (codes.get(`${s.kind} ${code}`) ?? 0) + 1);
      perCard[s.card]!++;
    };
    // Request n: authorization n (STAN 2n+1), its clearing a second later (STAN 2n+2); the
    // acquirer id changes every 400,000 authorizations so that STANs never repeat within it.
    const message = (n: number, kind: 'auth' | 'clear'): Buffer => {
      const stanOf = (m: number, k: 'auth' | 'clear') => ((2 * m + (k === 'auth' ? 0 : 1)) % 800_000) + 1;
      const acq = String(200000 + Math.floor((2 * n) / 800_000));
      const stan = String(stanOf(n, kind)).padStart(6, '0');
      const fields = new Map<number, string>([
        [2, pans[n % cardCount]!], [3, '000000'], [4, '000000000100'], [7, kind === 'auth' ? F7 : '1207111500'], [11, stan], [12, '101500'],
        [13, '1207'], [14, '3012'], [18, '5411'], [22, '051'], [32, acq], [37, String(n).padStart(12, '0')], [41, 'TERM0001'],
        [42, 'MERCHANT0000001'], [49, '978'],
      ]);
      if (kind === 'clear') fields.set(90, '0100' + String(stanOf(n, 'auth')).padStart(6, '0') + F7 + acq.padStart(11, '0') + '0'.repeat(11));
      sent.set(Number(stan), { kind, card: n % cardCount });
      return frame(codec.pack({ mti: kind === 'auth' ? '0100' : '0220', fields }));
    };
    const t0 = Date.now();
    const endMs = t0 + minutes * 60_000;
    let next = 0;
    let nextReport = t0 + reportS * 1000;
    const memory: number[] = [];
    log(`soak: ${minutes} min at ${rate} authorizations/s, each cleared a second later, ${cardCount} cards; windows ${opt('REDIS_RETENTION')} / ${opt('DUPLICATE_WINDOW')} / ${opt('REFERENCE_RETENTION')}`);
    log('  minute  answered   Redis MiB   keys      backlog  history records  history journal');
    while (Date.now() < endMs) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate);
      const out: Buffer[] = [];
      for (; next < due; next++) {
        out.push(message(next, 'auth'));
        if (next >= rate) out.push(message(next - rate, 'clear'));
      }
      if (out.length > 0) link.write(Buffer.concat(out));
      if (Date.now() >= nextReport) {
        nextReport += reportS * 1000;
        memory.push(await report(log, redis, app, (Date.now() - t0) / 60_000, answered));
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    // The last second's clearings, then everything answered and copied.
    const tail: Buffer[] = [];
    for (let n = Math.max(0, next - rate); n < next; n++) tail.push(message(n, 'clear'));
    link.write(Buffer.concat(tail));
    for (let i = 0; i < 600 && sent.size > 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 600 && (await app.history.copier.backlog()).entries > 0; i++) await new Promise((r) => setTimeout(r, 100));
    memory.push(await report(log, redis, app, (Date.now() - t0) / 60_000, answered));
    link.close();
    log(`answers: ${[...codes].map(([k, v]) => `${k}: ${v}`).join(', ')}; unanswered ${sent.size}`);

    const records = Number((await app.history.pool.query('SELECT count(*) AS n FROM history.records WHERE NOT forgotten')).rows[0].n);
    const holds = ok && records === answered;
    log(`history database: ${records} records for ${answered} messages answered: ${holds ? 'every one' : 'MISSING ' + (answered - records)}`);
    ok &&= holds && sent.size === 0;
    let listed = 0;
    let mismatched = 0;
    for (let c = 0; c < cardCount; c++) {
      let cursor: string | null = null;
      let n = 0;
      do {
        const r = await fetch(`http://127.0.0.1:${app.httpPort}/secure/transactions?cardId=soak${c}&limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
        const page = await r.json() as { items: unknown[]; next: string | null };
        n += page.items.length;
        cursor = page.next;
      } while (cursor !== null);
      listed += n;
      if (n !== perCard[c]) mismatched++;
    }
    log(`API: ${listed} transactions listed over ${cardCount} cards; ${mismatched === 0 ? 'every card lists every message' : `${mismatched} cards list fewer than they were sent`}`);
    ok &&= mismatched === 0;
    const check = await checkLedger(redis, app.history.reads);
    log(formatReport(check));
    ok &&= check.ok;
    if (memory.length >= 3) {
      const late = memory.slice(-3);
      log(`Redis memory over the last reports: ${late.map((m) => (m / 1048576).toFixed(1)).join(', ')} MiB`);
    }
  } finally {
    await app.stop();
    redis.disconnect();
    await pgServer.stop();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  log(ok ? 'soak: PASS' : 'soak: FAIL');
  return ok;
}

async function report(log: (line: string) => void, redis: Redis, app: Awaited<ReturnType<typeof startSwitch>>, minute: number, answered: number): Promise<number> {
  const used = Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1] ?? 0);
  const keys = await redis.dbsize();
  const backlog = await app.history.copier.backlog();
  const r = (await app.history.pool.query('SELECT (SELECT count(*) FROM history.records) AS r, (SELECT count(*) FROM history.journal_entries) AS j')).rows[0];
  log(`  ${minute.toFixed(1).padStart(6)}  ${String(answered).padStart(8)}  ${(used / 1048576).toFixed(1).padStart(10)}  ${String(keys).padStart(6)}  ${String(backlog.entries).padStart(11)}  ${String(r.r).padStart(15)}  ${String(r.j).padStart(15)}`);
  return used;
}

/** A processor link: frames written as given, answers read and matched by STAN (field 11). */
async function openLink(port: number, codec: IsoCodec): Promise<{ write(b: Buffer): void; close(): void; onAnswer: (stan: number, code: string) => void }> {
  const socket: Socket = await new Promise((res, rej) => { const s = connect({ port, host: '127.0.0.1' }, () => res(s)); s.once('error', rej); });
  socket.setNoDelay(true);
  const link = { write: (b: Buffer) => { socket.write(b); }, close: () => { socket.destroy(); }, onAnswer: (_s: number, _c: string) => {} };
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      const body = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      const m = codec.unpack(body);
      if (m.ok) link.onAnswer(Number(m.msg.fields.get(11) ?? -1), String(m.msg.fields.get(39) ?? ''));
    }
  });
  return link;
}

if (isMain(import.meta.url)) {
  parseCommandLine('bench:soak', process.argv.slice(2), () => [
    'usage: npm run bench:soak', '',
    'A soak of hot state and history: authorizations each cleared, windows of seconds; Redis memory',
    'per report, then the history database, the API and the ledger check over everything.', '',
    'Options (environment variables):', ...envOptionLines(SOAK_OPTIONS),
  ].join('\n'));
  soak().then((ok) => process.exit(ok ? 0 : 1), (err: unknown) => { console.error(err); process.exit(1); });
}

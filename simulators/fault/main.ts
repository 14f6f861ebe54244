// `npm run fault-run -- [--seed N] [--count 10000] [--rate 300]`: a seeded fault run of the
// partner modes. Two partner simulators (EXTERNAL_BALANCE and SHARED_AUTHORIZATION) answering 5 %
// of calls 500 and hanging 2 %, a managed Redis (AOF always) in a temporary directory, and a switch
// in a child process. Cards are provisioned through the management API; a seeded mix of 0100,
// 0200, 0120, 0220, 0400 and refunds is sent open loop over 4 connections. At a third of the run
// the redis-server is killed (SIGKILL) and restarted on its port and data; at two thirds the switch
// is stopped (SIGTERM) and a new one started on the same Redis. Then the outbox is drained, the
// ledger checked (ledger/check.ts) and the EXTERNAL_BALANCE partner's balances reconciled with
// the switch's answers and records. Exit 0 only when the ledger check passes and nothing is left
// unreconciled; 1 otherwise; 2 on a bad argument.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { checkLedger } from '../../ledger/check.js';
import { HistoryReads, historyPool, startManagedPostgres } from '../../history/index.js';
import { Ledger } from '../../ledger/index.js';
import { freePort, startManagedRedis, type ManagedRedis } from '../../ledger/redis-server.js';
import { projectRoot } from '../../ledger/scripts.js';
import { transactionId } from '../../iso/wire.js';
import { ManagementApi } from '../lib/management-api.js';
import { startPartnerSimulator, type RunningPartnerSim } from '../partner/server.js';
import { freshSeed } from '../partner/rng.js';
import { planMessages, type PlannedMessage } from './plan.js';
import { ACQUIRER, sendPlan, TERMINAL, type Outcome, type SentCard } from './sender.js';

const EXT = { configId: '0000000051', bin: '55577051' };
const SHA = { configId: '0000000052', bin: '55577052' };
const CARDS_PER_PROGRAM = 16;
const CONNECTIONS = 4;
/** What each card's balance starts with: at the partner (EXTERNAL_BALANCE) or topped up (SHARED_AUTHORIZATION). */
const FUND_MINOR = 5_000_000;
const DEPOSIT_MINOR = 1_000_000_000;
const DRAIN_WAIT_MS = 60_000;
/** SIGTERM waits at most SHUTDOWN_TIMEOUT_MS (10 s) for answers and 5 s for the outbox flush: 30 s is ample. */
const STOP_WAIT_MS = 30_000;

const HELP = `usage: npm run fault-run -- [--seed N] [--count N] [--rate N]

A seeded fault run of the partner modes: two partner simulators (EXTERNAL_BALANCE and
SHARED_AUTHORIZATION, 5 % errors, 2 % hangs), a managed Redis (AOF always) in a temporary
directory and a switch in a child process. Sends a seeded mix of 0100, 0200, 0120, 0220, 0400
(full and partial) and refunds open loop over 4 connections; kills the redis-server (SIGKILL)
and restarts it at a third of the run, restarts the switch (SIGTERM) at two thirds; then drains
the outbox, checks the ledger and reconciles the EXTERNAL_BALANCE partner's balances.

  --seed <n>    seed of the message sequence and the simulators (default random; printed)
  --count <n>   messages to send (default 10000)
  --rate <n>    messages per second, open loop (default 300)

Exit code: 0 when the ledger check passes and the reconciliation finds no difference, 1
otherwise, 2 on a bad argument. The same seed sends the same message sequence; the outcomes
around the restarts depend on timing and may differ from run to run.
`;

class UsageError extends Error {}

interface Options { seed: number; count: number; rate: number }

function int(value: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${value.slice(0, 40)}"`);
  return Number(value);
}

export function parseOptions(argv: string[]): Options | 'help' {
  let values;
  try {
    values = parseArgs({ args: argv, options: { seed: { type: 'string' }, count: { type: 'string' }, rate: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw new UsageError(((e as Error).message.split('\n')[0] ?? 'bad arguments').replace(/\. To specify a positional.*$/, ''));
  }
  if (values.help) return 'help';
  return {
    seed: int(values.seed, freshSeed(), 'seed', 0, 4_294_967_295),
    count: int(values.count, 10_000, 'count', 1, 1_000_000),
    rate: int(values.rate, 300, 'rate', 1, 5_000),
  };
}

/** The switch as a child process: `node --import=tsx app/main.ts` with its environment. */
class SwitchChild {
  private child: ChildProcess | null = null;
  constructor(private readonly env: NodeJS.ProcessEnv, private readonly logFile: string, readonly httpUrl: string) {}

  async start(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import=tsx', 'app/main.ts'], { cwd: projectRoot(), env: this.env, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.child = child;
    const exited = new Promise<string>((r) => child.once('exit', (code, sig) => r(`exited (${sig ?? code})`)));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const gone = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 200))]);
      if (gone !== null) throw new Error(`the switch ${gone} while starting: ${this.lastLog()}`);
      try {
        const r = await fetch(`${this.httpUrl}/health`, { signal: AbortSignal.timeout(1_000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch { /* not up yet */ }
    }
    throw new Error(`the switch did not answer /health within 60 s: ${this.lastLog()}`);
  }

  /** SIGTERM and wait for the exit (SIGKILL after STOP_WAIT_MS); answers how it ended. */
  async stop(): Promise<string> {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return `already exited (${String(child?.exitCode ?? child?.signalCode ?? 'never started')})`;
    const t = Date.now();
    const done = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    let killed = false;
    const killTimer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, STOP_WAIT_MS);
    const code = await done;
    clearTimeout(killTimer);
    const s = ((Date.now() - t) / 1000).toFixed(1);
    return killed ? `did not exit within ${STOP_WAIT_MS / 1000} s of SIGTERM: killed (SIGKILL)` : `exited ${String(code)} after ${s} s`;
  }

  lastLog(): string {
    try { return readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-3).join(' | ').slice(0, 600); } catch { return '(no log)'; }
  }
}

interface Card extends SentCard { customerId: string; balanceId: string; mode: 'EXTERNAL_BALANCE' | 'SHARED_AUTHORIZATION' }

async function provision(api: ManagementApi, ext: RunningPartnerSim): Promise<Card[]> {
  // DEPOSIT: held against by every debit; CREDIT: what top-ups are taken from.
  for (const p of [EXT, SHA]) {
    for (const type of ['DEPOSIT', 'CREDIT'] as const) {
      const id = await api.ensurePartnerBalance(type, p.configId);
      await api.reloadPartnerBalance(id, DEPOSIT_MINOR);
    }
  }
  const one = async (k: number): Promise<Card> => {
    const mode = k % 2 === 0 ? 'EXTERNAL_BALANCE' : 'SHARED_AUTHORIZATION';
    const configId = mode === 'EXTERNAL_BALANCE' ? EXT.configId : SHA.configId;
    const customerId = await api.newCustomer('Fault', `Run ${k}`);
    const balanceId = await api.newBalance(customerId, configId);
    if (mode === 'EXTERNAL_BALANCE') {
      const linked = ext.sim.balance(balanceId);
      if (linked === undefined) throw new Error(`the partner simulator does not hold balance ${balanceId} after linking it`);
      ext.sim.setBalance({ ...linked, amount: FUND_MINOR });
    } else {
      await api.topUp(customerId, balanceId, FUND_MINOR, 'fault run');
    }
    const c = await api.issueCard(customerId, balanceId, 'virtual');
    return { pan: c.pan, cardId: c.cardId, customerId, balanceId, mode };
  };
  const cards: Card[] = [];
  for (let k = 0; k < CARDS_PER_PROGRAM * 2; k += 8) cards.push(...await Promise.all(Array.from({ length: Math.min(8, CARDS_PER_PROGRAM * 2 - k) }, (_, j) => one(k + j))));
  return cards;
}

/** Every page of GET /secure/outbox in `state`. */
async function outboxEntries(api: ManagementApi, state: 'pending' | 'dead'): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  do {
    const r = await api.call('GET', `/secure/outbox?state=${state}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...(r.json.items as Array<Record<string, unknown>>));
    cursor = (r.json.next as string | null) ?? null;
  } while (cursor !== null);
  return out;
}

interface SwitchRecord { externalTransactionId: string | null; referenceExternalTransactionId: string | null; mti: string; category: string; status: string; responseCode: string; processingStatus: string; amount: number | null; reversedAmount?: number; reason: string }

async function records(api: ManagementApi, balanceId: string): Promise<SwitchRecord[]> {
  const out: SwitchRecord[] = [];
  let cursor: string | null = null;
  do {
    const r = await api.call('GET', `/secure/transactions?balanceId=${encodeURIComponent(balanceId)}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...(r.json.items as SwitchRecord[]));
    cursor = (r.json.next as string | null) ?? null;
  } while (cursor !== null);
  return out;
}

interface Reconciliation {
  /** Per balance: partner amount vs start + the switch's local available (the money the switch says left or came back). */
  differences: string[];
  /** Switch-approved, non-reversed EXTERNAL_BALANCE debits with no debit at the partner. */
  approvedWithoutPartnerDebit: string[];
  /** Partner debits with neither an approved switch answer or record, nor a later reversal or force-credit. */
  partnerDebitsUnexplained: string[];
  balancesCompared: number;
  /** Per balance: what 00-answered clearings for less than their 00-answered authorization left at the partner (auth - cleared). */
  clearedForLess: Map<string, number>;
  /** Balances whose difference is exactly -clearedForLess. */
  explainedByClearingsForLess: number;
}

async function reconcile(api: ManagementApi, ledger: Ledger, ext: RunningPartnerSim, cards: Card[], plan: PlannedMessage[], outcomes: Outcome[]): Promise<Reconciliation> {
  const sim = ext.sim.reconciliation();
  const rec: Reconciliation = { differences: [], approvedWithoutPartnerDebit: [], partnerDebitsUnexplained: [], balancesCompared: 0, clearedForLess: new Map(), explainedByClearingsForLess: 0 };
  const extCards = cards.filter((c) => c.mode === 'EXTERNAL_BALANCE');
  plan.forEach((m, i) => {
    if (m.kind !== 'clearing' || m.original === undefined) return;
    const orig = plan[m.original] as PlannedMessage;
    const card = cards[m.card] as Card;
    if (card.mode !== 'EXTERNAL_BALANCE' || outcomes[i]?.code !== '00' || outcomes[m.original]?.code !== '00' || m.amountMinor >= orig.amountMinor) return;
    rec.clearedForLess.set(card.balanceId, (rec.clearedForLess.get(card.balanceId) ?? 0) + orig.amountMinor - m.amountMinor);
  });
  const switchApproved = new Set<string>();
  const switchReversed = new Set<string>();
  for (const c of extCards) {
    rec.balancesCompared++;
    // The switch's own record of the balance (its ledger: every hold, posting, release and credit it
    // made); the management API shows the partner's amount for such a balance, so it is read here.
    const local = { json: { available: (await ledger.getUserBalance(c.balanceId))?.availableMinor ?? 0 } };
    const expected = FUND_MINOR + Number(local.json.available);
    const got = ext.sim.balance(c.balanceId)?.amount;
    if (got !== expected) {
      const less = rec.clearedForLess.get(c.balanceId) ?? 0;
      const off = (got ?? 0) - expected;
      if (off === -less) rec.explainedByClearingsForLess++;
      rec.differences.push(`${c.balanceId}: partner ${String(got)}, expected ${expected} (start ${FUND_MINOR} + switch available ${Number(local.json.available)}), off by ${off}; clearings for less than their authorization: ${less}`);
    }
    for (const r of await records(api, c.balanceId)) {
      if (r.externalTransactionId === null) continue;
      if (r.processingStatus === 'SUCCESS' && r.category === 'DEBIT') switchApproved.add(r.externalTransactionId);
      if (r.status === 'REVERSED') switchReversed.add(r.externalTransactionId);
    }
  }
  // Approved on the wire counts too: a record is written after the answer and a Redis kill can lose it.
  const cardIds = new Set(extCards.map((c) => c.cardId));
  const wireApproved = new Map<string, string>();
  plan.forEach((m, i) => {
    const card = cards[m.card] as Card;
    const o = outcomes[i] as Outcome;
    if (!cardIds.has(card.cardId) || o.code !== '00' || (m.kind !== 'auth' && m.kind !== 'sale')) return;
    wireApproved.set(transactionId(card.cardId, m.mti, o.f7, o.stan, ACQUIRER, TERMINAL), `${m.mti} #${i}`);
  });
  const partnerDebits = sim.transactions.filter((t) => (t.endpoint === 'debit' || t.endpoint === 'force-debit') && t.effect < 0);
  const undone = new Set(sim.transactions.filter((t) => t.endpoint === 'reversal' && t.effect !== 0 || t.endpoint === 'force-credit').map((t) => t.referenceTransactionId ?? t.transactionId));
  const atPartner = new Set(partnerDebits.map((t) => t.transactionId));
  for (const [txId, what] of wireApproved) {
    if (!switchReversed.has(txId) && !atPartner.has(txId)) rec.approvedWithoutPartnerDebit.push(`${what} ${txId}`);
  }
  for (const t of partnerDebits) {
    if (t.status === 'REVERSED' || undone.has(t.transactionId)) continue;
    if (switchApproved.has(t.transactionId) || wireApproved.has(t.transactionId)) continue;
    rec.partnerDebitsUnexplained.push(`${t.endpoint} ${t.amount} ${t.transactionId}`);
  }
  return rec;
}

/** Dead entries by kind, reason and the answer their transaction's message got (when it is one this run sent). */
function describeDead(dead: Array<Record<string, unknown>>, plan: PlannedMessage[], outcomes: Outcome[], cards: Card[]): string[] {
  const byTx = new Map<string, number>();
  plan.forEach((m, i) => {
    const o = outcomes[i] as Outcome;
    if (o.f7 !== '') byTx.set(transactionId((cards[m.card] as Card).cardId, m.mti, o.f7, o.stan, ACQUIRER, TERMINAL), i);
  });
  const tally = new Map<string, number>();
  for (const d of dead) {
    // A transaction call names it in transactionId; a notification in transaction.externalTransactionId.
    const body = d.body as { transactionId?: string; transaction?: { externalTransactionId?: string | null } } | undefined;
    const txId = body?.transactionId ?? body?.transaction?.externalTransactionId ?? undefined;
    const i = txId === undefined || txId === null ? undefined : byTx.get(txId);
    const about = i === undefined ? 'a transaction this run did not send' : `its ${(plan[i] as PlannedMessage).mti} ${(plan[i] as PlannedMessage).kind} answered ${(outcomes[i] as Outcome).code}`;
    const k = `dead ${String(d.kind)} ${String(d.deadReason)} (${String(d.lastStatus)} ${String(d.lastError)}): ${about}`;
    tally.set(k, (tally.get(k) ?? 0) + 1);
  }
  return [...tally].map(([k, n]) => `${n} x ${k}`);
}

async function run(o: Options): Promise<number> {
  console.log(`fault run: seed ${o.seed}, ${o.count} messages at ${o.rate}/s over ${CONNECTIONS} connections`);
  const dir = mkdtempSync(join(tmpdir(), 'antaca-fault-'));
  const cleanups: Array<() => Promise<unknown> | void> = [];
  let keep = false;
  try {
    let redis: ManagedRedis = await startManagedRedis({ dir: join(dir, 'redis'), appendfsync: 'always' });
    cleanups.push(() => redis.stop());
    // The history database both switches copy to, and the ledger check reads archived postings from.
    const pg = await startManagedPostgres({ dir: join(dir, 'pg') });
    cleanups.push(() => pg.stop());
    const ext = await startPartnerSimulator({ config: { mode: 'EXTERNAL_BALANCE', seed: o.seed } });
    cleanups.push(() => ext.close());
    const sha = await startPartnerSimulator({ config: { mode: 'SHARED_AUTHORIZATION', seed: (o.seed + 1) >>> 0 } });
    cleanups.push(() => sha.close());
    const programs = join(dir, 'programs.json');
    writeFileSync(programs, JSON.stringify([
      // Faults of the partner and the switch are what this run tests: its messages carry no card data (RELAXED).
      { ...EXT, currency: 'EUR', mode: 'EXTERNAL_BALANCE', budgetMs: 1000, partner: { baseUrl: ext.url, timeoutMs: 300 }, cardholderVerification: 'RELAXED' },
      { ...SHA, currency: 'EUR', mode: 'SHARED_AUTHORIZATION', budgetMs: 1000, partner: { baseUrl: sha.url, timeoutMs: 300 }, cardholderVerification: 'RELAXED' },
    ]));
    const [isoPort, httpPort] = [await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env, ISO_HOST: '127.0.0.1', ISO_PORT: String(isoPort), HTTP_HOST: '127.0.0.1', HTTP_PORT: String(httpPort),
      REDIS_URL: redis.url, DATABASE_URL: pg.url, PROGRAMS_FILE: programs, SWITCH_SECRET: randomBytes(32).toString('hex'),
    };
    delete env.npm_lifecycle_event;
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const logFile = join(dir, 'switch.log');
    let sw = new SwitchChild(env, logFile, httpUrl);
    cleanups.push(() => sw.stop());
    await sw.start();
    const api = new ManagementApi(httpUrl);
    const cards = await provision(api, ext);
    console.log(`switch on ISO 127.0.0.1:${isoPort}, API ${httpUrl} (log ${logFile}); partners ${ext.url} (EXTERNAL_BALANCE), ${sha.url} (SHARED_AUTHORIZATION); ${cards.length} cards`);

    ext.sim.configure({ errorRate: 0.05, hangRate: 0.02, seed: o.seed });
    sha.sim.configure({ errorRate: 0.05, hangRate: 0.02, seed: (o.seed + 1) >>> 0 });
    const plan = planMessages(o.seed, o.count, cards.length, o.rate);
    const events: string[] = [];
    const faults: Array<Promise<void>> = [];
    const t0 = Date.now();
    const at = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    const onDue = (i: number): void => {
      if (i === Math.floor(o.count / 3) && i > 0) {
        faults.push((async () => {
          const port = redis.port;
          await redis.kill9();
          events.push(`${at()}: message ${i}: redis-server killed (SIGKILL)`);
          redis = await startManagedRedis({ dir: join(dir, 'redis'), port, appendfsync: 'always' });
          events.push(`${at()}: redis-server restarted on port ${port}, same data`);
        })());
      }
      if (i === Math.floor((2 * o.count) / 3) && i > 0) {
        faults.push((async () => {
          const how = await sw.stop();
          events.push(`${at()}: message ${i}: switch sent SIGTERM; it ${how}`);
          sw = new SwitchChild(env, logFile, httpUrl);
          await sw.start();
          events.push(`${at()}: a new switch answers on the same Redis`);
        })());
      }
    };
    const outcomes = await sendPlan(plan, cards, { host: '127.0.0.1', port: () => isoPort, connections: CONNECTIONS, rate: o.rate, onDue, runTag: String(o.seed % 1_000_000).padStart(6, '0'), stanStart: o.seed % 800_000 });
    await Promise.all(faults);
    const sentFor = ((Date.now() - t0) / 1000).toFixed(1);

    // Retries must be able to succeed: the faults stop, hung calls are let go.
    ext.sim.configure({ errorRate: 0, hangRate: 0 });
    sha.sim.configure({ errorRate: 0, hangRate: 0 });
    ext.sim.releaseHung();
    sha.sim.releaseHung();
    const drainStart = Date.now();
    let pending = await outboxEntries(api, 'pending');
    while (pending.length > 0 && Date.now() - drainStart < DRAIN_WAIT_MS) {
      await new Promise((r) => setTimeout(r, 500));
      pending = await outboxEntries(api, 'pending');
    }
    const drainedIn = ((Date.now() - drainStart) / 1000).toFixed(1);
    const dead = await outboxEntries(api, 'dead');
    const ledgerClient = new Redis(redis.url, { maxRetriesPerRequest: 2, lazyConnect: true });
    await ledgerClient.connect();
    const rec = await reconcile(api, await Ledger.open(ledgerClient), ext, cards, plan, outcomes);
    ledgerClient.disconnect();
    const deadAbout = describeDead(dead, plan, outcomes, cards);
    const stopCode = await sw.stop();

    const client = new Redis(redis.url, { maxRetriesPerRequest: 2, lazyConnect: true });
    await client.connect();
    const history = historyPool({ url: pg.url });
    const report = await checkLedger(client, new HistoryReads(history));
    await history.end();
    client.disconnect();

    // Summary.
    const counts = new Map<string, number>();
    plan.forEach((m, i) => {
      const k = `${m.mti} ${m.kind.padEnd(16)} ${(outcomes[i] as Outcome).code}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    });
    const notSent = outcomes.filter((x) => x.code === 'not-sent').length;
    const lines: string[] = [
      '', `fault run summary (seed ${o.seed})`,
      `  messages: ${o.count} planned at ${o.rate}/s, sent over ${sentFor} s; not sent (switch down): ${notSent}; no answer: ${outcomes.filter((x) => x.code === 'no-answer').length}; cut off by a closing connection: ${outcomes.filter((x) => x.code === 'cut-off').length}`,
      '  faults:', ...events.map((e) => `    ${e}`),
      '  answers by MTI, kind and field 39:',
      ...[...counts].sort((a, b) => a[0].localeCompare(b[0])).map(([k, n]) => `    ${k.padEnd(34)} ${String(n).padStart(6)}`),
      `  outbox: ${pending.length === 0 ? `drained in ${drainedIn} s` : `${pending.length} still pending after ${drainedIn} s`}; dead entries: ${dead.length}${dead.length ? ` (${[...new Set(dead.map((d) => `${String(d.kind)} ${String(d.deadReason ?? d.reason ?? '')}`))].join(', ')})` : ''}`,
      ...deadAbout.map((d) => `    ${d}`),
      `  final SIGTERM: the switch ${stopCode}`,
      `  ledger check: ${report.ok ? 'PASS' : 'FAIL'} (${report.counts.transactions} transactions, ${report.counts.postings} postings, ${report.counts.openHolds} open holds)`,
      ...report.errors.slice(0, 20).map((e) => `    ${e}`),
      `  reconciliation (EXTERNAL_BALANCE, ${rec.balancesCompared} balances): ${rec.differences.length} balance differences, ${rec.approvedWithoutPartnerDebit.length} approved debits missing at the partner, ${rec.partnerDebitsUnexplained.length} partner debits unexplained`,
      ...(rec.differences.length > 0 ? [`    ${rec.explainedByClearingsForLess} of the ${rec.differences.length} differences are exactly what clearings for less than their authorization left debited at the partner`] : []),
      ...rec.differences.slice(0, 20).map((d) => `    difference ${d}`),
      ...rec.approvedWithoutPartnerDebit.slice(0, 20).map((d) => `    approved, not at the partner: ${d}`),
      ...rec.partnerDebitsUnexplained.slice(0, 20).map((d) => `    partner debit unexplained: ${d}`),
    ];
    const failed = !report.ok || rec.differences.length > 0 || rec.approvedWithoutPartnerDebit.length > 0 || rec.partnerDebitsUnexplained.length > 0 || pending.length > 0;
    lines.push(`  verdict: ${failed ? 'FAIL' : 'PASS'}`);
    if (failed) { keep = true; lines.push(`  kept for inspection: ${dir}`); }
    console.log(lines.join('\n'));
    return failed ? 1 : 0;
  } finally {
    for (const c of cleanups.reverse()) { try { await c(); } catch { /* stopping anyway */ } }
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  let o: Options | 'help';
  try {
    o = parseOptions(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`fault-run: ${e.message} (--help for usage)\n`); process.exit(2); }
    throw e;
  }
  if (o === 'help') { process.stdout.write(HELP); return; }
  process.exitCode = await run(o);
}

main().catch((e: unknown) => {
  process.stderr.write(`fault-run: ${((e as Error).message ?? String(e)).split('\n')[0]}\n`);
  process.exit(1);
});

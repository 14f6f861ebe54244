// The ledger's invariant checker (SPEC §3), as a function for tests and as `npm run ledger:check`.
// It reads everything the ledger wrote and verifies, per currency:
//   1. conservation: user balances + partner tranches + world accounts + money in transit between
//      tranches sum to zero (every posting has its equal and opposite counter-posting);
//   2. every balance (user available/blocked, tranche available/blocked, world account, in-transit
//      account) equals the sum of its postings in the journal;
//   3. blocked amounts agree with the open holds: a user's blocked = what its transactions still
//      hold, a tranche's blocked = what the transactions recorded against it still hold; only
//      AUTHORIZED transactions hold anything, and each is in its group's expiry index;
//   4. no user balance went below zero except through a forced post, and nothing blocked is negative;
//   5. every transaction marked reversed moved what it reverses: its principal postings on the user
//      balance net to what stays posted (0 after a full reversal, the final amount after a partial
//      one; see reversalFaults);
//   6. every incremental authorization (type INCREMENT) holds nothing itself (its money is held
//      under its original, and counted in 3. there) and names an original of its balance that is
//      a card authorization.
// Sums are BigInt: totals of many balances can pass 2^53.
// Run it on a quiet ledger: it reads slot by slot, so operations in flight during the check can
// show as differences.
// Journal entries leave Redis once the history copier has them in the history database
// (history/copier.ts): given that database (an ArchivedJournal), the checker counts the postings
// of both places, each entry once (the ones still in Redis are left out of the archived sums).
import { maskPansIn } from '../iso/mask.js';
import { ledgerKeyKind } from './keys.js';
import { Cluster, Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Keyspace } from './keys.js';
import { managedRedisUrl, startManagedRedis, type ManagedRedis } from './redis-server.js';
import { parseCommandLine } from '../scripts/cli.js';

/** Per currency totals of the check, exact (BigInt), minor units. */
export interface CurrencyTotals {
  userAvailableMinor: bigint;
  userBlockedMinor: bigint;
  partnerAvailableMinor: bigint;
  partnerBlockedMinor: bigint;
  worldMinor: bigint;
  inTransitMinor: bigint;
  /** Must be 0n. */
  totalMinor: bigint;
}

export interface Report {
  ok: boolean;
  errors: string[];
  /** Errors beyond the first 100 are counted, not listed. */
  moreErrors: number;
  currencies: Record<string, CurrencyTotals>;
  counts: {
    userBalances: number; partnerTranches: number; transactions: number; openHolds: number;
    journalEntries: number; postings: number; transfersInFlight: number;
    /** Incremental authorizations (type INCREMENT): records of their own, their money held under their originals. */
    increments: number;
  };
}

type Client = Redis | Cluster;

/**
 * The journal entries the history database holds (history/reads.ts implements it). An entry is
 * named `<group tag> <stream id>` (`g00 1700000000000-0`); `skip` names the entries this check read
 * from Redis, which the archive leaves out.
 */
export interface ArchivedJournal {
  /** Per "<CUR> <account>", the sum of the archived postings to it minus those from it; with the entry and posting counts. */
  accountSums(skip: ReadonlySet<string>): Promise<{ sums: Map<string, bigint>; entries: number; postings: number }>;
  /** The archived entries of these transactions ("<balanceId>|<txId>"), as their stream fields (b, x, c, p). */
  entriesOf(transactions: readonly string[], skip: ReadonlySet<string>): Promise<Array<{ name: string; fields: Record<string, string> }>>;
}

const MAX_LISTED_ERRORS = 100;
const CHUNK = 500;
const JOURNAL_PAGE = 2000;

/**
 * Checks the ledger in `redis`; with `archive`, the postings the history database holds count too
 * (every switch with history copies its journal there and trims it from Redis).
 */
export async function checkLedger(redis: Client, archive: ArchivedJournal | null = null): Promise<Report> {
  const a = new Audit(redis, classify(await scanAll(redis)));
  await a.collectHolds();
  await a.sumJournals();
  if (archive !== null) await a.sumArchive(archive);
  a.checkReversals();
  a.checkIncrements();
  await a.checkUsers();
  await a.checkTranches();
  await a.checkWorld();
  await a.checkTransfers();
  a.checkOrphanPostings();
  return a.report();
}

/** State of one check: what the journals say, what storage says, and the differences. */
class Audit {
  private readonly errors: string[] = [];
  private moreErrors = 0;
  private readonly totals = new Map<string, CurrencyTotals>();
  /** "<CUR> <account>" -> sum of its postings. */
  private readonly posted = new Map<string, bigint>();
  /** Transactions marked reversed, "<balanceId>|<txId>" -> what their user postings must net to, and what they net to. */
  private readonly reversals = new Map<string, Reversal>();
  private readonly seen = new Set<string>();
  private readonly heldByUser = new Map<string, number>();
  private readonly heldByTranche = new Map<string, number>();
  private journalEntries = 0;
  private postings = 0;
  /** The Redis journal entries read, as `<group tag> <id>`: the archive leaves them out. */
  private readonly inRedis = new Set<string>();
  private openHolds = 0;
  private transfersInFlight = 0;
  /** Every transaction key's type ('' for a card authorization), and each increment's original key. */
  private readonly typeOf = new Map<string, string>();
  private readonly increments = new Map<string, string>();

  constructor(private readonly redis: Client, private readonly keys: Classified) {}

  private fail(msg: string): void {
    if (this.errors.length < MAX_LISTED_ERRORS) this.errors.push(msg);
    else this.moreErrors++;
  }

  private currency(c: string): CurrencyTotals {
    let t = this.totals.get(c);
    if (t === undefined) {
      t = { userAvailableMinor: 0n, userBlockedMinor: 0n, partnerAvailableMinor: 0n, partnerBlockedMinor: 0n, worldMinor: 0n, inTransitMinor: 0n, totalMinor: 0n };
      this.totals.set(c, t);
    }
    return t;
  }

  /** A stored balance must equal the sum of its postings. */
  private expect(c: string, account: string, stored: bigint, what: string): void {
    const k = c + ' ' + account;
    this.seen.add(k);
    const j = this.posted.get(k) ?? 0n;
    if (j !== stored) this.fail(`${what}: stored ${stored} but its postings sum to ${j} (${c} ${account})`);
  }

  /** A stored integer, exactly; a malformed one is reported and read as 0. */
  private int(v: string | null | undefined, what: string): bigint {
    if (v === null || v === undefined) return 0n;
    if (!INTEGER.test(v)) {
      this.fail(`${what}: not an integer: ${v}`);
      return 0n;
    }
    return BigInt(v);
  }


  async sumJournals(): Promise<void> {
    for (const jnl of this.keys.journals) {
      let start = '-';
      for (;;) {
        const batch = await this.redis.xrange(jnl, start, '+', 'COUNT', JOURNAL_PAGE);
        for (const [id, fields] of batch) {
          this.inRedis.add(groupOfKey(jnl) + ' ' + id);
          this.addEntry(jnl, id, fieldMap(fields));
        }
        if (batch.length < JOURNAL_PAGE) break;
        start = '(' + batch[batch.length - 1]![0];
      }
    }
  }

  /**
   * The history database's postings, each entry once: summed there per account, and the entries of
   * the transactions marked reversed read back for invariant 5.
   */
  async sumArchive(archive: ArchivedJournal): Promise<void> {
    const { sums, entries, postings } = await archive.accountSums(this.inRedis);
    this.journalEntries += entries;
    this.postings += postings;
    for (const [k, v] of sums) this.posted.set(k, (this.posted.get(k) ?? 0n) + v);
    if (this.reversals.size === 0) return;
    for (const e of await archive.entriesOf([...this.reversals.keys()], this.inRedis)) this.addEntry('(archived)', e.name, e.fields, false);
  }

  /** One journal entry: its postings summed per account (unless `sum` is false: already summed), and its part in a reversal's net. */
  private addEntry(jnl: string, id: string, f: Record<string, string>, sum = true): void {
    if (sum) this.journalEntries++;
    const c = f.c ?? '';
    const rev = this.reversals.get((f.b ?? '') + '|' + (f.x ?? ''));
    const user = 'U:' + (f.b ?? '') + ':';
    for (const p of (f.p ?? '').split(';')) {
      if (p === '') continue;
      const [from, to, amt, code] = p.split('>');
      if (from === undefined || to === undefined || amt === undefined || !POSITIVE.test(amt) || from === to) {
        this.fail(`journal ${jnl} ${id}: malformed posting "${p}"`);
        continue;
      }
      const n = BigInt(amt);
      if (sum) {
        this.postings++;
        this.posted.set(c + ' ' + from, (this.posted.get(c + ' ' + from) ?? 0n) - n);
        this.posted.set(c + ' ' + to, (this.posted.get(c + ' ' + to) ?? 0n) + n);
      }
      if (rev !== undefined && !FEE_CODES.has(code ?? '')) {
        // Principal money in or out of the user balance (moves between its available and blocked cancel out).
        const out = from.startsWith(user);
        const into = to.startsWith(user);
        if (out && !into) rev.netMinor -= n;
        else if (into && !out) rev.netMinor += n;
      }
    }
  }

  /**
   * Invariant 5: every transaction marked reversed (r = 1) moved what it reverses. Its principal
   * postings on the user balance (fees apart) must net to what stays posted: -(c - rv) after a
   * debit was credited back (rk C), +(c - rv) after a credit was debited back (rk D), -c after
   * an open hold was released (rk R: the hold moved no money out; c is what a clearing posted),
   * and 0 whenever the status is REVERSED. A posted debit or credit marked reversed without
   * rk C/D was acknowledged as reversed without anything moved back.
   */
  checkReversals(): void {
    for (const [ref, r] of this.reversals) {
      const where = `transaction ${ref.replace('|', ' ')}`;
      let expected: bigint;
      if (r.kind === 'C') expected = -(r.postedMinor - r.reversedMinor);
      else if (r.kind === 'D') expected = r.postedMinor - r.reversedMinor;
      else if (r.kind === 'R' && !r.posted) expected = -r.postedMinor;
      else {
        this.fail(`${where}: marked reversed but nothing was moved back (posted ${r.postedMinor}, user postings net ${r.netMinor})`);
        continue;
      }
      if (r.netMinor !== expected) this.fail(`${where}: reversed, but its user postings net ${r.netMinor} instead of ${expected}`);
      else if (r.status === '3' && r.netMinor !== 0n) this.fail(`${where}: REVERSED, but its user postings net ${r.netMinor} instead of 0`);
    }
  }

  /** What each open hold still holds, per user balance and per tranche; holds in their index. */
  async collectHolds(): Promise<void> {
    const expMembers = new Set<string>();
    for (const [g, expKey] of this.keys.expiries) {
      for (const m of await this.redis.zrange(expKey, 0, -1)) expMembers.add(g + ' ' + m);
    }
    for (const chunk of chunks(this.keys.txs)) {
      const rows = await Promise.all(chunk.map((k) => this.redis.hmget(k, 's', 'h', 'fh', 'db', 'dp', 'r', 'rk', 'rv', 'c', 'ty', 'o')));
      rows.forEach((v, i) => {
        const key = chunk[i]!;
        this.typeOf.set(key, v[9] ?? '');
        if (v[9] === 'INCREMENT') this.addIncrement(key, v);
        else this.addHold(key, v, expMembers);
        this.addReversal(key, v);
      });
    }
  }

  private addReversal(key: string, v: (string | null)[]): void {
    const [s, , , , , r, rk, rv, c, ty] = v;
    if (r !== '1' || ty === 'ORPHAN_REVERSAL') return;
    const { balanceId, txId } = splitTxKey(key);
    this.reversals.set(balanceId + '|' + txId, {
      status: s ?? '', kind: rk ?? 'R', posted: ty === 'POST' || ty === 'REFUND' || ty === 'PAYMENT_CREDIT',
      postedMinor: this.int(c, key), reversedMinor: this.int(rv, key), netMinor: 0n,
    });
  }

  /** An increment holds nothing of its own: its amount is in its original's hold (checked with the original). */
  private addIncrement(key: string, v: (string | null)[]): void {
    const [s, h, fh, db, , , , , , , o] = v;
    if (Number(h ?? 0) !== 0 || Number(fh ?? 0) !== 0 || Number(db ?? 0) !== 0) this.fail(`${key}: an increment holds money of its own (its original holds it)`);
    if (s !== '1' && s !== '3') this.fail(`${key}: an increment with status ${s} (AUTHORIZED or REVERSED only)`);
    if (!o) this.fail(`${key}: an increment naming no original`);
    else this.increments.set(key, key.slice(0, key.indexOf(':tx:') + 4) + splitTxKey(key).balanceId + ':' + o);
  }

  /** Invariant 6: every increment's original exists in its balance and is a card authorization. */
  checkIncrements(): void {
    for (const [key, original] of this.increments) {
      const ty = this.typeOf.get(original);
      if (ty === undefined) this.fail(`${key}: its original ${original} does not exist`);
      else if (ty !== '') this.fail(`${key}: its original ${original} is not a card authorization (type ${ty})`);
    }
  }

  private addHold(key: string, v: (string | null)[], expMembers: Set<string>): void {
    const [s, h, fh, db, dp] = v;
    const held = Number(h ?? 0) + Number(fh ?? 0);
    const depHeld = Number(db ?? 0);
    if (s !== '1') {
      if (held !== 0 || depHeld !== 0) this.fail(`${key}: status ${s} but still holds ${held} (deposit ${depHeld})`);
      return;
    }
    this.openHolds++;
    if (held < 0 || depHeld < 0) this.fail(`${key}: negative hold`);
    const { balanceId: u, txId } = splitTxKey(key);
    const g = groupOfKey(key);
    this.heldByUser.set(u, (this.heldByUser.get(u) ?? 0) + held);
    if (dp) {
      const dk = Keyspace.trancheInTag(g, dp);
      this.heldByTranche.set(dk, (this.heldByTranche.get(dk) ?? 0) + depHeld);
    }
    if (!expMembers.has(g + ' ' + u + '|' + txId)) this.fail(`${key}: open hold missing from the expiry index`);
  }

  async checkUsers(): Promise<void> {
    for (const chunk of chunks(this.keys.users)) {
      const rows = await Promise.all(chunk.map((k) => this.redis.hmget(k, 'a', 'b', 'cur', 'neg')));
      rows.forEach((v, i) => {
        const key = chunk[i]!;
        const id = key.slice(key.indexOf(':ub:') + 4);
        const a = this.int(v[0], key);
        const b = this.int(v[1], key);
        const c = v[2] ?? '';
        const t = this.currency(c);
        t.userAvailableMinor += a;
        t.userBlockedMinor += b;
        this.expect(c, `U:${id}:a`, a, `user ${id} available`);
        this.expect(c, `U:${id}:b`, b, `user ${id} blocked`);
        const held = BigInt(this.heldByUser.get(id) ?? 0);
        if (held !== b) this.fail(`user ${id}: blocked ${b} but open holds total ${held}`);
        if (a < 0n && v[3] !== '1') this.fail(`user ${id}: available ${a} < 0 without a forced post`);
        if (b < 0n) this.fail(`user ${id}: blocked ${b} < 0`);
      });
    }
  }

  async checkTranches(): Promise<void> {
    for (const chunk of chunks(this.keys.tranches)) {
      const rows = await Promise.all(chunk.map((k) => this.redis.hmget(k, 'a', 'b', 'cur')));
      rows.forEach((v, i) => {
        const key = chunk[i]!;
        const pid = key.slice(key.indexOf(':pbt:') + 5);
        const g = groupOfKey(key);
        const a = this.int(v[0], key);
        const b = this.int(v[1], key);
        const c = v[2] ?? '';
        const t = this.currency(c);
        t.partnerAvailableMinor += a;
        t.partnerBlockedMinor += b;
        this.expect(c, `P:${pid}:${g}:a`, a, `partner ${pid} tranche ${g} available`);
        this.expect(c, `P:${pid}:${g}:b`, b, `partner ${pid} tranche ${g} blocked`);
        const held = BigInt(this.heldByTranche.get(key) ?? 0);
        if (held !== b) this.fail(`partner ${pid} tranche ${g}: blocked ${b} but open holds total ${held}`);
        if (b < 0n) this.fail(`partner ${pid} tranche ${g}: blocked ${b} < 0`);
      });
    }
  }

  /** World accounts, summed over groups. */
  async checkWorld(): Promise<void> {
    const world = new Map<string, bigint>();
    for (const k of this.keys.worlds) {
      const h = await this.redis.hgetall(k);
      for (const f in h) world.set(f, (world.get(f) ?? 0n) + this.int(h[f], `${k} ${f}`));
    }
    for (const [f, v] of world) {
      const sp = f.indexOf(':');
      const c = f.slice(0, sp);
      this.currency(c).worldMinor += v;
      this.expect(c, f.slice(sp + 1), v, `world account ${f}`);
    }
  }

  /** Transfers between tranches that left one and have not yet landed in the other. */
  async checkTransfers(): Promise<void> {
    for (const k of this.keys.transfers) {
      const x = await this.redis.hgetall(k);
      const id = k.slice(k.indexOf(':xfer:') + 6);
      const landed = (await this.redis.exists(Keyspace.transferReceiptInTag(x.dst ?? '', id))) === 1;
      const c = x.cur ?? '';
      const amount = landed ? 0n : this.int(x.amt, k);
      if (!landed) this.transfersInFlight++;
      this.currency(c).inTransitMinor += amount;
      this.expect(c, `T:${id}`, amount, `transfer ${id} in transit`);
    }
  }

  /** Postings to an account that no storage holds. */
  checkOrphanPostings(): void {
    for (const [k, v] of this.posted) {
      if (!this.seen.has(k) && v !== 0n) this.fail(`postings to ${k} sum to ${v} but no balance holds them`);
    }
  }

  report(): Report {
    const currencies: Record<string, CurrencyTotals> = {};
    for (const [c, t] of [...this.totals].sort((x, y) => x[0].localeCompare(y[0]))) {
      t.totalMinor = t.userAvailableMinor + t.userBlockedMinor + t.partnerAvailableMinor + t.partnerBlockedMinor + t.worldMinor + t.inTransitMinor;
      if (t.totalMinor !== 0n) this.fail(`${c}: money is not conserved, balances and world accounts sum to ${t.totalMinor}`);
      currencies[c] = t;
    }
    return {
      ok: this.errors.length === 0,
      errors: this.errors, moreErrors: this.moreErrors, currencies,
      counts: {
        userBalances: this.keys.users.length, partnerTranches: this.keys.tranches.length, transactions: this.keys.txs.length,
        openHolds: this.openHolds, journalEntries: this.journalEntries, postings: this.postings, transfersInFlight: this.transfersInFlight,
        increments: this.increments.size,
      },
    };
  }
}

export function formatReport(r: Report): string {
  const lines: string[] = [];
  lines.push(`ledger check: ${r.ok ? 'OK' : 'FAILED'}`);
  const c = r.counts;
  lines.push(`  ${c.userBalances} user balances, ${c.partnerTranches} partner tranches, ${c.transactions} transactions (${c.openHolds} open holds, ${c.increments} increments), ` +
    `${c.journalEntries} journal entries with ${c.postings} postings, ${c.transfersInFlight} tranche transfers in flight`);
  lines.push('  currency      users avail    users blocked  partners avail  partners blocked          world    in transit   total');
  for (const [cc, t] of Object.entries(r.currencies)) {
    lines.push(`  ${cc.padEnd(8)} ${[t.userAvailableMinor, t.userBlockedMinor, t.partnerAvailableMinor, t.partnerBlockedMinor, t.worldMinor, t.inTransitMinor]
      .map((n) => String(n).padStart(15)).join(' ')} ${String(t.totalMinor).padStart(7)}`);
  }
  for (const e of r.errors) lines.push(`  ERROR ${e}`);
  if (r.moreErrors > 0) lines.push(`  ... and ${r.moreErrors} more errors`);
  return lines.join('\n');
}

// ---------------------------------------------------------------- key discovery

interface Classified {
  users: string[]; tranches: string[]; txs: string[]; transfers: string[];
  journals: string[]; worlds: string[]; expiries: [string, string][];
}

function classify(all: string[]): Classified {
  const out: Classified = { users: [], tranches: [], txs: [], transfers: [], journals: [], worlds: [], expiries: [] };
  for (const k of all) {
    const c = ledgerKeyKind(k);
    if (c === null) continue;
    if (c.kind === 'user') out.users.push(k);
    else if (c.kind === 'tranche') out.tranches.push(k);
    else if (c.kind === 'transaction') out.txs.push(k);
    else if (c.kind === 'transfer') out.transfers.push(k);
    else if (c.kind === 'journal') out.journals.push(k);
    else if (c.kind === 'world') out.worlds.push(k);
    else out.expiries.push([c.tag, k]);
  }
  for (const l of [out.users, out.tranches, out.txs, out.transfers, out.journals, out.worlds]) l.sort();
  return out;
}

interface Reversal {
  status: string;
  /** rk: R released, C credited back, D debited back. */
  kind: string;
  /** A posted debit or credit (types POST, REFUND, PAYMENT_CREDIT): never released, only moved back. */
  posted: boolean;
  /** c: money posted (cleared) by the transaction. */
  postedMinor: bigint;
  /** rv: principal given back by its reversal. */
  reversedMinor: bigint;
  /** Its principal postings on the user balance, summed from the journal. */
  netMinor: bigint;
}

const INTEGER = /^-?\d+$/;
const POSITIVE = /^[1-9]\d*$/;
/** Posting codes of fees (and fees given back), apart from the principal of a transaction. */
const FEE_CODES = new Set(['FEE', 'FX', 'FEE_BACK', 'FX_BACK']);

function groupOfKey(key: string): string {
  return key.slice(1, key.indexOf('}'));
}

async function scanAll(redis: Client): Promise<string[]> {
  const nodes: Redis[] = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const out: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of batch) out.push(k);
    } while (cursor !== '0');
  }
  return out;
}

function fieldMap(fields: string[]): Record<string, string> {
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) m[fields[i]!] = fields[i + 1]!;
  return m;
}

function* chunks<T>(list: T[]): Generator<T[]> {
  for (let i = 0; i < list.length; i += CHUNK) yield list.slice(i, i + CHUNK);
}

// ---------------------------------------------------------------- CLI

/**
 * `npm run ledger:check` finds the ledger in this order: REDIS_CLUSTER (comma-separated host:port
 * seeds); REDIS_URL; the switch's running managed redis-server of REDIS_DIR (default ./var/redis,
 * found through the redis-server.url file it writes there); when none runs but that directory
 * holds data, a managed redis-server started on it for the check and stopped after; else
 * redis://127.0.0.1:6379. Exit 0 when every invariant holds, 1 when one is broken, 2 when the
 * ledger cannot be read.
 */
const USAGE = `usage: npm run ledger:check

Checks every invariant of the ledger (balances against journals, holds, partner balances) and
prints a report. Exit 0: every invariant holds; 1: one is broken; 2: the ledger cannot be read
(or the arguments are wrong).

Where the ledger is found (environment variables, first that applies):
  REDIS_CLUSTER   comma-separated host:port seeds of a Redis Cluster
  REDIS_URL       a Redis
  REDIS_DIR       the switch's managed redis-server data dir (default var/redis): its running
                  server, or one started on its data for the check
  otherwise       redis://127.0.0.1:6379

Where the history database is (its journal entries count with those still in Redis), when the
ledger names one (a switch copied it there; the database must be that one):
  DATABASE_URL    a PostgreSQL
  PG_DIR          the switch's managed PostgreSQL directory (default var/pg, or with REDIS_URL or
                  REDIS_CLUSTER var/pg-<8 hex digits of the address>, as the switch's): its
                  running server, or one started on its data for the check`;

/**
 * The history database of the check, found as USAGE says; null when the ledger names none (it has
 * never been copied anywhere). Throws when the ledger names one and the database found is another,
 * or cannot be read.
 */
/**
 * The history database a ledger's journal is copied to (its id is in the ledger's meta), for the
 * check to count the postings archived there: DATABASE_URL, else the managed PostgreSQL of PG_DIR
 * (started for the check when it is not running). Null for a ledger never copied. Throws when the
 * database is not found or is another ledger's.
 */
export async function openArchive(env: NodeJS.ProcessEnv, redis: Client): Promise<{ archive: ArchivedJournal; where: string; close(): Promise<void> } | null> {
  const h = await import('../history/index.js');
  const wanted = await redis.hget(Keyspace.metaKey(), h.HISTORY_DATABASE_FIELD);
  if (wanted === null) return null;
  const dir = env.PG_DIR || h.defaultPgDir(env.REDIS_URL || null, env.REDIS_CLUSTER || null);
  let url = env.DATABASE_URL || h.managedPostgresUrl(dir);
  let server: Awaited<ReturnType<typeof h.startManagedPostgres>> | null = null;
  if (!url && h.hasManagedCluster(dir)) {
    server = await h.startManagedPostgres({ dir });
    url = server.url;
  }
  if (!url) throw new Error(`this ledger is copied to a history database (id ${wanted}) and none is found: set DATABASE_URL, or PG_DIR to the switch's managed PostgreSQL`);
  const pool = h.historyPool({ url });
  let id = '';
  try {
    id = await h.historyDatabaseId(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    await server?.stop();
    throw new Error(`cannot read the history database at ${h.redactUrl(url)}: ${(err as Error).message}`);
  }
  if (id !== wanted) {
    await pool.end().catch(() => {});
    await server?.stop();
    throw new Error(`the history database at ${h.redactUrl(url)} (id ${id || 'none'}) is not this ledger's (id ${wanted}): set DATABASE_URL or PG_DIR to the switch's`);
  }
  return { archive: new h.HistoryReads(pool), where: h.redactUrl(url), async close() { await pool.end().catch(() => {}); await server?.stop(); } };
}

async function main(): Promise<number> {
  parseCommandLine('ledger:check', process.argv.slice(2), () => USAGE, {}, 2);
  const env = process.env;
  let managed: ManagedRedis | null = null;
  let where: string;
  let client: Client;
  try {
    if (env.REDIS_CLUSTER) {
      where = env.REDIS_CLUSTER;
      client = new Cluster(where.split(',').map((s) => {
        const [host, port] = s.trim().split(':');
        return { host: host || '127.0.0.1', port: Number(port || 6379) };
      }), { clusterRetryStrategy: () => null });
    } else {
      const dir = env.REDIS_DIR || 'var/redis';
      let url = env.REDIS_URL || managedRedisUrl(dir);
      if (url === null && existsSync(join(dir, 'appendonlydir'))) {
        managed = await startManagedRedis({ dir, appendfsync: 'always' });
        url = managed.url;
      }
      where = url ?? 'redis://127.0.0.1:6379';
      client = new Redis(where, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
      client.on('error', () => {});
      await client.connect();
    }
  } catch (e) {
    process.stderr.write(`ledger check: cannot reach Redis: ${maskPansIn((e as Error).message)}\n`);
    await managed?.stop();
    return 2;
  }
  client.on('error', () => {});
  let history: Awaited<ReturnType<typeof openArchive>> = null;
  try {
    history = await openArchive(env, client);
  } catch (e) {
    process.stderr.write(`ledger check: ${maskPansIn((e as Error).message)}\n`);
    client.disconnect();
    await managed?.stop();
    return 2;
  }
  try {
    const report = await checkLedger(client, history?.archive ?? null);
    process.stdout.write(`checked ${where}` + (history === null ? ' (never copied to a history database: its whole journal is in Redis)' : ` and its history database ${history.where}`) + '\n' + formatReport(report) + '\n');
    return report.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`ledger check: cannot read the ledger at ${where}: ${maskPansIn((e as Error).message)}\n`);
    return 2;
  } finally {
    client.disconnect();
    await managed?.stop();
    await history?.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => { process.exitCode = code; });
}

/**
 * The balance and transaction ids of a `{gNN}:tx:<balanceId>:<txId>` key. A balance id is a UUID
 * (no colon) or, in data written before UUID ids, `gNN:<random>` (one colon).
 */
function splitTxKey(key: string): { balanceId: string; txId: string } {
  const rest = key.slice(key.indexOf(':tx:') + 4);
  const legacy = rest.length > 4 && rest.charCodeAt(0) === 103 /* g */ && rest.charCodeAt(3) === 58 /* : */;
  const sep = rest.indexOf(':', legacy ? 4 : 0);
  return { balanceId: rest.slice(0, sep), txId: rest.slice(sep + 1) };
}

// The ledger's invariant checker (SPEC §3), as a function for tests and as `npm run ledger:check`.
// It reads everything the ledger wrote and verifies, per currency:
//   1. conservation: user balances + partner tranches + world accounts + money in transit between
//      tranches sum to zero (every posting has its equal and opposite counter-posting);
//   2. every balance (user available/blocked, tranche available/blocked, world account, in-transit
//      account) equals the sum of its postings in the journal;
//   3. blocked amounts agree with the open holds: a user's blocked = what its transactions still
//      hold, a tranche's blocked = what the transactions recorded against it still hold; only
//      AUTHORIZED transactions hold anything, and each is in its group's expiry index;
//   4. no user balance went below zero except through a forced post, and nothing blocked is negative.
// Run it on a quiet ledger: it reads slot by slot, so operations in flight during the check can
// show as differences.
import { Cluster, Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { managedRedisUrl, startManagedRedis, type ManagedRedis } from './redis-server.js';

export interface CurrencyTotals {
  userAvailableMinor: number;
  userBlockedMinor: number;
  partnerAvailableMinor: number;
  partnerBlockedMinor: number;
  worldMinor: number;
  inTransitMinor: number;
  /** Must be 0. */
  totalMinor: number;
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
  };
}

type Client = Redis | Cluster;

const MAX_LISTED_ERRORS = 100;
const CHUNK = 500;

export async function checkLedger(redis: Client): Promise<Report> {
  const errors: string[] = [];
  let moreErrors = 0;
  const fail = (msg: string) => { if (errors.length < MAX_LISTED_ERRORS) errors.push(msg); else moreErrors++; };
  const keys = classify(await scanAll(redis));
  const totals = new Map<string, CurrencyTotals>();
  const cur = (c: string): CurrencyTotals => {
    let t = totals.get(c);
    if (t === undefined) {
      t = { userAvailableMinor: 0, userBlockedMinor: 0, partnerAvailableMinor: 0, partnerBlockedMinor: 0, worldMinor: 0, inTransitMinor: 0, totalMinor: 0 };
      totals.set(c, t);
    }
    return t;
  };

  // The journal: per account (with currency) the sum of its postings.
  const posted = new Map<string, number>();
  let journalEntries = 0;
  let postings = 0;
  for (const jnl of keys.journals) {
    let start = '-';
    for (;;) {
      const batch = await redis.xrange(jnl, start, '+', 'COUNT', 2000);
      for (const [id, fields] of batch) {
        journalEntries++;
        const f = fieldMap(fields);
        const c = f.c ?? '';
        for (const p of (f.p ?? '').split(';')) {
          if (p === '') continue;
          const [from, to, amt] = p.split('>');
          const n = Number(amt);
          if (from === undefined || to === undefined || !Number.isSafeInteger(n) || n <= 0 || from === to) {
            fail(`journal ${jnl} ${id}: malformed posting "${p}"`);
            continue;
          }
          postings++;
          posted.set(c + ' ' + from, (posted.get(c + ' ' + from) ?? 0) - n);
          posted.set(c + ' ' + to, (posted.get(c + ' ' + to) ?? 0) + n);
        }
      }
      if (batch.length < 2000) break;
      start = '(' + batch[batch.length - 1]![0];
    }
  }
  const seen = new Set<string>();
  const expect = (c: string, account: string, stored: number, what: string) => {
    const k = c + ' ' + account;
    seen.add(k);
    const j = posted.get(k) ?? 0;
    if (j !== stored) fail(`${what}: stored ${stored} but its postings sum to ${j} (${c} ${account})`);
  };

  // Transactions: what each still holds, per user balance and per tranche.
  const heldByUser = new Map<string, number>();
  const heldByTranche = new Map<string, number>();
  const expMembers = new Set<string>();
  for (const [g, expKey] of keys.expiries) for (const m of await redis.zrange(expKey, 0, -1)) expMembers.add(g + ' ' + m);
  let openHolds = 0;
  for (const chunk of chunks(keys.txs)) {
    const rows = await Promise.all(chunk.map((k) => redis.hmget(k, 's', 'h', 'fh', 'db', 'dp')));
    rows.forEach((v, i) => {
      const key = chunk[i]!;
      const [s, h, fh, db, dp] = v;
      const held = Number(h ?? 0) + Number(fh ?? 0);
      const depHeld = Number(db ?? 0);
      if (s !== '1') {
        if (held !== 0 || depHeld !== 0) fail(`${key}: status ${s} but still holds ${held} (deposit ${depHeld})`);
        return;
      }
      openHolds++;
      if (held < 0 || depHeld < 0) fail(`${key}: negative hold`);
      // {gNN}:tx:<balanceId = gNN:<random>>:<txId>
      const rest = key.slice(key.indexOf(':tx:') + 4);
      const sep = rest.indexOf(':', rest.indexOf(':') + 1);
      const u = rest.slice(0, sep);
      const txId = rest.slice(sep + 1);
      const g = groupOfKey(key);
      heldByUser.set(u, (heldByUser.get(u) ?? 0) + held);
      if (dp) {
        const dk = `{${g}}:pbt:${dp}`;
        heldByTranche.set(dk, (heldByTranche.get(dk) ?? 0) + depHeld);
      }
      if (!expMembers.has(g + ' ' + u + '|' + txId)) fail(`${key}: open hold missing from the expiry index`);
    });
  }

  // User balances.
  for (const chunk of chunks(keys.users)) {
    const rows = await Promise.all(chunk.map((k) => redis.hmget(k, 'a', 'b', 'cur', 'neg')));
    rows.forEach((v, i) => {
      const key = chunk[i]!;
      const id = key.slice(key.indexOf(':ub:') + 4);
      const a = Number(v[0]);
      const b = Number(v[1]);
      const c = v[2] ?? '';
      const t = cur(c);
      t.userAvailableMinor += a;
      t.userBlockedMinor += b;
      expect(c, `U:${id}:a`, a, `user ${id} available`);
      expect(c, `U:${id}:b`, b, `user ${id} blocked`);
      const held = heldByUser.get(id) ?? 0;
      if (held !== b) fail(`user ${id}: blocked ${b} but open holds total ${held}`);
      if (a < 0 && v[3] !== '1') fail(`user ${id}: available ${a} < 0 without a forced post`);
      if (b < 0) fail(`user ${id}: blocked ${b} < 0`);
    });
  }

  // Partner tranches.
  for (const chunk of chunks(keys.tranches)) {
    const rows = await Promise.all(chunk.map((k) => redis.hmget(k, 'a', 'b', 'cur')));
    rows.forEach((v, i) => {
      const key = chunk[i]!;
      const pid = key.slice(key.indexOf(':pbt:') + 5);
      const g = groupOfKey(key);
      const a = Number(v[0]);
      const b = Number(v[1]);
      const c = v[2] ?? '';
      const t = cur(c);
      t.partnerAvailableMinor += a;
      t.partnerBlockedMinor += b;
      expect(c, `P:${pid}:${g}:a`, a, `partner ${pid} tranche ${g} available`);
      expect(c, `P:${pid}:${g}:b`, b, `partner ${pid} tranche ${g} blocked`);
      const held = heldByTranche.get(key) ?? 0;
      if (held !== b) fail(`partner ${pid} tranche ${g}: blocked ${b} but open holds total ${held}`);
      if (b < 0) fail(`partner ${pid} tranche ${g}: blocked ${b} < 0`);
    });
  }

  // World accounts, summed over groups.
  const world = new Map<string, number>();
  for (const k of keys.worlds) {
    const h = await redis.hgetall(k);
    for (const f in h) world.set(f, (world.get(f) ?? 0) + Number(h[f]));
  }
  for (const [f, v] of world) {
    const sp = f.indexOf(':');
    const c = f.slice(0, sp);
    cur(c).worldMinor += v;
    expect(c, f.slice(sp + 1), v, `world account ${f}`);
  }

  // Transfers between tranches that left one and have not yet landed in the other.
  let transfersInFlight = 0;
  for (const k of keys.transfers) {
    const x = await redis.hgetall(k);
    const id = k.slice(k.indexOf(':xfer:') + 6);
    const landed = (await redis.exists(`{${x.dst}}:xin:${id}`)) === 1;
    const c = x.cur ?? '';
    const amount = landed ? 0 : Number(x.amt ?? 0);
    if (!landed) transfersInFlight++;
    cur(c).inTransitMinor += amount;
    expect(c, `T:${id}`, amount, `transfer ${id} in transit`);
  }

  // Anything posted to an account that no longer exists in storage.
  for (const [k, v] of posted) {
    if (!seen.has(k) && v !== 0) fail(`postings to ${k} sum to ${v} but no balance holds them`);
  }

  const currencies: Record<string, CurrencyTotals> = {};
  for (const [c, t] of [...totals].sort((x, y) => x[0].localeCompare(y[0]))) {
    t.totalMinor = t.userAvailableMinor + t.userBlockedMinor + t.partnerAvailableMinor + t.partnerBlockedMinor + t.worldMinor + t.inTransitMinor;
    if (t.totalMinor !== 0) fail(`${c}: money is not conserved, balances and world accounts sum to ${t.totalMinor}`);
    currencies[c] = t;
  }
  return {
    ok: errors.length === 0,
    errors, moreErrors, currencies,
    counts: {
      userBalances: keys.users.length, partnerTranches: keys.tranches.length, transactions: keys.txs.length,
      openHolds, journalEntries, postings, transfersInFlight,
    },
  };
}

export function formatReport(r: Report): string {
  const lines: string[] = [];
  lines.push(`ledger check: ${r.ok ? 'OK' : 'FAILED'}`);
  const c = r.counts;
  lines.push(`  ${c.userBalances} user balances, ${c.partnerTranches} partner tranches, ${c.transactions} transactions (${c.openHolds} open holds), ` +
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
    if (k.charCodeAt(0) !== 123 /* { */) continue;
    const close = k.indexOf('}:');
    if (close < 0) continue;
    const rest = k.slice(close + 2);
    if (rest.startsWith('ub:')) out.users.push(k);
    else if (rest.startsWith('pbt:')) out.tranches.push(k);
    else if (rest.startsWith('tx:')) out.txs.push(k);
    else if (rest.startsWith('xfer:')) out.transfers.push(k);
    else if (rest === 'jnl') out.journals.push(k);
    else if (rest === 'world') out.worlds.push(k);
    else if (rest === 'exp') out.expiries.push([k.slice(1, close), k]);
  }
  for (const l of [out.users, out.tranches, out.txs, out.transfers, out.journals, out.worlds]) l.sort();
  return out;
}

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
async function main(): Promise<number> {
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
    process.stderr.write(`ledger check: cannot reach Redis: ${(e as Error).message}\n`);
    await managed?.stop();
    return 2;
  }
  client.on('error', () => {});
  try {
    const report = await checkLedger(client);
    process.stdout.write(`checked ${where}\n` + formatReport(report) + '\n');
    return report.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`ledger check: cannot read the ledger at ${where}: ${(e as Error).message}\n`);
    return 2;
  } finally {
    client.disconnect();
    await managed?.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then((code) => { process.exitCode = code; });
}

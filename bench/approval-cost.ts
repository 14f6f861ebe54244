// Redis's cost of one approved 0100, measured one approval at a time, with no load around it: the
// `cost` part of `npm run bench:switch`.
//
// The rates part reads Redis's time per answer while the machine is busy with the switch, the
// load generator and Redis together; on a shared 2-core VM that figure moves by a quarter from run
// to run, and a change of a few write commands disappears in it. Here each variant writes the same
// number of approvals, awaited one by one, into a fresh redis-server of its own (appendfsync
// always, over its Unix socket), and INFO gives its command time, write commands and AOF bytes per
// approval. The rounds are interleaved (floor, prototype, switch, floor, ...) and each figure is
// the median over the rounds. Variants:
//
//   floor      the ceiling's minimal hold script (bench/lua/ceiling-hold-6.lua), as bench/echo.ts
//              runs it: what any durable approval costs at least;
//   prototype  the redesigned approval (bench/lua/prototype-approval-9.lua), as bench/echo.ts runs it;
//   switch     the switch's own code: Ledger.hold with the arguments an 0100 for a remembered card
//              gets (transaction-keyed idempotency, the card's id-and-version guard, the orphan id)
//              and the approval's record, which the hold's script writes (HoldArgs.record: the
//              record, a cached answer whose field 54 the script fills in, and the reference
//              indexes of an approved original, sizes as the switch writes them).
//
// The µs are Redis's command time (INFO commandstats): neither the AOF write, nor the fsync, nor
// the network. On a quiet machine they move by about a tenth between rounds; on a busy one they
// follow its load (all three variants alike, so the ratios move less). The write commands and
// AOF bytes do not depend on the machine.
import { Redis } from 'ioredis';
import type { ManagedRedis } from '../ledger/redis-server.js';
import { Ledger } from '../ledger/index.js';
import { StoreKeys } from '../ledger/keys.js';
import { TransactionRecords, recordIdOf } from '../stores/records.js';
import { benchRecord, benchTxId, floorHold, prototypeHold, type Hold } from './echo.js';
import { aofState, commandsInScripts, redisCost } from './redis-cost.js';

/** What one measurement runs. */
export interface ApprovalCostOptions {
  /** Approvals measured per variant and round. */
  approvals: number;
  /** Approvals written first, not measured (scripts loaded, keys and allocator warm). */
  warmup: number;
  /** Interleaved rounds; each figure is the median over them. */
  rounds: number;
}

/** One variant's figures per approved 0100 (medians over the rounds). */
export interface ApprovalCost {
  variant: 'floor' | 'prototype' | 'switch';
  /** Redis command time (INFO commandstats; a script's nested commands counted once, in the script). */
  redisUs: number;
  /** Write commands run (inside scripts or not): each is executed, copied for the AOF and written to it. */
  writes: number;
  /** Script calls (EVALSHA). */
  scriptCalls: number;
  /** Bytes appended to the AOF. */
  aofBytes: number;
  /** The nested commands by name: µs and calls per approval (the last round). */
  byCommand: Record<string, { us: number; calls: number }>;
}

/** Redis's write commands that an approval of any variant may send (counted in `writes`). */
const WRITE_COMMANDS = new Set(['set', 'hset', 'hsetnx', 'hincrby', 'zadd', 'xadd', 'lpush', 'sadd', 'pexpire', 'expire', 'append', 'del', 'hdel', 'incr', 'incrby', 'zrem', 'srem', 'persist']);

const AMOUNT_MINOR = 100;
const FUNDS_MINOR = 900_000_000_000;
const CONFIG_ID = '0019167984';

/**
 * The three variants' cost per approval. `startRedis` starts a fresh redis-server with
 * appendfsync always in `dir` (the caller tracks its process and directory); `log` gets a line per
 * round. Throws when a variant declines an approval (the figures would not be an approval's).
 */
export async function measureApprovalCost(
  o: ApprovalCostOptions,
  startRedis: () => Promise<{ redis: ManagedRedis; close(): Promise<void> }>,
  log: (line: string) => void = () => {},
): Promise<ApprovalCost[]> {
  const variants = ['floor', 'prototype', 'switch'] as const;
  const rounds: Record<string, ApprovalCost[]> = { floor: [], prototype: [], switch: [] };
  for (let round = 1; round <= o.rounds; round++) {
    for (const v of variants) {
      const server = await startRedis();
      const at = server.redis.socketPath;
      const client = at === null ? new Redis(server.redis.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 })
        : new Redis({ path: at, enableAutoPipelining: true, maxRetriesPerRequest: 1 });
      try {
        const peer = v === 'switch' ? await switchApproval(client) : v === 'floor' ? await floorHold(client) : await prototypeHold(client);
        for (let i = 0; i < o.warmup; i++) await approve(peer.hold, v);
        await client.config('RESETSTAT');
        const aof0 = aofState(await client.info('persistence'));
        for (let i = 0; i < o.approvals; i++) await approve(peer.hold, v);
        const aof1 = aofState(await client.info('persistence'));
        const cost = costOf(v, await client.info('commandstats'), o.approvals, aof0.rewrites === aof1.rewrites ? (aof1.bytes - aof0.bytes) / o.approvals : NaN);
        rounds[v]!.push(cost);
        log(`  round ${round} ${v.padEnd(9)} ${cost.redisUs.toFixed(1)} µs of Redis, ${cost.writes.toFixed(1)} writes, ${cost.scriptCalls.toFixed(1)} script calls, ${cost.aofBytes.toFixed(0)} AOF bytes per approval`);
        if (v === 'switch') await (peer as SwitchPeer).check(o.warmup + o.approvals);
      } finally {
        client.disconnect();
        await server.close();
      }
    }
  }
  return variants.map((v) => {
    const rs = rounds[v]!;
    return {
      variant: v, redisUs: median(rs.map((r) => r.redisUs)), writes: median(rs.map((r) => r.writes)), scriptCalls: median(rs.map((r) => r.scriptCalls)),
      aofBytes: median(rs.map((r) => r.aofBytes)), byCommand: rs[rs.length - 1]!.byCommand,
    };
  });
}

async function approve(hold: Hold, variant: string): Promise<void> {
  const code = await hold();
  if (code !== '00') throw new Error(`approval cost: the ${variant} variant answered ${code}, not an approval`);
}

function costOf(variant: ApprovalCost['variant'], commandstats: string, approvals: number, aofBytes: number): ApprovalCost {
  const c = redisCost(commandstats, approvals, approvals);
  const nested = commandsInScripts();
  let writes = 0;
  const byCommand: ApprovalCost['byCommand'] = {};
  for (const [name, v] of Object.entries(c.byCommand)) {
    if (WRITE_COMMANDS.has(name)) writes += v.callsPerAnswer;
    if (nested.has(name)) byCommand[name] = { us: v.usPerAnswer, calls: v.callsPerAnswer };
  }
  const scriptCalls = (c.byCommand.evalsha?.callsPerAnswer ?? 0) + (c.byCommand.eval?.callsPerAnswer ?? 0);
  return { variant, redisUs: c.usPerAnswer, writes, scriptCalls, aofBytes, byCommand };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

interface SwitchPeer { hold: Hold; check(approvals: number): Promise<void> }

/**
 * The switch's approval of an 0100 for a card its thread remembers, through its own modules:
 * Ledger.hold with the arguments switch/process/holds.ts gives a demo card's purchase (no fees, no
 * daily limits: a card with limits adds their usage writes), carrying the record that batch.ts
 * renders for it (TransactionRecords.approvalRecord), written by the hold's own script.
 */
async function switchApproval(client: Redis): Promise<SwitchPeer> {
  const ledger = await Ledger.open(client, { balanceHistory: false });
  const records = new TransactionRecords(client, ledger);
  const bal = await ledger.createUserBalance({ customerId: 'cost-customer', currency: 'EUR', configId: CONFIG_ID });
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'cost-topup', txId: 'cost-topup', balanceId: bal.id, amountMinor: FUNDS_MINOR, partnerId: null });
  const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: CONFIG_ID });
  await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: FUNDS_MINOR, idempotencyKey: 'cost-deposit' });
  // The card record's guarded fields (stores/cards.ts: its id and version).
  const cardKey = StoreKeys.cardRecord('cost-card-index');
  await client.hset(cardKey, 'id', 'bc1', 'v', '1');
  const guardFields = ['id', 'v'];
  const guardExpected = ['bc1', '1'];
  // A cached answer of the switch's size: the framed 0110 without fields 2 and 54, with its
  // marks and code prefix (the hold's script appends the balances after it).
  const answer = Buffer.alloc(204, 0x30);
  let n = 0;
  const hold: Hold = async () => {
    const k = ++n;
    const nowMs = Date.now();
    const txId = benchTxId(k, '00000654321');
    const dk = Buffer.alloc(18);
    dk.writeUInt32BE(k, 0);
    dk.writeUInt32BE(process.pid, 4);
    const rec = benchRecord(recordIdOf(dk), bal.id, txId, AMOUNT_MINOR, nowMs);
    const r = await ledger.hold({
      idempotencyKey: null, txId, balanceId: bal.id, depositId: dep.balance.id, amountMinor: AMOUNT_MINOR, feeMinor: 0, fxFeeMinor: 0,
      companyId: null, nowMs, expiresAtMs: nowMs + 7 * 86_400_000, orphanTxId: txId.slice(0, txId.lastIndexOf('.')),
      guard: { hashKey: cardKey, fields: guardFields, expected: guardExpected, absentKey: records.duplicateAnswerKey(dk) },
      record: records.approvalRecord(dk, rec, answer, nowMs, true) ?? undefined,
    });
    if (!r.approved) return '51';
    if (!r.recorded) throw new Error('approval cost: the hold approved without writing its record');
    return '00';
  };
  return {
    hold,
    async check(approvals: number): Promise<void> {
      const b = await ledger.getUserBalance(bal.id);
      if (b?.blockedMinor !== approvals * AMOUNT_MINOR) throw new Error(`approval cost: ${String(b?.blockedMinor)} minor units held, ${approvals * AMOUNT_MINOR} expected`);
    },
  };
}

/** The table bench:switch prints, with each variant's ratio to the floor. */
export function formatApprovalCost(rows: readonly ApprovalCost[]): string[] {
  const floor = rows.find((r) => r.variant === 'floor');
  const ratio = (x: number, f: number | undefined) => (f === undefined || f === 0 ? '' : `${(x / f).toFixed(2)}x`);
  const out = ['  variant     Redis µs  (vs floor)  writes  script calls  AOF bytes  (vs floor)'];
  for (const r of rows) {
    out.push(`  ${r.variant.padEnd(10)} ${r.redisUs.toFixed(1).padStart(8)}  ${ratio(r.redisUs, floor?.redisUs).padStart(10)}  ${r.writes.toFixed(1).padStart(6)}  ${r.scriptCalls.toFixed(1).padStart(12)}  ${r.aofBytes.toFixed(0).padStart(9)}  ${ratio(r.aofBytes, floor?.aofBytes).padStart(10)}`);
  }
  const sw = rows.find((r) => r.variant === 'switch');
  if (sw !== undefined) {
    out.push('  switch, inside its scripts (µs and calls per approval): ' + Object.entries(sw.byCommand).sort((a, b) => b[1].us - a[1].us)
      .map(([k, v]) => `${k} ${v.us.toFixed(1)} (${v.calls.toFixed(2)})`).join(', '));
  }
  return out;
}

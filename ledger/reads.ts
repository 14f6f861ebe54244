// Read-only views of the ledger: a transaction, a balance's history, a group's journal, and the
// per-currency summary. None of them is on the authorization path.
import { LedgerError, statusOf } from './codes.js';
import type { LedgerCore } from './core.js';
import { Keyspace } from './keys.js';
import type { JournalEntry, MinorSum, SummaryRow, Transaction } from './types.js';

export class Reads {
  constructor(private readonly core: LedgerCore) {}

  /** A transaction of a balance, or null when there is none (or the balance id names no group). */
  async getTransaction(balanceId: string, txId: string): Promise<Transaction | null> {
    const g = this.core.keys.groupOfBalance(balanceId);
    if (g < 0) return null;
    const h = await this.core.redis.hgetall(this.core.keys.transaction(g, balanceId, txId));
    return toTransaction(balanceId, txId, h);
  }

  /** Transactions of a balance, newest first; `cursor` is the offset returned as `next`. Throws LEDGER_ERR_INVALID_BALANCE_ID. */
  async history(balanceId: string, opts: { limit?: number; cursor?: number }): Promise<{ items: Transaction[]; next: number | null }> {
    if (!this.core.balanceHistory) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'this ledger keeps no balance history (opened with balanceHistory: false)');
    const g = this.core.groupOf(balanceId);
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
    const start = opts.cursor ?? 0;
    const ids = await this.core.redis.lrange(this.core.keys.history(g, balanceId), start, start + limit);
    const page = ids.slice(0, limit);
    const items = (await Promise.all(page.map((id) => this.getTransaction(balanceId, id)))).filter((x): x is Transaction => x !== null);
    return { items, next: ids.length > limit ? start + limit : null };
  }

  /** A slot group's journal entries in order, after `afterId`, at most `count` (1..10,000; default 1,000). */
  async readJournal(group: number, opts: { afterId?: string; count?: number }): Promise<JournalEntry[]> {
    const key = this.core.keys.journals[group];
    if (key === undefined) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `no slot group ${group}`);
    const count = Math.min(Math.max(opts.count ?? 1000, 1), 10_000);
    const rows = await this.core.redis.xrange(key, opts.afterId === undefined ? '-' : '(' + opts.afterId, '+', 'COUNT', count);
    return rows.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const postings = (f.p ?? '').split(';').filter((x) => x !== '').map((x) => {
        const [from, to, amount, code] = x.split('>');
        return { from: from!, to: to!, amountMinor: Number(amount), code: code ?? '' };
      });
      return {
        id, timeMs: Number(id.slice(0, id.indexOf('-'))), op: f.o ?? '', balanceId: f.b ?? '', txId: f.x ?? '', currency: f.c ?? '', postings,
        status: f.s === undefined ? null : statusOf(Number(f.s)), reversedMinor: Number(f.rv ?? 0),
      };
    });
  }

  /**
   * Per currency: users, partners and wallet sums, exact (see Ledger.summary). Money inside the
   * system is what came in through the world accounts (conservation), so wallet = -(sum of the
   * world accounts) and users = wallet - partners (tranches + in transit).
   */
  async summary(): Promise<Record<string, SummaryRow>> {
    const { keys, redis } = this.core;
    const sums = new Map<string, { partners: bigint; wallet: bigint }>();
    const row = (c: string) => {
      let r = sums.get(c);
      if (r === undefined) { r = { partners: 0n, wallet: 0n }; sums.set(c, r); }
      return r;
    };
    const worlds = await Promise.all(keys.worlds.map((k) => redis.hgetall(k)));
    for (const h of worlds) for (const f in h) row(f.slice(0, f.indexOf(':'))).wallet -= BigInt(h[f]!);
    const ids = await redis.smembers(Keyspace.partnerIndex());
    for (const id of ids) {
      const cur = Keyspace.parsePartnerId(id)?.currency;
      if (cur === undefined || (await redis.exists(Keyspace.partnerHead(id))) === 0) continue;
      const parts = await Promise.all(keys.tranches(id).map((k) => redis.hmget(k, 'a', 'b')));
      for (const v of parts) row(cur).partners += BigInt(v[0] ?? 0) + BigInt(v[1] ?? 0);
    }
    for (let g = 0; g < keys.groups; g++) {
      for (const id of await redis.smembers(keys.openTransfers(g))) {
        const x = await redis.hmget(keys.transfer(g, id), 'amt', 'cur', 'dst');
        if (x[0] === null || x[1] === null) continue;
        if ((await redis.exists(Keyspace.transferReceiptInTag(x[2] ?? '', id))) === 0) row(x[1]!).partners += BigInt(x[0]!);
      }
    }
    const out: Record<string, SummaryRow> = {};
    for (const [c, r] of sums) out[c] = { usersMinor: minorSum(r.wallet - r.partners), partnersMinor: minorSum(r.partners), walletMinor: minorSum(r.wallet) };
    return out;
  }
}

function toTransaction(balanceId: string, txId: string, h: Record<string, string>): Transaction | null {
  if (h.s === undefined) return null;
  const meta: Record<string, string> = {};
  for (const k in h) if (k.startsWith('m:')) meta[k.slice(2)] = h[k]!;
  return {
    txId, balanceId,
    type: h.ty ?? 'HOLD',
    status: statusOf(Number(h.s)),
    currency: h.cur ?? '',
    amountMinor: Number(h.a ?? 0),
    heldMinor: Number(h.h ?? 0),
    feesHeldMinor: Number(h.fh ?? 0),
    feeMinor: Number(h.f ?? 0),
    fxFeeMinor: Number(h.x ?? 0),
    depositHeldMinor: Number(h.db ?? 0),
    clearedMinor: Number(h.c ?? 0),
    depositId: h.dp ? h.dp : null,
    companyId: h.kp ? h.kp : null,
    expiresAtMs: Number(h.e ?? 0),
    createdAtMs: Number(h.t ?? 0),
    forced: h.fc === '1',
    reversed: h.r === '1',
    reversedMinor: Number(h.rv ?? 0),
    originalTxId: h.o ? h.o : null,
    meta,
  };
}

/** An exact sum as a number while safe, else as its decimal string (MinorSum). */
export function minorSum(n: bigint): MinorSum {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n.toString();
}

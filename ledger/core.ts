// What every part of the ledger shares: the client, the key space, the registered scripts, the
// clock and the idempotency TTL. The parts (balances, holds, posts, settlement, tranches, reads)
// each hold one LedgerCore; the Ledger facade (ledger/ledger.ts) builds it once in open().
import type { Cluster, Redis } from 'ioredis';
import { LedgerError } from './codes.js';
import type { Keyspace } from './keys.js';
import type { ScriptFn } from './scripts.js';

export class LedgerCore {
  /** The idempotency records' TTL in ms, as the scripts take it (a decimal string). */
  readonly idemTtl: string;

  constructor(
    readonly redis: Redis | Cluster,
    readonly keys: Keyspace,
    private readonly fns: Map<string, ScriptFn>,
    idempotencyTtlMs: number,
    /** The clock of nowMs defaults, epoch ms. */
    readonly now: () => number,
    /** LedgerOptions.balanceHistory: holds and posts add their transaction id to the balance's history list. */
    readonly balanceHistory: boolean = true,
  ) {
    this.idemTtl = String(idempotencyTtlMs);
  }

  /** The registered script `name` (its file name without `-<keys>.lua`); LEDGER_ERR_SCRIPT_MISSING when ledger/lua has none. */
  fn(name: string): ScriptFn {
    const f = this.fns.get(name);
    if (f === undefined) throw new LedgerError('LEDGER_ERR_SCRIPT_MISSING', `ledger/lua has no script ${name}`);
    return f;
  }

  /** The balance's history list, or `none` (a key the scripts take as "no list": the transaction's own) when balanceHistory is off. */
  historyKey(g: number, balanceId: string, none: string): string {
    return this.balanceHistory ? this.keys.history(g, balanceId) : none;
  }

  /** Slot group of a user balance id; LEDGER_ERR_INVALID_BALANCE_ID when it names none of this ledger's groups. */
  groupOf(balanceId: string): number {
    const g = this.keys.groupOfBalance(balanceId);
    if (g < 0) throw new LedgerError('LEDGER_ERR_INVALID_BALANCE_ID', `not a user balance id of this ledger: ${balanceId}`);
    return g;
  }
}

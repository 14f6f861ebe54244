// Postings at once on a user balance: the internal transaction types of the management API
// (TOPUP … INTEREST) and card credits (refund, payment credit), with the automatic partner
// postings (post-user-7).
import { assertPostResult } from './assert.js';
import { Code, LedgerError, reasonOf, statusOf, type LedgerReason } from './codes.js';
import type { LedgerCore } from './core.js';
import { Keyspace } from './keys.js';
import type { Tranches } from './tranches.js';
import { INTERNAL_TYPES, type CreditArgs, type PostArgs, type PostResult } from './types.js';
import { checkAmount, checkId, checkPartnerId } from './validate.js';

type PostCall = PostArgs | (CreditArgs & { type: string });

export class Posts {
  constructor(private readonly core: LedgerCore, private readonly tranches: Tranches) {}

  /**
   * An internal transaction type, posted at once with its partner posting (see Ledger.post).
   * Throws LedgerError LEDGER_ERR_INVALID_ARGUMENT for an unknown type or a partner balance of
   * the wrong type, and on bad amounts or ids.
   */
  async post(a: PostArgs): Promise<PostResult> {
    const rule = INTERNAL_TYPES[a.type];
    if (rule === undefined) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `unknown internal transaction type ${String(a.type)}`);
    const partnerId = rule.partner === null ? null : (a.partnerId ?? null);
    if (partnerId !== null && Keyspace.parsePartnerId(partnerId)?.type !== rule.partner) {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `${a.type} posts to a ${rule.partner} partner balance, not ${partnerId}`);
    }
    return this.run(a, rule.dir, partnerId, partnerId === null ? 'N' : 'C', rule.world, rule.notFound);
  }

  /** A card credit from W:scheme, the deposit credited back from W:deposit (see Ledger.credit). */
  async credit(a: CreditArgs): Promise<PostResult> {
    const type = a.type ?? 'REFUND';
    if (a.depositId !== null) checkPartnerId(a.depositId, 'DEPOSIT', 'depositId');
    return this.run({ ...a, type }, '+', a.depositId, a.depositId === null ? 'N' : 'D', 'W:scheme', 'DEPOSIT_BALANCE_NOT_FOUND');
  }

  private async run(a: PostCall, dir: '+' | '-', partnerId: string | null, role: 'C' | 'D' | 'N', world: string, notFound: LedgerReason): Promise<PostResult> {
    checkAmount(a.amountMinor);
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    const g = this.core.groupOf(a.balanceId);
    const forced = a.forced === true;
    const retryable = role === 'C' && dir === '+' && !forced && this.core.keys.groups > 1;
    let r = await this.script(a, g, dir, partnerId, role, world, forced, retryable);
    let rebalanced = false;
    if (retryable && r[0] === Code.INSUFFICIENT_COLLATERAL) {
      rebalanced = await this.tranches.refillTranche(partnerId!, g, a.amountMinor - r[5]!, a.amountMinor);
      r = await this.script(a, g, dir, partnerId, role, world, forced, false);
    }
    const code = r[0]!;
    return {
      ok: code === Code.OK,
      reason: code === Code.PARTNER_NOT_FOUND ? notFound : reasonOf(code),
      replay: r[1] === 1,
      status: statusOf(r[2]!),
      availableMinor: r[3]!,
      blockedMinor: r[4]!,
      partnerAvailableMinor: r[5]!,
      rebalanced,
    };
  }

  private async script(a: PostCall, g: number, dir: '+' | '-', partnerId: string | null, role: 'C' | 'D' | 'N', world: string,
    forced: boolean, retryable: boolean): Promise<number[]> {
    const { keys } = this.core;
    const txKey = keys.transaction(g, a.balanceId, a.txId);
    const args: (string | number)[] = [keys.idempotency(g, a.idempotencyKey), txKey, keys.userBalance(g, a.balanceId),
      partnerId === null ? txKey : keys.tranche(g, partnerId), keys.journals[g]!, this.core.historyKey(g, a.balanceId, txKey), keys.worlds[g]!,
      a.type, dir, a.amountMinor, forced ? '1' : '0', a.nowMs ?? this.core.now(), this.core.idemTtl, a.balanceId, a.txId,
      partnerId ?? '', role, world, retryable ? '1' : '0'];
    if (a.meta !== undefined) for (const k in a.meta) args.push(k, a.meta[k]!);
    const r = await this.core.fn('post-user')(...args);
    assertPostResult('post-user', r);
    return r;
  }
}

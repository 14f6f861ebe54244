// Partner balance tranches: a partner balance is split into one tranche per slot group so that
// each card script touches one hash slot. Money moves between tranches in three single-slot,
// idempotent steps (out of the source into an in-transit record, into the destination, record
// closed), so a crash anywhere leaves it accounted for; recoverTransfers() finishes what a crash
// left in transit.
import { randomBytes } from 'node:crypto';
import { assertResult, assertVector } from './assert.js';
import { Code, LedgerError, reasonOf } from './codes.js';
import type { LedgerCore } from './core.js';
import { checkAmount } from './validate.js';

/** A tranche refill pulls at least this multiple of its shortfall. */
const REFILL_FACTOR = 4;

export class Tranches {
  constructor(private readonly core: LedgerCore) {}

  /**
   * Moves up to `amountMinor` of a partner balance from tranche `fromGroup` to `toGroup` (less if
   * the source has less); returns what moved, minor units. Throws LedgerError on bad groups or
   * amount, LEDGER_ERR_TRANSFER when the destination refuses.
   */
  async transferBetweenTranches(partnerId: string, fromGroup: number, toGroup: number, amountMinor: number, nowMs = this.core.now()): Promise<number> {
    const id = await this.startTransfer(partnerId, fromGroup, toGroup, amountMinor, nowMs);
    if (id === null) return 0;
    return this.completeTransfer(fromGroup, id);
  }

  /** First step only (tests and recovery drills): returns the transfer id, or null when nothing moved. */
  async startTransfer(partnerId: string, fromGroup: number, toGroup: number, amountMinor: number, nowMs = this.core.now()): Promise<string | null> {
    checkAmount(amountMinor);
    const { keys } = this.core;
    if (keys.tags[fromGroup] === undefined || keys.tags[toGroup] === undefined || fromGroup === toGroup) {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `bad tranche transfer ${fromGroup} -> ${toGroup}`);
    }
    const id = `${keys.tags[fromGroup]}-${randomBytes(9).toString('base64url')}`;
    const r = await this.core.fn('transfer-out')(keys.tranche(fromGroup, partnerId), keys.transfer(fromGroup, id), keys.openTransfers(fromGroup),
      keys.journals[fromGroup]!, partnerId, amountMinor, keys.tags[toGroup]!, nowMs, id, keys.tags[fromGroup]!);
    assertVector('transfer-out', r);
    // {code, replay, status, moved, sourceAvailable, 0, 0, 0}
    assertResult(r[0] !== Code.OK || (r[3]! > 0 && r[3]! <= amountMinor), 'transfer-out', 'a transfer moves 1..the amount asked for', r);
    return r[0] === Code.OK ? id : null;
  }

  /** Lands an in-transit transfer in its destination and closes it; idempotent. Returns the amount (0 when no such transfer). */
  async completeTransfer(fromGroup: number, transferId: string): Promise<number> {
    const { keys, redis } = this.core;
    const x = await redis.hgetall(keys.transfer(fromGroup, transferId));
    if (x.amt === undefined || x.dst === undefined || x.pid === undefined || x.cur === undefined) return 0;
    const to = keys.groupOfTag(x.dst);
    if (to < 0) throw new LedgerError('LEDGER_ERR_INVARIANT', `transfer ${transferId} names slot group ${x.dst}, which this ledger does not have`);
    const r = await this.core.fn('transfer-in')(keys.tranche(to, x.pid), keys.transferReceipt(to, transferId), keys.journals[to]!,
      x.pid, x.amt, x.cur, transferId, x.dst, this.core.now());
    assertVector('transfer-in', r);
    if (r[0] !== Code.OK) throw new LedgerError('LEDGER_ERR_TRANSFER', `transfer ${transferId} cannot land: ${reasonOf(r[0]!)}`);
    await this.core.fn('transfer-done')(keys.transfer(fromGroup, transferId), keys.openTransfers(fromGroup), transferId);
    return Number(x.amt);
  }

  /** Finishes every transfer left in transit (after a crash); run at start-up and now and then. Returns how many. */
  async recoverTransfers(): Promise<number> {
    let n = 0;
    for (let g = 0; g < this.core.keys.groups; g++) {
      for (const id of await this.core.redis.smembers(this.core.keys.openTransfers(g))) {
        await this.completeTransfer(g, id);
        n++;
      }
    }
    return n;
  }

  /**
   * Refills tranche `group` of a partner balance from the others, richest first. It pulls the
   * largest of the shortfall, 4x the amount asked for and the tranche's fair share (total / groups), so a tranche under
   * skewed load comes back once per several authorizations, not for each. Returns whether
   * anything moved.
   */
  async refillTranche(partnerId: string, group: number, needMinor: number, amountMinor: number): Promise<boolean> {
    const avail = await this.trancheAvailables(partnerId);
    const total = avail.reduce((s, a) => s + Math.max(a, 0), 0);
    const order = avail.map((a, g) => ({ a, g })).filter((x) => x.g !== group && x.a > 0).sort((x, y) => y.a - x.a);
    const need = Math.max(needMinor, 1);
    let missing = Math.max(need, amountMinor * REFILL_FACTOR, Math.floor(total / this.core.keys.groups));
    let got = 0;
    for (const { a, g } of order) {
      if (missing <= 0) break;
      const moved = await this.transferBetweenTranches(partnerId, g, group, Math.min(a, missing));
      missing -= moved;
      got += moved;
    }
    return got > 0;
  }

  /**
   * Evens out the tranches of a partner balance (a background task; authorizations also refill
   * on demand). Returns the number of transfers made.
   */
  async rebalancePartnerBalance(partnerId: string): Promise<number> {
    const avail = await this.trancheAvailables(partnerId);
    const total = avail.reduce((s, a) => s + Math.max(a, 0), 0);
    const target = Math.floor(total / this.core.keys.groups);
    const rich = avail.map((a, g) => ({ g, extra: a - target })).filter((x) => x.extra > 0);
    const poor = avail.map((a, g) => ({ g, lack: target - a })).filter((x) => x.lack > 0);
    let transfers = 0;
    for (const p of poor) {
      for (const r of rich) {
        if (p.lack <= 0) break;
        const amount = Math.min(p.lack, r.extra);
        if (amount <= 0) continue;
        const got = await this.transferBetweenTranches(partnerId, r.g, p.g, amount);
        r.extra -= got;
        p.lack -= got;
        if (got > 0) transfers++;
      }
    }
    return transfers;
  }

  private async trancheAvailables(partnerId: string): Promise<number[]> {
    const rows = await Promise.all(this.core.keys.tranches(partnerId).map((k) => this.core.redis.hget(k, 'a')));
    return rows.map((v) => Number(v ?? 0));
  }
}

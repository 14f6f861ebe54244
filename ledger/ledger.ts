// The ledger's typed API over its Lua scripts: a facade over its parts, one file per concern —
// balances.ts (user and partner balances, reloads), holds.ts (authorization holds and debits, the
// hot path), posts.ts (internal types and card credits), settlement.ts (clearing, reversal,
// release, expiry), tranches.ts (partner tranches), reads.ts (transactions, journal, summary).
// Every mutating call is ONE script call in ONE hash slot (plus, rarely, a tranche rebalancing on
// the slow path), keyed by an idempotency key: a replay returns the first result, flagged
// `replay`, and moves nothing. Every script's answer is checked against the invariants it must
// satisfy (ledger/assert.ts: LedgerAssertionError, code LEDGER_ERR_ASSERTION).
// Works on an ioredis Redis or Cluster; enable `enableAutoPipelining` on the client to batch the
// calls of one event-loop turn.
import type { Cluster, Redis } from 'ioredis';
import { Balances } from './balances.js';
import { LedgerError } from './codes.js';
import { LedgerCore } from './core.js';
import { Holds } from './holds.js';
import { Keyspace, type PartnerType } from './keys.js';
import { Posts } from './posts.js';
import { Reads } from './reads.js';
import { loadScripts, registerScripts } from './scripts.js';
import { Settlement } from './settlement.js';
import { Tranches } from './tranches.js';
import { DEFAULT_WINDOWS } from './types.js';
import type {
  ClearArgs, ClearResult, CreditArgs, HistoryWindows, HoldArgs, HoldResult, IncrementArgs, JournalEntry, LedgerOptions, PartnerBalance, PostArgs, PostResult,
  ReleaseArgs, ReleaseResult, ReloadResult, ReplaceArgs, ReplaceResult, ReverseArgs, ReverseResult, SummaryRow, Transaction, UserBalance,
} from './types.js';

export type { LedgerReason, TxStatus } from './codes.js';
export type { PartnerType } from './keys.js';
export * from './types.js';
export { minorSum } from './reads.js';
export { utcDay } from './settlement.js';

const DEFAULT_IDEM_TTL_MS = 8 * 86_400_000;
/** Fields of the ledger's meta hash (Keyspace.metaKey) holding the retention windows (HistoryWindows), ms. */
const WINDOW_FIELDS = ['rr', 'dw', 'rf'] as const;

export class Ledger {
  /** The key space: every Redis key of the ledger is built by it (ledger/keys.ts). */
  readonly keys: Keyspace;
  /** How long hot state stays in Redis once copied to history (LedgerOptions.windows, as stored in the meta hash). */
  readonly windows: HistoryWindows;
  private readonly balances: Balances;
  private readonly holds: Holds;
  private readonly posts: Posts;
  private readonly settlement: Settlement;
  private readonly tranches: Tranches;
  private readonly reads: Reads;

  private constructor(readonly redis: Redis | Cluster, core: LedgerCore, coalesceDebits: boolean, windows: HistoryWindows) {
    this.keys = core.keys;
    this.windows = windows;
    this.tranches = new Tranches(core);
    this.balances = new Balances(core);
    this.holds = new Holds(core, this.tranches, coalesceDebits);
    this.posts = new Posts(core, this.tranches);
    this.settlement = new Settlement(core);
    this.reads = new Reads(core);
  }

  /**
   * Loads the scripts on the client and reads (or fixes, on first use) the group count in
   * `{g00}:meta`. Throws LedgerError LEDGER_ERR_INVALID_ARGUMENT (groups outside 1..100),
   * LEDGER_ERR_GROUPS_MISMATCH (opts.groups differs from the stored count),
   * LEDGER_ERR_SCRIPT_CONSTANT (a script names a code ledger/codes.ts lacks).
   */
  static async open(redis: Redis | Cluster, opts: LedgerOptions = {}): Promise<Ledger> {
    const fns = registerScripts(redis, loadScripts());
    const isCluster = (redis as { isCluster?: boolean }).isCluster === true;
    const wanted = opts.groups ?? (isCluster ? 16 : 1);
    new Keyspace(wanted); // validates
    await redis.hsetnx(Keyspace.metaKey(), 'groups', String(wanted));
    const stored = Number(await redis.hget(Keyspace.metaKey(), 'groups'));
    if (opts.groups !== undefined && stored !== opts.groups) {
      throw new LedgerError('LEDGER_ERR_GROUPS_MISMATCH', `ledger data uses ${stored} slot groups, open() asked for ${opts.groups}`);
    }
    const { windows, stored: windowsStored } = await Ledger.windowsOf(redis, opts.windows);
    // With windows set (a switch), an idempotency record lives as long as the transaction hash it
    // protects and at least the duplicate window; a ledger used on its own keeps them 8 days.
    const idemTtlMs = opts.idempotencyTtlMs ?? (windowsStored ? Math.max(windows.finishedMs, windows.duplicateMs) : DEFAULT_IDEM_TTL_MS);
    const core = new LedgerCore(redis, new Keyspace(stored), fns, idemTtlMs, opts.now ?? Date.now, opts.balanceHistory !== false);
    return new Ledger(redis, core, opts.coalesceDebits !== false, windows);
  }

  /**
   * The retention windows: `given` is stored in `{g00}:meta` (the switch's start-up, before its
   * deciding threads open the ledger); without it, those stored there, else DEFAULT_WINDOWS.
   * Throws LEDGER_ERR_INVALID_ARGUMENT for a window that is not a positive safe integer.
   */
  private static async windowsOf(redis: Redis | Cluster, given: HistoryWindows | undefined): Promise<{ windows: HistoryWindows; stored: boolean }> {
    if (given !== undefined) {
      for (const v of [given.finishedMs, given.duplicateMs, given.referenceMs]) {
        if (!Number.isSafeInteger(v) || v < 1) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'windows: each a positive integer of ms');
      }
      await redis.hset(Keyspace.metaKey(), 'rr', String(given.finishedMs), 'dw', String(given.duplicateMs), 'rf', String(given.referenceMs));
      return { windows: { ...given }, stored: true };
    }
    const [rr, dw, rf] = (await redis.hmget(Keyspace.metaKey(), ...WINDOW_FIELDS)).map((v) => (v === null ? NaN : Number(v)));
    if (!(rr! > 0 && dw! > 0 && rf! > 0)) return { windows: { ...DEFAULT_WINDOWS }, stored: false };
    return { windows: { finishedMs: rr!, duplicateMs: dw!, referenceMs: rf! }, stored: true };
  }

  /** Number of slot groups (1..100), fixed when the data was first written. */
  get groups(): number { return this.keys.groups; }

  // ---------------------------------------------------------------- balances (balances.ts)

  /**
   * Opens a user balance for a customer. `balanceId`: an id chosen beforehand (balanceIdFor), as an
   * EXTERNAL_BALANCE program links it at the partner before it exists here; it must lie in the
   * customer's slot group (LEDGER_ERR_INVALID_BALANCE_ID otherwise).
   */
  createUserBalance(a: { customerId: string; currency: string; configId: string; idempotencyKey?: string; balanceId?: string }): Promise<UserBalance & { replay: boolean }> {
    return this.balances.createUserBalance(a);
  }

  /** The id a new balance of `customerId` will have: derived from `seed` (an idempotency key) when given, else random. */
  balanceIdFor(customerId: string, seed?: string): string {
    return this.balances.balanceIdFor(customerId, seed);
  }

  /** A user balance (minor units), or null when the id names none. */
  getUserBalance(id: string): Promise<UserBalance | null> {
    return this.balances.getUserBalance(id);
  }

  /** Balance ids of a customer (any currency or program). */
  listUserBalances(customerId: string): Promise<string[]> {
    return this.balances.listUserBalances(customerId);
  }

  /** One partner balance per (configId, type, currency): a second call returns the existing one. */
  createPartnerBalance(a: { type: PartnerType; currency: string; configId: string }): Promise<{ balance: PartnerBalance; created: boolean }> {
    return this.balances.createPartnerBalance(a);
  }

  /** The partner balance of (configId, type, currency), or null. */
  findPartnerBalance(configId: string, type: PartnerType, currency: string): Promise<PartnerBalance | null> {
    return this.balances.getPartnerBalance(Keyspace.partnerId(type, currency, configId));
  }

  /** Id the partner balance of (configId, type, currency) has or would have (no round trip). */
  partnerBalanceId(configId: string, type: PartnerType, currency: string): string {
    return Keyspace.partnerId(type, currency, configId);
  }

  /**
   * Partner balances in id order, at most `max` of them (read-only: one SMEMBERS of the index, then
   * each balance's tranches). For views over all of them, such as the dashboard.
   */
  /** Every partner balance id (`pb-<TYPE>-<CUR>-<configId>`), in id order: one SMEMBERS of the index. */
  partnerBalanceIds(): Promise<string[]> {
    return this.balances.partnerBalanceIds();
  }

  listPartnerBalances(max: number): Promise<PartnerBalance[]> {
    return this.balances.listPartnerBalances(max);
  }

  /** A partner balance, the sum of its tranches (minor units), or null. */
  getPartnerBalance(id: string): Promise<PartnerBalance | null> {
    return this.balances.getPartnerBalance(id);
  }

  /**
   * Money from outside into a partner balance, spread evenly over its tranches (one single-slot
   * script each, idempotency key `<key>` per slot): a retry after a partial failure completes it.
   */
  reloadPartnerBalance(a: { id: string; amountMinor: number; idempotencyKey: string; nowMs?: number }): Promise<ReloadResult> {
    return this.balances.reloadPartnerBalance(a);
  }

  // ---------------------------------------------------------------- card debits (holds.ts)

  /** Authorization hold (0100, forced for 0120): deposit-then-user in one script. */
  hold(a: HoldArgs): Promise<HoldResult> {
    return this.holds.debit('H', a);
  }

  /**
   * Single-message debit (0200) or a forced post without an authorization (0220 with no
   * original): checked like a hold (unless forced) and posted at once, status CLEARED.
   */
  debit(a: Omit<HoldArgs, 'expiresAtMs'> & { expiresAtMs?: number }): Promise<HoldResult> {
    return this.holds.debit('P', { ...a, expiresAtMs: a.expiresAtMs ?? 0 });
  }

  /**
   * Incremental authorization (an 0100 naming an open authorization by field 90): checked like a
   * hold — deposit then user funds, the counters' amount limits (an increment is the same
   * transaction: it counts its amount, not a transaction) — and, approved, added to the
   * original's hold: one transaction, one expiry (the later of the original's and `expiresAtMs`),
   * fees held with it and posted with it at clearing. The increment keeps a record of its own
   * under `incrementTxId` (type INCREMENT): `reverse({txId: incrementTxId})` gives back the
   * increment only (bounded by what the original still holds); a full reversal of the original
   * gives back everything still held, a partial one sets the whole transaction's final amount, a
   * clearing of the original may be for the total. The original must be an open authorization
   * (a hold() still AUTHORIZED) of this balance: TRANSACTION_NOT_FOUND / TRANSACTION_NOT_OPEN
   * otherwise, and nothing moves; a declined increment leaves the original exactly as it was. A
   * repeat (same key, or the same id with `idempotencyKey: null`) moves nothing twice.
   * Answers as hold() does (status AUTHORIZED when approved; `recorded` always false).
   */
  incrementHold(a: IncrementArgs): Promise<HoldResult> {
    return this.holds.increment(a);
  }

  // ---------------------------------------------------------------- after the authorization (settlement.ts)

  /**
   * Completion advice (an 0120 naming an open authorization by field 90): the authorization's
   * amount becomes `amountMinor` and its hold with it — down, the difference released (deposit
   * too); up, the excess held forced (an advice is never declined: available may go below zero).
   * One hold, never two. The fees held stay as they are; the status stays AUTHORIZED (a clearing
   * comes later); the velocity usage it counted follows the amount. Not an open authorization:
   * TRANSACTION_NOT_FOUND / TRANSACTION_NOT_OPEN, nothing moves. Idempotent under its key.
   */
  replaceHold(a: ReplaceArgs): Promise<ReplaceResult> {
    return this.settlement.replaceHold(a);
  }

  /** Full reversal, or partial with the new final amount. A second reversal moves nothing. */
  release(a: ReleaseArgs): Promise<ReleaseResult> {
    return this.settlement.release(a);
  }

  /**
   * Reverses any transaction in one script call (SPEC §2.3), in full or down to `newAmountMinor`
   * (its new final amount, field 95):
   * - an open hold (AUTHORIZED) is released, as release() does (effect RELEASED; deposit tranche
   *   included; a partial one keeps the fees held, a full one releases them);
   * - a posted debit (debit(): 0200 or forced post) or a cleared authorization (status CLEARED) is
   *   credited back to the user (effect CREDITED_BACK), mirroring the debit's postings: from
   *   W:scheme, and the deposit tranche it consumed back from W:deposit; a full reversal also
   *   returns the fees posted with it (from the company tranche or W:income), a partial one only
   *   the principal difference. Base of a cleared authorization: what was cleared;
   * - a posted card credit (credit(): REFUND, PAYMENT_CREDIT) is debited back as a forced post
   *   (may go below zero; effect DEBITED_BACK), and the deposit credited back with it is debited
   *   back too.
   * A transaction is reversed at most once: a second call answers ALREADY_REVERSED (ok) and moves
   * nothing, whether the first was full or partial. A full reversal of posted money sets REVERSED,
   * a partial one keeps CLEARED; the record gains `r` = 1 and `rv` (reversedMinor).
   * The velocity usage the original counted (daily limits and velocity controls) is given back on
   * the usage hashes its record names: the amount given back (the latest countings first), and on
   * a full reversal everything and the transaction's count (`cardId` is no longer needed).
   * An incremental authorization (incrementHold's `incrementTxId`) is reversed alone: its amount
   * (or down to `newAmountMinor`, its own new final amount) goes back out of its original's hold,
   * bounded by what that still holds, with the usage it counted; effect RELEASED. Once the
   * original is reversed or expired: ALREADY_REVERSED; once cleared: TRANSACTION_NOT_OPEN.
   * Unknown transaction: TRANSACTION_NOT_FOUND, nothing moves; with `rememberOrphan` an
   * ORPHAN_REVERSAL record is left so that a late original holds nothing.
   * Internal types (TOPUP & co) are not card transactions: TRANSACTION_NOT_OPEN, nothing moves.
   * Throws LedgerError (bad input) before Redis is touched; LEDGER_ERR_CONTENTION when the
   * transaction's record kept changing over 3 attempts.
   */
  reverse(a: ReverseArgs): Promise<ReverseResult> {
    return this.settlement.reverse(a);
  }

  /**
   * Clearing (0220 with an original): equal, less (with `final`, the default, the rest is
   * released), more (the excess is force-posted). `final: false` is one of several partial
   * clearings of one hold. Fees held are posted to the company balance at the first clearing.
   * TRANSACTION_NOT_FOUND: no such authorization; the caller force-posts with debit().
   */
  clear(a: ClearArgs): Promise<ClearResult> {
    return this.settlement.clear(a);
  }

  /**
   * Releases holds whose expiry is at or before nowMs (as a reversal would) and marks them
   * EXPIRED (CLEARED when partly cleared). Each group's expiry index is read in time order and each
   * hold is released by a script that re-checks status and due time, so concurrent sweepers in
   * several processes release a hold at most once. Returns how many this call released.
   */
  sweepExpired(nowMs?: number, limitPerGroup = 500): Promise<{ expired: number; examined: number }> {
    return this.settlement.sweepExpired(nowMs, limitPerGroup);
  }

  // ---------------------------------------------------------------- postings (posts.ts)

  /**
   * Internal transaction types (management API), posted at once with the seed's automatic
   * partner postings: TOPUP, PAYMENT, LOAN, CASHBACK debit the CREDIT partner balance (refused
   * above its funds); FUNDING credits it; FEE credits the COMPANY balance; WITHDRAWAL goes out of
   * the system (W:external); COMMISSION and INTEREST are paid to the partner (W:partner).
   * `partnerId` null: the program has no such partner balance and the world account stands in
   * (TOPUP & co from W:external, FUNDING to W:external, FEE to W:income). Whether a missing credit
   * balance is acceptable (`creditRequired`) is the caller's decision.
   */
  post(a: PostArgs): Promise<PostResult> {
    return this.posts.post(a);
  }

  /**
   * Card credit (refund, payment credit): the user is credited from the scheme (W:scheme) and the
   * program's deposit, if any, is credited back (from W:deposit).
   */
  credit(a: CreditArgs): Promise<PostResult> {
    return this.posts.credit(a);
  }

  // ---------------------------------------------------------------- reads (reads.ts)

  /** A transaction of a balance, or null. */
  getTransaction(balanceId: string, txId: string): Promise<Transaction | null> {
    return this.reads.getTransaction(balanceId, txId);
  }

  /**
   * Transactions of a balance, newest first; `cursor` is the offset returned as `next`. Throws
   * LEDGER_ERR_INVALID_ARGUMENT when the ledger was opened with `balanceHistory: false`.
   */
  history(balanceId: string, opts: { limit?: number; cursor?: number } = {}): Promise<{ items: Transaction[]; next: number | null }> {
    return this.reads.history(balanceId, opts);
  }

  /**
   * Reads a slot group's journal in order: one entry per operation with its postings
   * (from -> to, amount, code). `afterId` pages on from the last entry read. An audit tool, not
   * a hot-path call: each group's journal holds every operation of its balances.
   */
  readJournal(group: number, opts: { afterId?: string; count?: number } = {}): Promise<JournalEntry[]> {
    return this.reads.readJournal(group, opts);
  }

  /**
   * Per currency: the sum of all user balances, of all partner balances, and of both ("wallet"),
   * available + blocked (SPEC §6 summary). Computed without reading the user balances: money
   * inside the system is exactly what came in through the world accounts (conservation), so
   * wallet = -(sum of world accounts) and users = wallet - partners (tranches + in transit).
   * Sums are exact (BigInt): each is a number while it is a safe integer, else its decimal string.
   */
  summary(): Promise<Record<string, SummaryRow>> {
    return this.reads.summary();
  }

  // ---------------------------------------------------------------- tranches (tranches.ts)

  /**
   * Moves partner funds from one tranche to another: out of the source slot into an in-transit
   * record, into the destination slot, then the record is closed. Each step is one single-slot
   * script and idempotent, so a crash anywhere leaves money accounted for (see recoverTransfers).
   * Moves up to `amountMinor` (less if the source has less); returns what moved.
   */
  transferBetweenTranches(partnerId: string, fromGroup: number, toGroup: number, amountMinor: number, nowMs?: number): Promise<number> {
    return this.tranches.transferBetweenTranches(partnerId, fromGroup, toGroup, amountMinor, nowMs);
  }

  /** First step only (tests and recovery drills): returns the transfer id, or null when nothing moved. */
  startTransfer(partnerId: string, fromGroup: number, toGroup: number, amountMinor: number, nowMs?: number): Promise<string | null> {
    return this.tranches.startTransfer(partnerId, fromGroup, toGroup, amountMinor, nowMs);
  }

  /** Lands an in-transit transfer in its destination and closes it; idempotent. Returns the amount. */
  completeTransfer(fromGroup: number, transferId: string): Promise<number> {
    return this.tranches.completeTransfer(fromGroup, transferId);
  }

  /** Finishes every transfer left in transit (after a crash); run at start-up and now and then. */
  recoverTransfers(): Promise<number> {
    return this.tranches.recoverTransfers();
  }

  /**
   * Evens out the tranches of a partner balance (a background task; authorizations also refill
   * on demand). Returns the number of transfers made.
   */
  rebalancePartnerBalance(partnerId: string): Promise<number> {
    return this.tranches.rebalancePartnerBalance(partnerId);
  }
}

// Low-balance notifications of partner balances. A program may set `lowBalanceMinor` (switch/
// programs.ts): levels for its DEPOSIT and CREDIT partner balances. A watcher on the main thread
// reads those balances every LOW_BALANCE_CHECK_MS and, when one is below its level and was not
// below it at the previous look, writes one `POST /notifications/lowBalance` to the durable outbox
// (adapters/outbox.ts); it is armed again once the balance is back at or above the level. The
// seed names no such notification; its path and body are this project's choice, in the seed's
// notifications family (docs/partners.md, "Low-balance notification").
//
// Why a watcher and not a check per message: the deposit balance is touched by every
// authorization of a program, on the hot path; reading it back there would add a Redis round trip
// per message. A look every second costs one read per watched balance. The price: a dip that
// recovers between two looks is not noticed.
//
// Once per crossing, across processes and crashes: the state of each balance (`low`, `n` =
// crossings so far) is a Redis hash, `lowbal:<partner balance id>`. On a new crossing the
// notification is enqueued first, under a key derived from the balance and crossing number n+1,
// and the state is moved to n+1 only then (low-balance-mark-1.lua, which refuses when another
// process moved it first). A crash between the two enqueues the same key again at the next look,
// which the outbox takes as the entry it already holds.
import { StoreKeys } from '../ledger/keys.js';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { loadScripts, projectRoot, scriptCall } from '../ledger/scripts.js';
import type { PartnerBalance } from '../ledger/index.js';
import { receivesNotifications, type Program, type ProgramTable } from '../stores/programs.js';
import type { EnqueueInput } from './outbox.js';
import { endpointPath, type LowBalanceNotification } from './partner-types.js';
import { uuidFromHash } from '../ledger/keys.js';
import { createHash } from 'node:crypto';

/** Default period of the watcher, ms (LOW_BALANCE_CHECK_MS). */
export const LOW_BALANCE_CHECK_MS_DEFAULT = 1000;
/** Partner balances read per look at most (the ledger's listPartnerBalances bound). */
export const LOW_BALANCE_WATCHED_MAX = 1000;

/** What the watcher reads and writes; the ledger and the outbox of the switch fit it. */
export interface LowBalanceDeps {
  redis: Redis | Cluster;
  ledger: { listPartnerBalances(max: number): Promise<PartnerBalance[]> };
  programs: ProgramTable;
  outbox: { enqueue(input: EnqueueInput): Promise<unknown> };
  /** Period between looks, ms. Default LOW_BALANCE_CHECK_MS_DEFAULT. */
  intervalMs?: number;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;

/** The state key of a partner balance. */
export function lowBalanceStateKey(partnerBalanceId: string): string {
  return StoreKeys.lowBalance(partnerBalanceId);
}

/** X-Idempotency-Key of the notification of crossing `n` (1-based) of a partner balance: a UUID derived from both. */
export function lowBalanceKey(partnerBalanceId: string, n: number): string {
  return uuidFromHash(createHash('sha256').update(`lowBalance|${partnerBalanceId}|${n}`).digest());
}

/** The level of a partner balance under its program, or null when none is watched. */
function levelOf(p: Program | undefined, b: PartnerBalance): number | null {
  if (p === undefined || !receivesNotifications(p) || (b.type !== 'DEPOSIT' && b.type !== 'CREDIT')) return null;
  return p.lowBalanceMinor[b.type];
}

export class LowBalanceWatcher {
  private readonly intervalMs: number;
  private readonly mark: ScriptCall;
  private readonly log: NonNullable<LowBalanceDeps['log']>;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;

  constructor(private readonly d: LowBalanceDeps) {
    this.intervalMs = d.intervalMs ?? LOW_BALANCE_CHECK_MS_DEFAULT;
    this.log = d.log ?? (() => {});
    const script = loadScripts(join(projectRoot(), 'adapters', 'lua')).find((s) => s.name === 'low-balance-mark');
    if (script === undefined) throw new Error('adapters/lua: no low-balance-mark-1.lua');
    this.mark = scriptCall(d.redis, script);
  }

  /** True when some program watches a partner balance (a watcher is worth starting). */
  static wanted(programs: ProgramTable): boolean {
    return programs.programs.some((p) => receivesNotifications(p) && (p.lowBalanceMinor.DEPOSIT !== null || p.lowBalanceMinor.CREDIT !== null));
  }

  /** Looks every intervalMs until stop(); a look that fails (Redis down) is logged and the next one tries again. */
  start(): void {
    const loop = (): void => {
      if (this.stopped) return;
      this.running = this.checkOnce().catch((err: unknown) => {
        this.log('warn', 'low-balance check failed; the next look tries again', { error: String((err as Error).message ?? err).slice(0, 200) });
        return 0;
      });
      void this.running.finally(() => {
        this.running = null;
        if (this.stopped) return;
        this.timer = setTimeout(loop, this.intervalMs);
        this.timer.unref();
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.running !== null) await this.running;
  }

  /**
   * One look at every watched partner balance: enqueues the notification of each new crossing
   * below its level, re-arms those back at or above it. Returns the notifications enqueued.
   * Throws Redis and outbox errors (nothing is marked for a notification not enqueued).
   */
  async checkOnce(nowMs = Date.now()): Promise<number> {
    let sent = 0;
    for (const b of await this.d.ledger.listPartnerBalances(LOW_BALANCE_WATCHED_MAX)) {
      const level = levelOf(this.d.programs.byId(b.configId), b);
      if (level === null) continue;
      const key = lowBalanceStateKey(b.id);
      if (b.availableMinor >= level) {
        await this.mark(key, '0');
        continue;
      }
      const [low, n] = await this.d.redis.hmget(key, 'low', 'n');
      if (low === '1') continue;
      const next = Number(n ?? 0) + 1;
      await this.enqueue(b, level, next, nowMs);
      if (await this.mark(key, '1', next) === 1) sent++;
    }
    return sent;
  }

  private async enqueue(b: PartnerBalance, level: number, n: number, nowMs: number): Promise<void> {
    const body: LowBalanceNotification = {
      balanceId: b.id, type: b.type as 'DEPOSIT' | 'CREDIT', configId: b.configId, currency: b.currency,
      amount: b.availableMinor, level, date: new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    };
    try {
      await this.d.outbox.enqueue({ kind: 'notification', configId: b.configId, method: 'POST', path: endpointPath('notify', { kind: 'lowBalance' }), body, idempotencyKey: lowBalanceKey(b.id, n) });
    } catch (err) {
      // The same crossing enqueued already (by another process, or before a crash) with another amount or date: it stands.
      if ((err as { code?: string }).code !== 'OUTBOX_ERR_KEY_REUSED') throw err;
    }
  }
}

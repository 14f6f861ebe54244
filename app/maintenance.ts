// Background ledger upkeep run by every switch process on its main thread: expire holds whose
// time has come (SPEC §2.3) and finish deposit-tranche transfers a crash interrupted. Several
// switch processes may run it at once: each expiry is a script that releases a hold at most
// once, and finishing a transfer is idempotent.
import type { Ledger } from '../ledger/index.js';

export interface MaintenanceOptions {
  intervalMs: number;
  /** Holds released per slot group per pass; a pass repeats while a group returns a full page. */
  sweepPageSize: number;
  /** Passes per tick at most, so one tick never runs unbounded. */
  maxPagesPerTick: number;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export class Maintenance {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  expiredTotal = 0;

  constructor(private readonly ledger: Ledger, private readonly o: MaintenanceOptions) {}

  async start(): Promise<void> {
    const recovered = await this.ledger.recoverTransfers();
    if (recovered > 0) this.o.log('info', 'finished interrupted tranche transfers', { recovered });
    this.schedule();
  }

  private schedule(): void {
    // Jitter keeps several processes from sweeping in lockstep.
    const delay = this.o.intervalMs * (0.9 + Math.random() * 0.2);
    this.timer = setTimeout(() => { this.running = this.tick().finally(() => { this.running = null; if (this.timer !== null) this.schedule(); }); }, delay);
    this.timer.unref();
  }

  /** One pass: sweep expired holds page by page. Errors are logged; the next tick tries again. */
  async tick(nowMs = Date.now()): Promise<number> {
    let expired = 0;
    try {
      for (let page = 0; page < this.o.maxPagesPerTick; page++) {
        const r = await this.ledger.sweepExpired(nowMs, this.o.sweepPageSize);
        expired += r.expired;
        if (r.examined < this.o.sweepPageSize) break;
      }
      if (expired > 0) this.o.log('info', 'expired holds released', { expired });
    } catch (err) {
      this.o.log('warn', 'hold expiry sweep failed', { error: String((err as Error).message ?? err).slice(0, 200) });
    }
    this.expiredTotal += expired;
    return expired;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.running) await this.running;
  }
}

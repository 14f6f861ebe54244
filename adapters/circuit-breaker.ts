// A circuit breaker for one partner origin. A dead partner must cost the switch at most one
// timeout per probe interval, not one per message: after `failuresToOpen` consecutive failures
// the breaker opens and calls are refused at once; when `probeIntervalMs` has passed, exactly one
// call goes through as a probe (half-open); its success closes the breaker, its failure opens it
// for another interval.

export type BreakerState = 'closed' | 'open' | 'half-open';

/** Gauge values of the states (partner_breaker_state). */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, 'half-open': 1, open: 2 };

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. Default 5. */
  failuresToOpen?: number;
  /** How long the breaker stays open before one probe is let through, ms. Default 5000. */
  probeIntervalMs?: number;
  /** Clock in ms (tests pass their own so that no test waits on time). Default Date.now. */
  now?: () => number;
  /** Called on every change of state. */
  onState?: (state: BreakerState) => void;
}

export const BREAKER_FAILURES_TO_OPEN_DEFAULT = 5;
export const BREAKER_PROBE_INTERVAL_MS_DEFAULT = 5000;

/** A permit to call: pass it back to `record` with the call's outcome. */
export interface BreakerPermit { probe: boolean }

export class CircuitBreaker {
  private stateNow: BreakerState = 'closed';
  private failures = 0;
  private openedAtMs = 0;
  private probeInFlight = false;
  readonly failuresToOpen: number;
  readonly probeIntervalMs: number;
  private readonly now: () => number;
  private readonly onState: (s: BreakerState) => void;

  constructor(o: BreakerOptions = {}) {
    this.failuresToOpen = o.failuresToOpen ?? BREAKER_FAILURES_TO_OPEN_DEFAULT;
    this.probeIntervalMs = o.probeIntervalMs ?? BREAKER_PROBE_INTERVAL_MS_DEFAULT;
    if (!(Number.isInteger(this.failuresToOpen) && this.failuresToOpen >= 1)) throw new RangeError('failuresToOpen must be an integer >= 1');
    if (!(this.probeIntervalMs > 0)) throw new RangeError('probeIntervalMs must be > 0');
    this.now = o.now ?? Date.now;
    this.onState = o.onState ?? (() => {});
  }

  get state(): BreakerState { return this.stateNow; }

  /**
   * A permit for one call, or null when the breaker refuses it (open, or half-open with its one
   * probe already out).
   */
  acquire(): BreakerPermit | null {
    if (this.stateNow === 'closed') return { probe: false };
    if (this.stateNow === 'open' && this.now() - this.openedAtMs >= this.probeIntervalMs) this.set('half-open');
    if (this.stateNow === 'half-open' && !this.probeInFlight) {
      this.probeInFlight = true;
      return { probe: true };
    }
    return null;
  }

  /** The outcome of a permitted call: `failed` for a timeout, an unreachable partner, a 5xx or a malformed answer. */
  record(permit: BreakerPermit, failed: boolean): void {
    if (permit.probe) this.probeInFlight = false;
    if (!failed) {
      this.failures = 0;
      if (this.stateNow !== 'closed') this.set('closed');
      return;
    }
    this.failures++;
    // A late failure of a call made while closed does not re-open a breaker a probe has just closed
    // unless the count is reached again; a probe's failure always re-opens.
    if (permit.probe || (this.stateNow === 'closed' && this.failures >= this.failuresToOpen)) {
      this.openedAtMs = this.now();
      this.set('open');
    }
  }

  private set(s: BreakerState): void {
    if (s === this.stateNow) return;
    this.stateNow = s;
    this.onState(s);
  }
}

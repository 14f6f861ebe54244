// What the demo counts: messages sent and answered (by kind, and by the card data they carried),
// answers by response code with the reason's name, latency from write to answer in an HDR
// histogram (microseconds), and answers per second over the last minute for the sparkline.
import * as hdr from 'hdr-histogram-js';

/** Latency is tracked up to one minute, at 3 significant digits. */
const LATENCY_MAX_US = 60_000_000;
/** Seconds of answers/s kept for the sparkline. */
export const SERIES_SECONDS = 60;

export class DemoStats {
  sent = 0;
  answered = 0;
  /** Requests that got no answer within the wait. */
  unanswered = 0;
  /** Answers that matched no request in flight. */
  unmatched = 0;
  /** "code reason" → count. */
  readonly byCode = new Map<string, number>();
  /** Request kinds of the mix → count sent. */
  readonly byKind = new Map<string, number>();
  /** Card data carried (CVV2, track 2, ARQC, PIN block, stored credential) → messages sent with it. */
  readonly byData = new Map<string, number>();
  readonly latencyUs = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: LATENCY_MAX_US, numberOfSignificantValueDigits: 3 });
  /** Answers per completed second, oldest first, at most SERIES_SECONDS. */
  readonly perSecond: number[] = [];
  private thisSecond = 0;
  readonly startedMs = Date.now();

  sentOne(kind: string, data: readonly string[] = []): void {
    this.sent++;
    this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
    for (const d of data) this.byData.set(d, (this.byData.get(d) ?? 0) + 1);
  }

  answer(code: string, reason: string, latencyMs: number): void {
    this.answered++;
    this.thisSecond++;
    const key = `${code.padEnd(4)} ${reason}`;
    this.byCode.set(key, (this.byCode.get(key) ?? 0) + 1);
    const us = Math.round(latencyMs * 1000);
    this.latencyUs.recordValue(Math.min(Math.max(us, 1), LATENCY_MAX_US));
  }

  /** Closes the current second of the series (called once a second). */
  tick(): void {
    this.perSecond.push(this.thisSecond);
    this.thisSecond = 0;
    if (this.perSecond.length > SERIES_SECONDS) this.perSecond.shift();
  }

  /** Answers per second over the last completed second (0 before the first). */
  get lastRate(): number { return this.perSecond.at(-1) ?? 0; }

  /** p50, p95, p99 and max in milliseconds; null before any answer. */
  percentilesMs(): { p50: number; p95: number; p99: number; max: number } | null {
    const h = this.latencyUs;
    if (h.totalCount === 0) return null;
    return { p50: h.getValueAtPercentile(50) / 1000, p95: h.getValueAtPercentile(95) / 1000, p99: h.getValueAtPercentile(99) / 1000, max: h.maxValue / 1000 };
  }

  /** Counts by code, the largest first. */
  codesByCount(): Array<[string, number]> {
    return [...this.byCode].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }
}

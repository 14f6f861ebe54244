// What the dashboard's polled numbers are made of (GET /dashboard/stats.json), computed from the
// switch's own prom-client registry (app/metrics.ts) so that the page and a Prometheus scrape
// never disagree. Counters and the latency histogram are cumulative since start; rates and
// latency quantiles are the difference between the registry now and a sample taken about a
// second earlier, so every client of the page sees the same window whatever its polling pace.
import type { Registry } from 'prom-client';

/** Samples closer together than this share one computation (a burst of dashboards costs one read). */
export const STATS_REUSE_MS = 500;
/** The window of rates and quantiles: the newest sample at least this old is the baseline. */
export const STATS_WINDOW_MS = 1000;
/**
 * A baseline older than this gives no rate and no quantiles (null): after a quiet spell with no
 * reader, the only baseline left is the previous reading (or the start), and an average over those
 * minutes is not what "answers/s now" means. The next reading, a second later, has a fresh baseline.
 */
export const STATS_WINDOW_MAX_MS = 5000;

/** The numbers of one histogram, summed over its labels: cumulative count per upper bound (+Inf last). */
export interface Buckets { le: readonly number[]; cumulative: readonly number[] }

interface Sample { timeMs: number; answers: number; latency: Buckets }

export interface DecisionCount { reason: string; responseCode: string; count: number }

/** The registry's side of the dashboard's numbers. */
export interface RegistryStats {
  timeMs: number;
  /** Seconds between the baseline sample and this one (rates and quantiles cover them). */
  windowSeconds: number;
  answersTotal: number;
  /** null when the window is longer than STATS_WINDOW_MAX_MS (the first reading after a quiet spell). */
  answersPerSecond: number | null;
  /** Estimates from the histogram's buckets over the window; null when nothing was answered in it, or the window is too long. */
  latencySecondsP50: number | null;
  latencySecondsP99: number | null;
  /** Money messages decided since start, by reason, most frequent first. */
  decisions: DecisionCount[];
  inflight: number;
  connections: number;
  poolQueue: number;
  feedClients: number;
  /** null when this switch has no outbox (no switch_outbox_depth metric). */
  outboxDepth: number | null;
}

type MetricValues = Array<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }>;

async function values(registry: Registry, name: string): Promise<MetricValues | null> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return null;
  return (await m.get()).values as MetricValues;
}

async function gauge(registry: Registry, name: string): Promise<number | null> {
  const v = await values(registry, name);
  return v === null ? null : v.reduce((s, x) => s + x.value, 0);
}

/** A histogram's buckets summed over every label but `le`. */
export async function histogramBuckets(registry: Registry, name: string): Promise<Buckets> {
  const byLe = new Map<number, number>();
  for (const v of (await values(registry, name)) ?? []) {
    if (v.metricName !== `${name}_bucket`) continue;
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + v.value);
  }
  const le = [...byLe.keys()].sort((a, b) => a - b);
  return { le, cumulative: le.map((x) => byLe.get(x) as number) };
}

/** `now` minus `base`, bucket by bucket (a bound missing from `base` counts 0 there). */
export function subtractBuckets(now: Buckets, base: Buckets): Buckets {
  const before = new Map(base.le.map((le, i) => [le, base.cumulative[i] as number]));
  return { le: now.le, cumulative: now.le.map((le, i) => (now.cumulative[i] as number) - (before.get(le) ?? 0)) };
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside the bucket the rank falls in
 * (Prometheus's histogram_quantile): the lowest bucket starts at 0, and a rank in the +Inf bucket
 * answers the largest finite bound. null when the buckets hold nothing.
 */
export function quantile(q: number, b: Buckets): number | null {
  const total = b.cumulative[b.cumulative.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < b.le.length; i++) {
    const count = b.cumulative[i] as number;
    if (count < rank) continue;
    const upper = b.le[i] as number;
    const lower = i === 0 ? 0 : (b.le[i - 1] as number);
    if (upper === Infinity) return lower;
    const below = i === 0 ? 0 : (b.cumulative[i - 1] as number);
    return count === below ? upper : lower + (upper - lower) * ((rank - below) / (count - below));
  }
  return null;
}

/** Decisions since start summed over MTIs, by (reason, response code), most frequent first. */
async function decisions(registry: Registry): Promise<DecisionCount[]> {
  const by = new Map<string, DecisionCount>();
  for (const v of (await values(registry, 'switch_decisions_total')) ?? []) {
    const reason = String(v.labels.reason ?? '');
    const responseCode = String(v.labels.code ?? '');
    const k = `${reason}\n${responseCode}`;
    const row = by.get(k) ?? { reason, responseCode, count: 0 };
    row.count += v.value;
    by.set(k, row);
  }
  return [...by.values()].filter((r) => r.count > 0).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

/**
 * Turns the registry into the dashboard's numbers. Keeps the few samples that the window needs
 * (the newest one at least STATS_WINDOW_MS old and those after it), so its memory is bounded.
 */
export class RegistrySampler {
  private samples: Sample[];
  private last: { timeMs: number; stats: Promise<RegistryStats> } | null = null;

  /** `registry` refreshes the switch's sampled gauges and answers the registry; `startMs` is when the counters were zero. */
  constructor(private readonly registry: () => Promise<Registry>, startMs: number, private readonly now: () => number = Date.now) {
    this.samples = [{ timeMs: startMs, answers: 0, latency: { le: [], cumulative: [] } }];
  }

  stats(): Promise<RegistryStats> {
    const nowMs = this.now();
    if (this.last !== null && nowMs - this.last.timeMs < STATS_REUSE_MS) return this.last.stats;
    const stats = this.compute(nowMs);
    this.last = { timeMs: nowMs, stats };
    stats.catch(() => { if (this.last?.stats === stats) this.last = null; });
    return stats;
  }

  private async compute(nowMs: number): Promise<RegistryStats> {
    const registry = await this.registry();
    const latency = await histogramBuckets(registry, 'switch_message_latency_seconds');
    const answersTotal = (await gauge(registry, 'switch_messages_total')) ?? 0;
    const sample: Sample = { timeMs: nowMs, answers: answersTotal, latency };
    const base = this.baseline(nowMs);
    this.samples = [...this.samples.filter((s) => s.timeMs >= base.timeMs && s.timeMs < nowMs), sample];
    const windowSeconds = Math.max(0, (nowMs - base.timeMs) / 1000);
    const inWindow = subtractBuckets(latency, base.latency);
    const current = nowMs - base.timeMs <= STATS_WINDOW_MAX_MS;
    return {
      timeMs: nowMs,
      windowSeconds,
      answersTotal,
      answersPerSecond: !current ? null : windowSeconds > 0 ? (answersTotal - base.answers) / windowSeconds : 0,
      latencySecondsP50: current ? quantile(0.5, inWindow) : null,
      latencySecondsP99: current ? quantile(0.99, inWindow) : null,
      decisions: await decisions(registry),
      inflight: (await gauge(registry, 'switch_inflight_requests')) ?? 0,
      connections: (await gauge(registry, 'switch_connections')) ?? 0,
      poolQueue: (await gauge(registry, 'switch_worker_queue_depth')) ?? 0,
      feedClients: (await gauge(registry, 'feed_clients')) ?? 0,
      outboxDepth: await gauge(registry, 'switch_outbox_depth'),
    };
  }

  /** The newest sample at least STATS_WINDOW_MS before `nowMs`, else the oldest kept. */
  private baseline(nowMs: number): Sample {
    let base = this.samples[0] as Sample;
    for (const s of this.samples) if (nowMs - s.timeMs >= STATS_WINDOW_MS) base = s;
    return base;
  }
}

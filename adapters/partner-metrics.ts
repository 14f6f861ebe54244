// Prometheus metrics of partner calls, in base units, on a registry the caller owns. Several
// clients (one per program) share one registry: each metric is created once and labelled by
// `partner` (the program's configId).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface PartnerMetrics {
  /** Seconds from the call's start to its result, by partner, endpoint and outcome (ok, DECLINED, TIMEOUT, ...). */
  latency: Histogram<'partner' | 'endpoint' | 'outcome'>;
  /** Calls that ran out of their time. */
  timeouts: Counter<'partner' | 'endpoint'>;
  /** Calls that failed other than by timing out or a refusal: UNREACHABLE, SERVER_ERROR, MALFORMED, BREAKER_OPEN. */
  errors: Counter<'partner' | 'endpoint' | 'kind'>;
  /** 0 closed, 1 half-open, 2 open, by partner and origin. */
  breaker: Gauge<'partner' | 'origin'>;
}

export const PARTNER_LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 5];

function existing<T>(registry: Registry, name: string): T | undefined {
  return registry.getSingleMetric(name) as T | undefined;
}

/** The partner metrics of a registry, created on first use. */
export function partnerMetrics(registry: Registry): PartnerMetrics {
  return {
    latency: existing(registry, 'partner_call_seconds') ?? new Histogram({
      name: 'partner_call_seconds',
      help: 'Time of a partner call from its start to its result, by partner (configId), endpoint and outcome',
      labelNames: ['partner', 'endpoint', 'outcome'] as const,
      buckets: PARTNER_LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
    timeouts: existing(registry, 'partner_timeouts_total') ?? new Counter({
      name: 'partner_timeouts_total',
      help: 'Partner calls that ran out of their time, by partner and endpoint',
      labelNames: ['partner', 'endpoint'] as const,
      registers: [registry],
    }),
    errors: existing(registry, 'partner_errors_total') ?? new Counter({
      name: 'partner_errors_total',
      help: 'Partner calls that failed other than by a timeout or a refusal, by partner, endpoint and kind (UNREACHABLE, SERVER_ERROR, MALFORMED, BREAKER_OPEN)',
      labelNames: ['partner', 'endpoint', 'kind'] as const,
      registers: [registry],
    }),
    breaker: existing(registry, 'partner_breaker_state') ?? new Gauge({
      name: 'partner_breaker_state',
      help: 'Circuit breaker of a partner origin: 0 closed, 1 half-open, 2 open',
      labelNames: ['partner', 'origin'] as const,
      registers: [registry],
    }),
  };
}

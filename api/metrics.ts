// Metrics of the HTTP side (SPEC §7 asks for base units), registered in the switch's registry
// (app/metrics.ts) so that GET /metrics shows them with the rest.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ApiMetrics {
  observe(method: string, route: string, status: number, seconds: number): void;
  feedClients: Gauge;
  feedEvents: Counter;
  feedDrops: Counter;
}

export function createApiMetrics(registry: Registry): ApiMetrics {
  const requests = new Counter({
    name: 'http_requests_total', help: 'Management API requests answered, by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  });
  const latency = new Histogram({
    name: 'http_request_duration_seconds', help: 'Management API time from a complete request to its answer, by method and route template',
    labelNames: ['method', 'route'] as const, buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    observe(method, route, status, seconds) {
      // Unknown methods and paths share one label value each: labels stay bounded.
      const m = ['GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'].includes(method) ? method : 'OTHER';
      requests.labels(m, route, String(status)).inc();
      latency.labels(m, route).observe(seconds);
    },
    feedClients: new Gauge({ name: 'feed_clients', help: 'WebSocket clients of the live transaction feed', registers: [registry] }),
    feedEvents: new Counter({ name: 'feed_events_published_total', help: 'Transactions published to the live feed', registers: [registry] }),
    feedDrops: new Counter({ name: 'feed_clients_dropped_total', help: 'Feed clients disconnected because they did not keep up (buffer above its bound)', registers: [registry] }),
  };
}

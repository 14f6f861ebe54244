// The management API assembled: the route table, the router that validates and dispatches, the
// dashboard's static files, the feed's WebSocket route, and the HTTP server chosen by HTTP_SERVER (api/http.ts).
import type { ApiDeps } from './deps.js';
import { Router, type Route } from './router.js';
import { IdempotencyStore } from './idempotency.js';
import { openApiDocument } from './openapi.js';
import { feedRoute } from './feed.js';
import type { ApiMetrics } from './metrics.js';
import { systemRoutes } from './routes/system.js';
import { customerRoutes } from './routes/customers.js';
import { balanceRoutes } from './routes/balances.js';
import { partnerBalanceRoutes } from './routes/partner-balances.js';
import { cardRoutes } from './routes/cards.js';
import { transactionRoutes } from './routes/transactions.js';
import { programRoutes } from './routes/programs.js';
import { dashboardFiles, dashboardRoutes } from './routes/dashboard.js';
import { outboxRoutes } from './routes/outbox.js';

export type { ApiDeps, TransactionSource } from './deps.js';
export { TransactionFeed, type FeedEvent } from './feed.js';
export { DASHBOARD_PATH } from './routes/dashboard.js';

/** A request body above this is answered 413 (the largest legitimate body is well under 2 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

/** Every route, in documentation order. Handlers touch `d` only when called. */
export function apiRoutes(d: ApiDeps): Route[] {
  let doc: unknown = null;
  const routes: Route[] = [
    ...systemRoutes(d, () => (doc ??= openApiDocument(routes))),
    ...customerRoutes(d),
    ...balanceRoutes(d),
    ...partnerBalanceRoutes(d),
    ...cardRoutes(d),
    ...transactionRoutes(d),
    ...programRoutes(d),
    ...dashboardRoutes(d),
    ...outboxRoutes(d),
  ];
  return routes;
}

export function createRouter(d: ApiDeps, o: { metrics: ApiMetrics | null; log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void; maxBodyBytes?: number }): Router {
  return new Router({
    routes: apiRoutes(d), statics: dashboardFiles(), maxBodyBytes: o.maxBodyBytes ?? MAX_BODY_BYTES, websocket: feedRoute(d.feed),
    idempotency: new IdempotencyStore(d.redis), metrics: o.metrics, log: o.log,
  });
}

/** The routes without a switch behind them, for the OpenAPI document and docs/api.md. */
export function documentedRoutes(): Route[] {
  const absent = new Proxy({}, { get() { throw new Error('documentation routes have no dependencies'); } }) as ApiDeps;
  return apiRoutes(absent);
}

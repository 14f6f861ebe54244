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
import { sandboxRoutes } from './routes/sandbox.js';

export type { ApiDeps, TransactionSource } from './deps.js';
export { TransactionFeed, type FeedEvent } from './feed.js';
export { DASHBOARD_PATH } from './routes/dashboard.js';

/** A request body above this is answered 413 (the largest legitimate body is well under 2 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Every route, in documentation order. Handlers touch `d` only when called. The sandbox routes
 * exist only when asked for (SANDBOX=1): otherwise they are neither routed nor in /openapi.json.
 */
export function apiRoutes(d: ApiDeps, o: { sandbox?: boolean } = {}): Route[] {
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
    ...(o.sandbox === true ? sandboxRoutes(d) : []),
  ];
  return routes;
}

export function createRouter(d: ApiDeps, o: { metrics: ApiMetrics | null; log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void; maxBodyBytes?: number }): Router {
  return new Router({
    routes: apiRoutes(d, { sandbox: d.sandbox !== undefined && d.sandbox !== null }), statics: dashboardFiles(), maxBodyBytes: o.maxBodyBytes ?? MAX_BODY_BYTES, websocket: feedRoute(d.feed),
    idempotency: new IdempotencyStore(d.redis), metrics: o.metrics, log: o.log,
  });
}

/**
 * The routes without a switch behind them, for the OpenAPI document and docs/api.md: by default
 * those of a switch with SANDBOX off; docs/api.md documents the sandbox routes too.
 */
export function documentedRoutes(o: { sandbox?: boolean } = {}): Route[] {
  const absent = new Proxy({}, { get() { throw new Error('documentation routes have no dependencies'); } }) as ApiDeps;
  return apiRoutes(absent, o);
}

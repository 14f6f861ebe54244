// The management API assembled: the route table, the router that validates and dispatches, the
// dashboard's static files, the feed's WebSocket route, and the HTTP server chosen by HTTP_SERVER (api/http.ts).
import type { ApiDeps } from './deps.js';
import { Router, type Route } from './router.js';
import { IdempotencyStore } from './idempotency.js';
import { openApiDocument } from './openapi.js';
import { feedRoute } from './feed.js';
import type { ApiMetrics } from './metrics.js';
import { problemResponse } from './problem.js';
import { systemRoutes } from './routes/system.js';
import { customerRoutes } from './routes/customers.js';
import { balanceRoutes } from './routes/balances.js';
import { partnerBalanceRoutes } from './routes/partner-balances.js';
import { cardRoutes } from './routes/cards.js';
import { cardLookupRoutes } from './routes/card-lookup.js';
import { transactionRoutes } from './routes/transactions.js';
import { programRoutes } from './routes/programs.js';
import { dashboardFiles, dashboardRoutes } from './routes/dashboard.js';
import { outboxRoutes } from './routes/outbox.js';
import { sandboxRoutes } from './routes/sandbox.js';
import { bearerOf, type ApiKeys } from './auth.js';
import type { HttpRequest, WebSocketRoute } from './http.js';

export type { ApiDeps, TransactionSource } from './deps.js';
export { TransactionFeed, type FeedEvent } from './feed.js';
export { DASHBOARD_PATH } from './routes/dashboard.js';
export { ApiKeys } from './auth.js';

/** A request body above this is answered 413 (the largest legitimate body is well under 2 KiB). */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * Every route, in documentation order. Handlers touch `d` only when called. The sandbox routes are
 * always there (and in /openapi.json, which is the same document in every configuration); with
 * the sandbox off they answer 404.
 */
export function apiRoutes(d: ApiDeps): Route[] {
  let doc: unknown = null;
  const routes: Route[] = [
    ...systemRoutes(d, () => (doc ??= openApiDocument(routes))),
    ...customerRoutes(d),
    ...balanceRoutes(d),
    ...partnerBalanceRoutes(d),
    ...cardRoutes(d),
    ...cardLookupRoutes(d),
    ...transactionRoutes(d),
    ...programRoutes(d),
    ...dashboardRoutes(d),
    ...outboxRoutes(d),
    ...sandboxRoutes(d),
  ];
  return routes;
}

export function createRouter(d: ApiDeps, o: {
  metrics: ApiMetrics | null; log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void; maxBodyBytes?: number;
  /** API_KEYS_FILE's keys (api/auth.ts); null or absent: no key needed. */
  auth?: ApiKeys | null;
}): Router {
  const auth = o.auth ?? null;
  return new Router({
    routes: apiRoutes(d), statics: dashboardFiles(), maxBodyBytes: o.maxBodyBytes ?? MAX_BODY_BYTES, websocket: keyedFeed(feedRoute(d.feed), auth),
    idempotency: new IdempotencyStore(d.redis), auth, metrics: o.metrics, log: o.log,
  });
}

/** Subprotocol prefix that carries an API key on the feed's WebSocket (browsers cannot send Authorization there). */
export const FEED_KEY_PROTOCOL_PREFIX = 'antaca.bearer.';

/**
 * The feed with the API key rule in front of its admission: a read key, as `Authorization:
 * Bearer <key>` or, from a browser, as the WebSocket subprotocol `antaca.bearer.<key>`.
 */
function keyedFeed(feed: WebSocketRoute, keys: ApiKeys | null): WebSocketRoute {
  if (keys === null) return feed;
  return {
    path: feed.path,
    open: (socket) => feed.open(socket),
    admit(req: HttpRequest) {
      if (req.clientVerified === false) return feed.admit(req);
      const fromProtocol = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).find((p) => p.startsWith(FEED_KEY_PROTOCOL_PREFIX));
      const authorization = bearerOf(req.headers.authorization) === null && fromProtocol !== undefined
        ? `Bearer ${fromProtocol.slice(FEED_KEY_PROTOCOL_PREFIX.length)}` : req.headers.authorization;
      const r = keys.check(authorization, 'read');
      if (!r.ok) return problemResponse(r.code, r.detail, r.code === 'UNAUTHORIZED' ? { 'www-authenticate': 'Bearer realm="antaca"' } : {});
      return feed.admit(req);
    },
  };
}

/** The routes without a switch behind them, for the OpenAPI document, docs/openapi.json and docs/api.md. */
export function documentedRoutes(): Route[] {
  const absent = new Proxy({}, { get() { throw new Error('documentation routes have no dependencies'); } }) as ApiDeps;
  return apiRoutes(absent);
}

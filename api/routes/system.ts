// Operations routes: health, metrics, the OpenAPI document and the feed's plain-GET answer.
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json, problemResponse } from '../problem.js';
import { problem } from './common.js';
import type { Schema } from '../schema.js';

/** One live-feed event (api/feed.ts FeedEvent): a decided money message, PAN masked first 6 / last 4. */
export const FEED_EVENT: Schema = {
  type: 'object', additionalProperties: false,
  required: ['timeMs', 'mti', 'responseCode', 'reason', 'maskedPan', 'amountMinor', 'currency', 'txId'],
  properties: {
    timeMs: { type: 'integer', description: 'when it was decided, ms since the epoch' },
    mti: { type: 'string', pattern: '^\\d{4}$' }, responseCode: { type: 'string' }, reason: { type: 'string' },
    maskedPan: { type: ['string', 'null'], pattern: '^\\d{6}\\*+\\d{4}$' },
    amountMinor: { type: 'integer', description: 'the record\'s amount' },
    currency: { type: ['string', 'null'] }, txId: { type: ['string', 'null'] },
  },
};

/** A `transactions` frame of the feed. */
export const FEED_FRAME: Schema = {
  type: 'object', required: ['type', 'events'], properties: { type: { type: 'string', enum: ['transactions'] }, events: { type: 'array', items: FEED_EVENT } },
};

/** What /health says of each part (the 200 and 503 bodies alike). */
const HEALTH_PARTS: Record<string, Schema> = {
  redis: { type: 'string', enum: ['up', 'down', 'full'] },
  history: { type: 'string', enum: ['up', 'down', 'behind'] },
  historyBacklog: {
    type: 'object', required: ['entries', 'oldestAgeSeconds'],
    properties: { entries: { type: 'integer', minimum: 0 }, oldestAgeSeconds: { type: 'number', minimum: 0 } },
  },
  listener: { type: 'string', enum: ['up', 'down'] },
};

export function systemRoutes(d: ApiDeps, openapi: () => unknown): Route[] {
  return [
    {
      method: 'GET', path: '/health', operationId: 'getHealth', tag: 'operations',
      summary: 'Liveness and readiness: Redis answers and has room, the history database answers and keeps up, the ISO 8583 listener is up',
      description: '`redis`: `up`, `down` or `full` (out of memory: debits are declined 96 until there is room). `history`: `up`, `down` '
        + '(the history database does not answer: authorization goes on, the backlog waits in Redis) or `behind` (the oldest entry not yet '
        + 'copied is older than HISTORY_BACKLOG_MAX_AGE). `historyBacklog`: entries not yet copied and the age of the oldest, seconds.',
      responses: {
        200: { description: 'Ready', schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] }, ...HEALTH_PARTS }, required: ['status'] } },
        503: { description: 'Not ready; the body says which part is down', schema: { type: 'object', properties: { status: { type: 'string', enum: ['unavailable'] }, ...HEALTH_PARTS }, required: ['status'] } },
      },
      async handle() {
        const h = await d.health();
        return json(h.ok ? 200 : 503, h.ok ? { status: 'ok', ...h.detail } : { status: 'unavailable', ...h.detail });
      },
    },
    {
      method: 'GET', path: '/metrics', operationId: 'getMetrics', tag: 'operations',
      summary: 'Prometheus metrics (text exposition format, base units)',
      responses: { 200: { description: 'Prometheus text', contentType: 'text/plain; version=0.0.4' } },
      async handle() {
        const m = await d.metrics();
        return { status: 200, headers: { 'content-type': m.contentType }, body: m.body };
      },
    },
    {
      method: 'GET', path: '/openapi.json', operationId: 'getOpenApi', tag: 'operations',
      summary: 'This API as an OpenAPI 3.1 document',
      responses: { 200: { description: 'OpenAPI 3.1 document', schema: { type: 'object' } } },
      async handle() { return json(200, openapi()); },
    },
    {
      method: 'GET', path: '/feed', operationId: 'openFeed', tag: 'operations',
      summary: 'Live feed of processed transactions (WebSocket, PANs masked)',
      description: 'A WebSocket upgrade (101). The server sends JSON text frames: `{"type":"hello","maxBufferedBytes":n}` once, '
        + 'then `{"type":"transactions","events":[{timeMs, mti, responseCode, reason, maskedPan, amountMinor, currency, txId}]}` per batch. '
        + 'A client that falls more than maxBufferedBytes behind is disconnected. Without the upgrade headers the answer is 426.',
      responses: {
        101: { description: 'Switching to the WebSocket protocol; each `transactions` text frame is this JSON', schema: FEED_FRAME },
        403: problem('TLS configured and no verified client certificate', 'CLIENT_CERTIFICATE_REQUIRED'),
        426: problem('A plain GET: the feed is a WebSocket', 'UPGRADE_REQUIRED'),
        503: problem('Too many feed clients', 'FEED_FULL'),
      },
      async handle() {
        return problemResponse('UPGRADE_REQUIRED', 'GET /feed is a WebSocket: send Connection: Upgrade, Upgrade: websocket', { upgrade: 'websocket' });
      },
    },
  ];
}

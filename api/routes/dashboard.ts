// The operator's dashboard (docs/dashboard.md): a static page at GET /dashboard with its script,
// style sheet and the uPlot chart library served from the installed package, and the one JSON
// call it polls every second, GET /dashboard/stats.json. Live transactions come from /feed.
import { join } from 'node:path';
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json } from '../problem.js';
import { REVALIDATE, type StaticRoute } from '../static.js';
import { RegistrySampler } from '../stats.js';
import { PARTNER_BALANCE } from './partner-balances.js';
import { partnerView } from './common.js';
import type { Schema } from '../schema.js';
import { projectRoot } from '../../ledger/scripts.js';

/** The URL of the page, for the start-up log line and the README. */
export const DASHBOARD_PATH = '/dashboard';

/** The page shows at most this many partner balances (id order); the answer says when there are more. */
export const DASHBOARD_PARTNER_BALANCES_MAX = 100;

/**
 * Same-origin only: scripts, styles and connections (the /feed WebSocket and stats.json) come from
 * the switch itself, which is also what lets the page run on a machine without internet.
 */
const PAGE_POLICY = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
};

/** The dashboard's files: fixed URL paths bound to fixed files (the page's own, and uPlot's from node_modules). */
export function dashboardFiles(root: string = projectRoot()): StaticRoute[] {
  const page = (name: string) => join(root, 'api', 'dashboard', name);
  const uplot = (name: string) => join(root, 'node_modules', 'uplot', 'dist', name);
  return [
    { path: DASHBOARD_PATH, file: page('index.html'), cacheControl: REVALIDATE, headers: PAGE_POLICY },
    { path: `${DASHBOARD_PATH}/`, file: page('index.html'), cacheControl: REVALIDATE, headers: PAGE_POLICY },
    { path: `${DASHBOARD_PATH}/dashboard.js`, file: page('dashboard.js'), cacheControl: REVALIDATE },
    { path: `${DASHBOARD_PATH}/format.js`, file: page('format.js'), cacheControl: REVALIDATE },
    { path: `${DASHBOARD_PATH}/dashboard.css`, file: page('dashboard.css'), cacheControl: REVALIDATE },
    { path: `${DASHBOARD_PATH}/vendor/uPlot.esm.js`, file: uplot('uPlot.esm.js'), cacheControl: REVALIDATE },
    { path: `${DASHBOARD_PATH}/vendor/uPlot.min.css`, file: uplot('uPlot.min.css'), cacheControl: REVALIDATE },
  ];
}

const COUNT: Schema = { type: 'integer', minimum: 0 };
const SECONDS_OR_NULL: Schema = { type: ['number', 'null'], minimum: 0 };

export const DASHBOARD_STATS: Schema = {
  type: 'object',
  required: ['timeMs', 'windowSeconds', 'answersTotal', 'answersPerSecond', 'latencySecondsP50', 'latencySecondsP99', 'decisions',
    'inflight', 'connections', 'poolQueue', 'feedClients', 'outboxDepth', 'partnerBalances', 'partnerBalancesTruncated'],
  properties: {
    timeMs: { type: 'integer', description: 'when the numbers were read, ms since the epoch' },
    windowSeconds: { type: 'number', description: 'seconds covered by answersPerSecond and the latency quantiles (about 1 when polled every second)' },
    answersTotal: { ...COUNT, description: 'ISO 8583 answers since start (switch_messages_total)' },
    answersPerSecond: { type: ['number', 'null'], minimum: 0, description: 'answers per second over the window; null when the window is longer than 5 s (the first reading after nobody read for a while: no rate is made up from an average over that time)' },
    latencySecondsP50: { ...SECONDS_OR_NULL, description: 'median frame-in to answer-out time over the window, estimated from switch_message_latency_seconds buckets; null when nothing was answered, or the window is longer than 5 s' },
    latencySecondsP99: { ...SECONDS_OR_NULL, description: '99th percentile, as latencySecondsP50' },
    decisions: {
      type: 'array', description: 'money messages decided since start by reason (switch_decisions_total), most frequent first',
      items: { type: 'object', required: ['reason', 'responseCode', 'count'], properties: { reason: { type: 'string' }, responseCode: { type: 'string' }, count: COUNT } },
    },
    inflight: { ...COUNT, description: 'requests read and not yet answered' },
    connections: { ...COUNT, description: 'open ISO 8583 connections' },
    poolQueue: { ...COUNT, description: 'batches waiting for a worker thread' },
    feedClients: { ...COUNT, description: 'WebSocket clients of /feed' },
    outboxDepth: { type: ['integer', 'null'], description: 'partner calls waiting in the outbox (switch_outbox_depth); null when the switch has no outbox' },
    partnerBalances: { type: 'array', items: PARTNER_BALANCE, description: `every partner balance in id order, at most ${DASHBOARD_PARTNER_BALANCES_MAX}` },
    partnerBalancesTruncated: { type: 'boolean', description: 'true when there are more partner balances than shown' },
  },
};

export function dashboardRoutes(d: ApiDeps): Route[] {
  let sampler: RegistrySampler | null = null;
  return [
    {
      method: 'GET', path: `${DASHBOARD_PATH}/stats.json`, operationId: 'getDashboardStats', tag: 'operations',
      summary: 'The dashboard\'s polled numbers: answers/s, latency quantiles, decisions by reason, queues, partner balances',
      description: 'Read-only. Computed from the switch\'s metric registry (the same numbers GET /metrics shows) and the ledger\'s partner balances. '
        + 'The page at GET /dashboard polls it every second; requests less than 0.5 s apart share one reading.',
      responses: { 200: { description: 'The numbers', schema: DASHBOARD_STATS } },
      async handle() {
        sampler ??= new RegistrySampler(() => d.registry(), d.startedMs);
        const [stats, balances] = await Promise.all([sampler.stats(), d.ledger.listPartnerBalances(DASHBOARD_PARTNER_BALANCES_MAX + 1)]);
        return json(200, {
          ...stats,
          partnerBalances: balances.slice(0, DASHBOARD_PARTNER_BALANCES_MAX).map(partnerView),
          partnerBalancesTruncated: balances.length > DASHBOARD_PARTNER_BALANCES_MAX,
        }, { 'cache-control': 'no-store' });
      },
    },
  ];
}

// The switch's HTTP client for one program's outbound calls: its partner (External Balance or
// Shared Authorization, and the notifications) and its signed webhooks. One undici Pool per origin
// with keep-alive and a bounded number of connections, HTTPS with the program's client certificate
// (a webhook receiver: server verification only), a time limit per call, a bound on the answer's
// size, no redirects, and a circuit breaker per partner origin (not for webhooks, which only the
// outbox sends). Every call ends in a PartnerResult value:
// nothing here throws on what a partner or a receiver sends back.
//
// Which calls exist, their paths, statuses and error titles: adapters/partner-types.ts (ENDPOINTS),
// from the seed's "Your APIs for us" chapters. How answers become decline reasons:
// partnerDeclineReason below (response codes of docs/messages.md).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { Registry } from 'prom-client';
import type { Reason } from '../iso/reasons.js';
import { BREAKER_STATE_VALUE, CircuitBreaker, type BreakerOptions, type BreakerState } from './circuit-breaker.js';
import { partnerMetrics, type PartnerMetrics } from './partner-metrics.js';
import { PartnerBodyError } from './partner-transaction.js';
import { EVENT_HEADER, SIGNATURE_HEADER } from './webhook-signature.js';
import {
  ENDPOINTS, NOTIFICATION_KINDS, fillPath, PartnerPathError, type EndpointContract, type LinkBalanceBody, type NotificationBodies, type NotificationKind,
  type PartnerBalance, type PartnerBalanceItem, type PartnerEndpoint, type PartnerTitle, type PartnerTransaction,
} from './partner-types.js';

/** Default time of one call when neither the caller nor the program gives one (SPEC default), ms. */
export const PARTNER_TIMEOUT_MS_DEFAULT = 1500;
/** Connections per partner origin. */
export const PARTNER_CONNECTIONS_DEFAULT = 16;
/** Largest answer body read; a larger one is MALFORMED (the seed's answers are a few hundred bytes). */
export const PARTNER_ANSWER_BYTES_MAX_DEFAULT = 64 * 1024;
/**
 * An idle connection is closed after this long. Below node:http's 5 s server keep-alive, so the
 * client never writes on a connection the server is closing.
 */
export const PARTNER_KEEPALIVE_MS_DEFAULT = 4000;
/** A malformed answer is logged at most once per this many ms (the count of the others is kept). */
const MALFORMED_LOG_INTERVAL_MS = 1000;

/** The partner block of a program (stores/programs.ts `Program['partner']`). */
export interface PartnerSettings {
  baseUrl: string;
  timeoutMs?: number;
  /** Paths of the client certificate, its key and the CA that signed the partner's server certificate (PEM). */
  cert?: string;
  key?: string;
  ca?: string;
  /** Where notifications go; baseUrl when left out. */
  notificationsUrl?: string;
}

export type PartnerLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** A program's webhooks block (stores/programs.ts ProgramWebhooks) as the client needs it. */
export interface WebhookSettings {
  url: string;
  timeoutMs: number;
  /** PEM path of the CA of an https:// receiver; absent: the system's CAs. */
  ca?: string;
}

export interface PartnerClientOptions {
  /** The program's partner block; null for a program that only has webhooks (the partner calls then answer UNREACHABLE). */
  partner: PartnerSettings | null;
  /** The program's webhooks; absent or null: none (deliverWebhook answers UNREACHABLE). */
  webhooks?: WebhookSettings | null;
  /** Label of this partner in metrics and logs: the program's configId. */
  name: string;
  /** Registry the partner_* metrics are registered on (shared by all clients of a process). */
  registry: Registry;
  log?: PartnerLog;
  /** Connections per origin. Default PARTNER_CONNECTIONS_DEFAULT (16). */
  connections?: number;
  /** Largest answer body, bytes. Default PARTNER_ANSWER_BYTES_MAX_DEFAULT (64 KiB). */
  answerBytesMax?: number;
  /** Idle keep-alive, ms. Default PARTNER_KEEPALIVE_MS_DEFAULT (4000). */
  keepAliveMs?: number;
  /** Breaker settings (per origin): failures to open (5), probe interval ms (5000), clock. */
  breaker?: Omit<BreakerOptions, 'onState'>;
  /** TLS material as bytes instead of the files named in `partner` (tests, secrets from elsewhere). */
  tls?: { cert?: Buffer; key?: Buffer; ca?: Buffer };
}

/** Per call: `timeoutMs` is what is left of the message's budget; the program's timeoutMs when left out. */
export interface CallOptions { timeoutMs?: number }

/** Why a call produced no answer the switch can act on. */
export type PartnerFailureKind = 'TIMEOUT' | 'UNREACHABLE' | 'SERVER_ERROR' | 'MALFORMED' | 'BREAKER_OPEN';

/**
 * The result of a partner call: an answer (`ok`), a refusal with one of the seed's titles for that
 * endpoint (`DECLINED`), or a failure. `detail` is for logs and never carries card data or the
 * partner's text beyond a clipped title.
 */
export type PartnerResult<T> =
  | { ok: true; status: number; body: T }
  | { ok: false; kind: 'DECLINED'; status: number; title: PartnerTitle }
  | { ok: false; kind: PartnerFailureKind; status?: number; detail: string };

/**
 * The switch's decline reason for a partner result (response codes: docs/messages.md):
 * ok → APPROVED; FRAUDS_DETECTED → FRAUDS_DETECTED (59); LIMITS_EXCEEDED → LIMITS_EXCEEDED (61);
 * INSUFFICIENT_FUNDS → INSUFFICIENT_FUNDS (51); BALANCE_NOT_FOUND and FORBIDDEN → BALANCE_NOT_FOUND
 * (05); USER_NOT_FOUND → CUSTOMER_NOT_FOUND (05); CLIENT_ERROR, TRANSACTION_NOT_FOUND → UNKNOWN_ERROR
 * (96); a timeout, an unreachable partner, a 5xx, a malformed answer or an open breaker →
 * PARTNER_UNAVAILABLE (91), where the program's stand-in rule may apply.
 */
export function partnerDeclineReason(r: PartnerResult<unknown>): Reason {
  if (r.ok) return 'APPROVED';
  if (r.kind === 'DECLINED') return TITLE_REASON[r.title];
  return 'PARTNER_UNAVAILABLE';
}

/** One table: partner title → switch reason. */
export const TITLE_REASON: Readonly<Record<PartnerTitle, Reason>> = {
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  LIMITS_EXCEEDED: 'LIMITS_EXCEEDED',
  FRAUDS_DETECTED: 'FRAUDS_DETECTED',
  BALANCE_NOT_FOUND: 'BALANCE_NOT_FOUND',
  FORBIDDEN: 'BALANCE_NOT_FOUND',
  USER_NOT_FOUND: 'CUSTOMER_NOT_FOUND',
  CLIENT_ERROR: 'UNKNOWN_ERROR',
  TRANSACTION_NOT_FOUND: 'UNKNOWN_ERROR',
};

/** An origin's connection pool and breaker; the notifications origin shares them when it is the same. */
interface Route {
  origin: string;
  /** Path prefix of the base URL ('' or '/partner/v1'). */
  prefix: string;
  pool: Pool;
  breaker: CircuitBreaker;
}

/** The fixed outcome of reading an answer, before the breaker and metrics see it. */
type Classified = PartnerResult<unknown>;

export class PartnerClient {
  readonly name: string;
  private readonly api: Route | null;
  private readonly notifications: Route | null;
  private readonly webhook: (Route & { timeoutMs: number; path: string }) | null;
  private readonly timeoutMs: number;
  private readonly answerBytesMax: number;
  private readonly metrics: PartnerMetrics;
  private readonly log: PartnerLog;
  private readonly now: () => number;
  private malformedLoggedAtMs = -Infinity;
  private malformedSuppressed = 0;

  constructor(o: PartnerClientOptions) {
    this.name = o.name;
    this.timeoutMs = o.partner?.timeoutMs ?? PARTNER_TIMEOUT_MS_DEFAULT;
    this.answerBytesMax = o.answerBytesMax ?? PARTNER_ANSWER_BYTES_MAX_DEFAULT;
    this.metrics = partnerMetrics(o.registry);
    this.log = o.log ?? (() => {});
    this.now = o.breaker?.now ?? Date.now;
    const tls = {
      cert: o.tls?.cert ?? (o.partner?.cert ? readFileSync(o.partner.cert) : undefined),
      key: o.tls?.key ?? (o.partner?.key ? readFileSync(o.partner.key) : undefined),
      ca: o.tls?.ca ?? (o.partner?.ca ? readFileSync(o.partner.ca) : undefined),
    };
    const make = (url: string, connectTls: typeof tls = tls, timeoutMs = this.timeoutMs): Route => {
      const u = new URL(url);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new PartnerBodyError(`partner URL must be http:// or https://, not ${u.protocol}`);
      const pool = new Pool(u.origin, {
        connections: o.connections ?? PARTNER_CONNECTIONS_DEFAULT,
        pipelining: 1,
        keepAliveTimeout: o.keepAliveMs ?? PARTNER_KEEPALIVE_MS_DEFAULT,
        keepAliveMaxTimeout: o.keepAliveMs ?? PARTNER_KEEPALIVE_MS_DEFAULT,
        // The per-call abort below is the real limit; these only stop a socket outliving every caller.
        headersTimeout: Math.max(timeoutMs, 1) * 4,
        bodyTimeout: Math.max(timeoutMs, 1) * 4,
        connect: u.protocol === 'https:'
          ? { ...connectTls, rejectUnauthorized: true, timeout: timeoutMs }
          : { timeout: timeoutMs },
      });
      const origin = u.origin;
      const gauge = this.metrics.breaker.labels({ partner: this.name, origin });
      gauge.set(0);
      const breaker = new CircuitBreaker({ ...o.breaker, onState: (s: BreakerState) => gauge.set(BREAKER_STATE_VALUE[s]) });
      return { origin, prefix: u.pathname.replace(/\/+$/, ''), pool, breaker };
    };
    const api = o.partner === null ? null : make(o.partner.baseUrl);
    this.api = api;
    const n = o.partner?.notificationsUrl;
    this.notifications = api === null ? null : n === undefined || new URL(n).origin === api.origin
      ? { ...api, prefix: n === undefined ? api.prefix : new URL(n).pathname.replace(/\/+$/, '') }
      : make(n);
    const w = o.webhooks ?? null;
    // A webhook receiver is not the partner: no client certificate is offered to it, and its
    // origin has a pool and breaker of its own.
    this.webhook = w === null ? null : {
      ...make(w.url, { cert: undefined, key: undefined, ca: o.tls?.ca ?? (w.ca ? readFileSync(w.ca) : undefined) }, w.timeoutMs),
      timeoutMs: w.timeoutMs, path: new URL(w.url).pathname + new URL(w.url).search,
    };
  }

  /** State of the breaker of the partner's base URL (of the notifications URL, of the webhook URL); closed for one this program does not have. */
  breakerState(which: 'api' | 'notifications' | 'webhook' = 'api'): BreakerState {
    const route = which === 'api' ? this.api : which === 'notifications' ? this.notifications : this.webhook;
    return route?.breaker.state ?? 'closed';
  }

  /** `POST /users/:id/balances` — link a new balance to the partner's user. 204; refusal USER_NOT_FOUND. */
  linkBalance(userId: string, body: LinkBalanceBody, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    return this.call('linkBalance', { id: userId }, body, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /** `GET /users/:id/balances/:balanceId` — 200 `{currency, amount}`; refusals BALANCE_NOT_FOUND (404), FORBIDDEN (403). */
  getBalance(userId: string, balanceId: string, o?: CallOptions & { idempotencyKey?: string }): Promise<PartnerResult<PartnerBalance>> {
    return this.call('getBalance', { id: userId, balanceId }, undefined, o?.idempotencyKey, o) as Promise<PartnerResult<PartnerBalance>>;
  }

  /** `GET /users/:id/balances` — 200 `[{id, currency, amount}]` (empty when the user has none). */
  listBalances(userId: string, o?: CallOptions & { idempotencyKey?: string }): Promise<PartnerResult<PartnerBalanceItem[]>> {
    return this.call('listBalances', { id: userId }, undefined, o?.idempotencyKey, o) as Promise<PartnerResult<PartnerBalanceItem[]>>;
  }

  /** `DELETE /users/:id/balances/:balanceId` — 204; refusals BALANCE_NOT_FOUND, FORBIDDEN, CLIENT_ERROR (money left on it). */
  deleteBalance(userId: string, balanceId: string, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    return this.call('deleteBalance', { id: userId, balanceId }, undefined, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /** `POST /transactions/debit` — the partner's decision. 204; refusals INSUFFICIENT_FUNDS, LIMITS_EXCEEDED, FRAUDS_DETECTED (422), BALANCE_NOT_FOUND (404), CLIENT_ERROR (409). */
  debit(tx: PartnerTransaction, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    return this.call('debit', {}, tx, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /** `POST /transactions/force-debit` — cannot be refused: 204. */
  forceDebit(tx: PartnerTransaction, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    return this.call('forceDebit', {}, tx, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /** `POST /transactions/credit` — 204; refusals BALANCE_NOT_FOUND (404), FRAUDS_DETECTED (422). */
  credit(tx: PartnerTransaction, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    return this.call('credit', {}, tx, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /** `POST /transactions/force-credit` — cannot be refused: 204. */
  forceCredit(tx: PartnerTransaction, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    return this.call('forceCredit', {}, tx, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /** `POST /transactions/reversal` — any 2xx, also when the partner does not know the transaction. */
  reversal(tx: PartnerTransaction, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    return this.call('reversal', {}, tx, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /**
   * `PUT /transactions/:transactionId` with the transaction object in status CLEARED (no money
   * moves). 204; refusal TRANSACTION_NOT_FOUND (404). Throws PartnerBodyError when `tx.status` is
   * not CLEARED (a programmer error).
   */
  clearTransaction(tx: PartnerTransaction, idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    if (tx.status !== 'CLEARED') throw new PartnerBodyError('clearTransaction sends a transaction object in status CLEARED');
    return this.call('clearTransaction', { transactionId: tx.transactionId }, tx, idempotencyKey, o) as Promise<PartnerResult<null>>;
  }

  /** `POST /notifications/<kind>` to the notifications URL — 200 or 204. */
  notify<K extends NotificationKind>(kind: K, body: NotificationBodies[K], idempotencyKey: string, o?: CallOptions): Promise<PartnerResult<null>> {
    if (!NOTIFICATION_KINDS.includes(kind)) throw new PartnerBodyError(`unknown notification kind ${String(kind)}`);
    return this.call('notify', { kind }, body, idempotencyKey, o, `notify.${kind}`) as Promise<PartnerResult<null>>;
  }

  /**
   * One webhook delivery: POST of `rawBody` (the notification's JSON, exactly as signed) to the
   * program's webhook URL with `Antaca-Signature: signature`, `Antaca-Event: event` and
   * `X-Idempotency-Key` (the same on every attempt of one delivery). Any 2xx is ok; anything else
   * (a 4xx too: a receiver that refuses a signature may be fixed and the delivery retried) is a
   * failure kind the outbox retries: SERVER_ERROR for 5xx, MALFORMED for 3xx and 4xx.
   */
  async deliverWebhook(event: string, rawBody: string, idempotencyKey: string, signature: string): Promise<PartnerResult<null>> {
    const route = this.webhook;
    if (route === null) return { ok: false, kind: 'UNREACHABLE', detail: `program ${this.name} has no webhooks` };
    // No breaker here: a delivery is never on a decision's path, the outbox's backoff already
    // spaces the attempts, and an open breaker would spend a retried delivery's few attempts
    // before the receiver is tried again.
    const started = performance.now();
    const result = await this.postWebhook(route, event, rawBody, idempotencyKey, signature);
    this.observe(`webhook.${event}`, result, (performance.now() - started) / 1000);
    return result as PartnerResult<null>;
  }

  private async postWebhook(route: Route & { timeoutMs: number; path: string }, event: string, rawBody: string, idempotencyKey: string, signature: string): Promise<Classified> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), route.timeoutMs);
    try {
      const res = await route.pool.request({
        origin: route.origin, path: route.path, method: 'POST', signal: ac.signal, body: rawBody,
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-idempotency-key': idempotencyKey, [SIGNATURE_HEADER]: signature, [EVENT_HEADER]: event },
      });
      // The receiver's answer is read (bounded) and dropped: only its status counts.
      const answer = await readBounded(res.body, res.headers['content-length'], this.answerBytesMax);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { ok: true, status, body: null };
      if (answer === null) return { ok: false, kind: 'MALFORMED', status, detail: `answer body over ${this.answerBytesMax} bytes` };
      if (status >= 500) return { ok: false, kind: 'SERVER_ERROR', status, detail: `status ${status}` };
      return { ok: false, kind: 'MALFORMED', status, detail: `the receiver answered ${status}` };
    } catch (e) {
      if (ac.signal.aborted) return { ok: false, kind: 'TIMEOUT', detail: `no answer within ${route.timeoutMs} ms` };
      return { ok: false, kind: 'UNREACHABLE', detail: errorCode(e) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection pools; calls made afterwards are UNREACHABLE. */
  async close(): Promise<void> {
    const pools = new Set([this.api?.pool, this.notifications?.pool, this.webhook?.pool].filter((p): p is Pool => p !== undefined));
    await Promise.all([...pools].map((p) => p.close().catch(() => {})));
  }

  private async call(
    endpoint: PartnerEndpoint, params: Record<string, string>, body: unknown, idempotencyKey: string | undefined,
    o: CallOptions | undefined, label: string = endpoint,
  ): Promise<Classified> {
    const contract = ENDPOINTS[endpoint];
    const route = endpoint === 'notify' ? this.notifications : this.api;
    if (route === null) return { ok: false, kind: 'UNREACHABLE', detail: `program ${this.name} has no partner block` };
    const started = performance.now();
    const timeoutMs = o?.timeoutMs ?? this.timeoutMs;
    let result: Classified;
    const permit = timeoutMs > 0 ? route.breaker.acquire() : null;
    if (timeoutMs <= 0) {
      result = { ok: false, kind: 'TIMEOUT', detail: 'no time left for the call' };
    } else if (permit === null) {
      result = { ok: false, kind: 'BREAKER_OPEN', detail: `breaker of ${route.origin} is ${route.breaker.state}` };
    } else {
      result = await this.exchange(route, contract, fillPathOf(contract.path, params), body, idempotencyKey, timeoutMs);
      route.breaker.record(permit, !result.ok && result.kind !== 'DECLINED');
    }
    this.observe(label, result, (performance.now() - started) / 1000);
    return result;
  }

  /** One HTTP exchange under a time limit, classified against the endpoint's contract. */
  private async exchange(
    route: Route, c: EndpointContract, path: string, body: unknown, idempotencyKey: string | undefined, timeoutMs: number,
  ): Promise<Classified> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey !== undefined) headers['x-idempotency-key'] = idempotencyKey;
    try {
      const res = await route.pool.request({
        origin: route.origin, path: route.prefix + path, method: c.method, headers,
        body: body === undefined ? null : JSON.stringify(body), signal: ac.signal,
      });
      const answer = await readBounded(res.body, res.headers['content-length'], this.answerBytesMax);
      if (answer === null) return this.malformed(c, res.statusCode, `answer body over ${this.answerBytesMax} bytes`);
      return this.classify(c, res.statusCode, answer);
    } catch (e) {
      if (ac.signal.aborted) return { ok: false, kind: 'TIMEOUT', detail: `no answer within ${timeoutMs} ms` };
      return { ok: false, kind: 'UNREACHABLE', detail: errorCode(e) };
    } finally {
      clearTimeout(timer);
    }
  }

  private classify(c: EndpointContract, status: number, answer: Buffer): Classified {
    if (c.ok.includes(status)) {
      if (c.success === 'none') return { ok: true, status, body: null };
      const parsed = parseJson(answer);
      const good = c.success === 'balance' ? isBalance(parsed) : Array.isArray(parsed) && parsed.every((b) => isBalance(b) && typeof (b as { id?: unknown }).id === 'string');
      return good ? { ok: true, status, body: parsed } : this.malformed(c, status, `answer is not ${c.success === 'balance' ? 'a balance' : 'a list of balances'}`);
    }
    if (status >= 500) return { ok: false, kind: 'SERVER_ERROR', status, detail: `status ${status}` };
    if (status >= 300 && status < 400) return this.malformed(c, status, 'redirect (not followed)');
    if (status >= 400) {
      const parsed = parseJson(answer);
      const title = typeof parsed === 'object' && parsed !== null ? (parsed as { title?: unknown }).title : undefined;
      if (typeof title === 'string' && (c.refusals as readonly string[]).includes(`${status}:${title}`)) {
        return { ok: false, kind: 'DECLINED', status, title: title as PartnerTitle };
      }
      return this.malformed(c, status, parsed === undefined ? 'error answer is not JSON' : `status ${status} with title ${safeTitle(title)} is not an answer of this call`);
    }
    return this.malformed(c, status, `unexpected status ${status}`);
  }

  private malformed(c: EndpointContract, status: number, detail: string): Classified {
    const now = this.now();
    if (now - this.malformedLoggedAtMs >= MALFORMED_LOG_INTERVAL_MS) {
      this.log('warn', 'partner answer malformed', {
        partner: this.name, call: `${c.method} ${c.path}`, status, detail, alsoSinceLastLog: this.malformedSuppressed,
      });
      this.malformedLoggedAtMs = now;
      this.malformedSuppressed = 0;
    } else {
      this.malformedSuppressed++;
    }
    return { ok: false, kind: 'MALFORMED', status, detail };
  }

  private observe(endpoint: string, r: Classified, seconds: number): void {
    const outcome = r.ok ? 'ok' : r.kind;
    this.metrics.latency.observe({ partner: this.name, endpoint, outcome }, seconds);
    if (r.ok || r.kind === 'DECLINED') return;
    if (r.kind === 'TIMEOUT') this.metrics.timeouts.inc({ partner: this.name, endpoint });
    else this.metrics.errors.inc({ partner: this.name, endpoint, kind: r.kind });
  }
}

/** Fills `:name` segments with URI-encoded values (a missing one is a body error of the call). */
function fillPathOf(template: string, params: Record<string, string>): string {
  try {
    return fillPath(template, params);
  } catch (err) {
    if (err instanceof PartnerPathError) throw new PartnerBodyError(err.message);
    throw err;
  }
}

/**
 * The body, or null when it is (or declares itself) larger than `max` bytes: then the stream is
 * destroyed, which closes that connection rather than reading the rest.
 */
async function readBounded(stream: AsyncIterable<Buffer> & { destroy(): void }, declared: string | string[] | undefined, max: number): Promise<Buffer | null> {
  if (typeof declared === 'string' && Number(declared) > max) { stream.destroy(); return null; }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > max) { stream.destroy(); return null; }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function parseJson(b: Buffer): unknown {
  if (b.length === 0) return undefined;
  try { return JSON.parse(b.toString('utf8')); } catch { return undefined; }
}

function isBalance(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as { currency?: unknown; amount?: unknown };
  return typeof b.currency === 'string' && /^[A-Z]{3}$/.test(b.currency) && typeof b.amount === 'number' && Number.isSafeInteger(b.amount);
}

/** A partner's title clipped to what a title may hold, for a log line. */
function safeTitle(t: unknown): string {
  if (typeof t !== 'string') return '(none)';
  return t.replace(/[^A-Z_]/g, '?').slice(0, 40);
}

/** A network error's code (ECONNREFUSED, UND_ERR_SOCKET, ...), never its message (which may quote a URL). */
function errorCode(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' ? code : 'network error';
}

export { PartnerBodyError } from './partner-transaction.js';
export type { BreakerState } from './circuit-breaker.js';

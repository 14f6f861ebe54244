// Routing for both HTTP servers: a table of routes, each described well enough to produce the
// OpenAPI document (api/openapi.ts) and to validate a request before its handler runs, and a table
// of static files (api/static.ts: fixed paths bound to fixed files, GET only). The order
// of checks for a request: route (404), method (405), client certificate (403), API key (401
// UNAUTHORIZED, 403 FORBIDDEN; api/auth.ts), a route that is off here (404), path parameters
// (400 VALIDATION_ERROR), idempotency key
// (400), body media type (415), JSON syntax (400 MALFORMED_JSON), body schema (400
// VALIDATION_ERROR), handler. Body size (413) is enforced by the servers while reading.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { HttpApp, HttpRequest, HttpResponse, WebSocketRoute } from './http.js';
import { compile, type Schema, type Validator } from './schema.js';
import { problemOf, problemResponse } from './problem.js';
import { AppError, type ErrorCode } from '../errors/index.js';
import type { IdempotencyStore } from './idempotency.js';
import type { ApiMetrics } from './metrics.js';
import { StaticFiles, type StaticRoute } from './static.js';
import { scopeOf, type ApiKeys } from './auth.js';

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RouteResponse {
  description: string;
  /** JSON body (application/json); absent: no body, or the one given by contentType. */
  schema?: Schema;
  contentType?: string;
  /** Problem titles this status answers with (documented in OpenAPI and docs/api.md). */
  problems?: readonly ErrorCode[];
}

export interface RouteParam { description: string; schema: Schema; required?: boolean }

export interface Route {
  method: RouteMethod;
  /** OpenAPI path template: `/secure/customers/{customerId}/balances`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  params?: Record<string, RouteParam>;
  query?: Record<string, RouteParam>;
  /** Request headers the route reads (documented; checked by the handler). */
  headers?: Record<string, RouteParam>;
  body?: Schema;
  /** Honours X-Idempotency-Key: a replay answers the first answer, byte for byte. */
  idempotent?: boolean;
  responses: Record<number, RouteResponse>;
  /**
   * Why the route answers 404 NOT_FOUND in this switch's configuration (the sandbox when it is
   * off), or null when it runs. Absent: it always runs. The route stays in the OpenAPI document,
   * which is the same for every configuration.
   */
  disabled?(): string | null;
  handle(req: ApiRequest): Promise<HttpResponse>;
}

export interface ApiRequest extends HttpRequest {
  /** The parsed, validated JSON body (undefined for routes without one). */
  json: unknown;
  /** The route's query parameters that were sent, validated; integers as numbers. */
  queryValues: Record<string, string | number>;
  /** X-Idempotency-Key, when the route honours it and the caller sent one. */
  idempotencyKey: string | null;
}

export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;
export const IDEMPOTENCY_HEADER: RouteParam = {
  description: 'Replaying a request with the same key answers the first answer and moves no money twice (8 days); 1-128 characters of [A-Za-z0-9._:-]',
  schema: { type: 'string', pattern: IDEMPOTENCY_KEY.source },
};

/**
 * Paths that need a verified client certificate when TLS is configured (seed: /secure is
 * x509-protected). The dashboard shows partner balances, and the sandbox moves money, so both are held to the same rule.
 */
export function needsClientCertificate(path: string): boolean {
  return path.startsWith('/secure/') || path.startsWith('/lifecycle/') || path.startsWith('/sandbox/') || path === '/feed' || path === '/dashboard' || path.startsWith('/dashboard/');
}

interface Compiled {
  route: Route;
  segments: readonly (string | { param: string })[];
  /** '1' per static segment, '0' per parameter: the more specific route wins (cards/virtual over cards/{cardId}). */
  rank: string;
  body: Validator | null;
  params: ReadonlyArray<readonly [string, Validator]>;
  query: ReadonlyArray<readonly [string, Validator, RouteParam]>;
}

export interface RouterOptions {
  routes: readonly Route[];
  /** Static files, matched by exact path before the routes. */
  statics?: readonly StaticRoute[];
  maxBodyBytes: number;
  websocket: WebSocketRoute | null;
  idempotency: IdempotencyStore;
  /** API_KEYS_FILE's keys: every route but the open ones (api/auth.ts scopeOf) needs one. null: no key needed. */
  auth?: ApiKeys | null;
  metrics: ApiMetrics | null;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

export class Router implements HttpApp {
  private readonly compiled: Compiled[];
  private readonly statics: StaticFiles;
  readonly maxBodyBytes: number;
  readonly websocket: WebSocketRoute | null;

  constructor(private readonly o: RouterOptions) {
    this.maxBodyBytes = o.maxBodyBytes;
    this.websocket = o.websocket;
    this.compiled = o.routes.map((route) => {
      const segments = route.path.split('/').slice(1).map((s) => (s.startsWith('{') ? { param: s.slice(1, -1) } : s));
      return { route, segments, rank: segments.map((s) => (typeof s === 'string' ? '1' : '0')).join(''), body: route.body ? compile(route.body) : null,
        params: Object.entries(route.params ?? {}).map(([k, p]) => [k, compile(p.schema, k)] as const),
        query: Object.entries(route.query ?? {}).map(([k, p]) => [k, compile(p.schema, k), p] as const) };
    });
    const seen = new Set<string>();
    for (const c of this.compiled) {
      const k = c.route.method + ' ' + c.segments.map((s) => (typeof s === 'string' ? s : '{}')).join('/');
      if (seen.has(k)) throw new Error(`route ${c.route.method} ${c.route.path} is defined twice`);
      seen.add(k);
    }
    this.statics = new StaticFiles(o.statics ?? []);
    for (const path of this.statics.paths) {
      const parts = path.split('/').slice(1);
      const shadowed = this.compiled.find((c) => bind(c, parts) !== null);
      if (shadowed !== undefined) throw new Error(`static route ${path} collides with ${shadowed.route.method} ${shadowed.route.path}`);
    }
  }

  get routes(): readonly Route[] { return this.o.routes; }

  async handle(req: HttpRequest): Promise<HttpResponse> {
    const started = performance.now();
    let template = 'unmatched';
    let out: HttpResponse;
    try {
      const file = this.statics.find(req.path);
      if (file !== undefined) {
        template = file.path;
        out = await this.serveStatic(file, req);
      } else {
        const m = this.match(req);
        if (m.route !== null) template = m.route.path;
        out = m.route === null ? m.answer : await this.run(m.route, req);
      }
    } catch (err) {
      out = this.failure(err, req);
    }
    this.o.metrics?.observe(req.method, template, out.status, (performance.now() - started) / 1000);
    return out;
  }

  private match(req: HttpRequest): { route: Route; answer: null } | { route: null; answer: HttpResponse } {
    let parts: string[];
    try {
      parts = req.path.split('/').slice(1).map(decodeURIComponent);
    } catch {
      return { route: null, answer: problemResponse('VALIDATION_ERROR', 'the path is not valid percent-encoding') };
    }
    let best: Compiled[] = [];
    let bestParams: Array<Record<string, string>> = [];
    for (const c of this.compiled) {
      const params = bind(c, parts);
      if (params === null) continue;
      if (best.length === 0 || c.rank > (best[0] as Compiled).rank) { best = [c]; bestParams = [params]; }
      else if (c.rank === (best[0] as Compiled).rank) { best.push(c); bestParams.push(params); }
    }
    if (best.length === 0) return { route: null, answer: problemResponse('NOT_FOUND', `no route for ${req.path}`) };
    const i = best.findIndex((c) => c.route.method === req.method);
    if (i < 0) {
      const allow = [...new Set(best.map((c) => c.route.method))].join(', ');
      return { route: null, answer: problemResponse('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; allowed: ${allow}`, { allow }) };
    }
    req.params = bestParams[i] as Record<string, string>;
    return { route: (best[i] as Compiled).route, answer: null };
  }

  /** A static file: GET only (405 otherwise), the client certificate rule of its path, then the file. */
  private serveStatic(file: StaticRoute, req: HttpRequest): Promise<HttpResponse> {
    if (req.method !== 'GET') {
      return Promise.resolve(problemResponse('METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${req.path}; allowed: GET`, { allow: 'GET' }));
    }
    if (req.clientVerified === false && needsClientCertificate(req.path)) {
      throw new AppError('CLIENT_CERTIFICATE_REQUIRED', `${req.path} needs a client certificate issued by the configured CA`);
    }
    return this.statics.serve(file, req.headers['if-none-match']);
  }

  private async run(route: Route, req: HttpRequest): Promise<HttpResponse> {
    if (req.clientVerified === false && needsClientCertificate(req.path)) {
      throw new AppError('CLIENT_CERTIFICATE_REQUIRED', `${req.path} needs a client certificate issued by the configured CA`);
    }
    const refused = this.authorize(req, false);
    if (refused !== null) return refused;
    const off = route.disabled?.() ?? null;
    if (off !== null) throw new AppError('NOT_FOUND', off);
    const c = this.compiled.find((x) => x.route === route) as Compiled;
    for (const [name, check] of c.params) {
      const problem = check(req.params[name]);
      if (problem !== null) throw new AppError(problem.code, problem.detail);
    }
    let key: string | null = null;
    const header = req.headers['x-idempotency-key'];
    if (route.idempotent && header !== undefined) {
      if (!IDEMPOTENCY_KEY.test(header)) throw new AppError('VALIDATION_ERROR', 'X-Idempotency-Key must be 1-128 characters of [A-Za-z0-9._:-]');
      key = header;
    }
    const queryValues = parseQuery(req, c.query);
    const json = c.body === null ? undefined : parseBody(req, c.body);
    const api: ApiRequest = Object.assign(req, { json, idempotencyKey: key, queryValues });
    if (key === null) return route.handle(api);
    const fingerprint = createHash('sha256').update(req.method).update('\n').update(req.path).update('\n').update(req.body).digest('base64url');
    return this.o.idempotency.run(`${route.operationId}:${key}`, fingerprint, () => route.handle(api).catch((e: unknown) => this.failure(e, req)));
  }

  /**
   * The API key rule of a request (api/auth.ts): null when it may go on, else the 401 or 403
   * answer. Also used by the feed's WebSocket admission (api/index.ts).
   */
  authorize(req: HttpRequest, isStatic: boolean): HttpResponse | null {
    const keys = this.o.auth ?? null;
    if (keys === null) return null;
    const need = scopeOf(req.method, req.path, isStatic);
    if (need === null) return null;
    const r = keys.check(req.headers.authorization, need);
    if (r.ok) return null;
    return problemResponse(r.code, r.detail, r.code === 'UNAUTHORIZED' ? { 'www-authenticate': 'Bearer realm="antaca"' } : {});
  }

  private failure(err: unknown, req: HttpRequest): HttpResponse {
    const known = problemOf(err);
    if (known !== null) return known;
    this.o.log('error', 'management API request failed', { method: req.method, path: req.path, error: String((err as Error).message ?? err).slice(0, 200) });
    return problemResponse('INTERNAL_ERROR', 'the request could not be completed; it is safe to retry with the same X-Idempotency-Key');
  }
}

function bind(c: Compiled, parts: readonly string[]): Record<string, string> | null {
  if (parts.length !== c.segments.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const s = c.segments[i] as string | { param: string };
    const p = parts[i] as string;
    if (typeof s === 'string') { if (s !== p) return null; }
    else { if (p === '') return null; params[s.param] = p; }
  }
  return params;
}

function parseQuery(req: HttpRequest, params: Compiled['query']): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [name, check, p] of params) {
    const raw = req.query.get(name);
    if (raw === null || raw === '') {
      if (p.required) throw new AppError('VALIDATION_ERROR', `query parameter ${name} is required`);
      continue;
    }
    const value = p.schema.type === 'integer' && /^-?\d{1,15}$/.test(raw) ? Number(raw) : raw;
    const problem = check(value);
    if (problem !== null) throw new AppError(problem.code, problem.detail);
    out[name] = value;
  }
  return out;
}

function parseBody(req: HttpRequest, validate: Validator): unknown {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', `the body must be application/json, not ${type.slice(0, 60)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(req.body.toString('utf8'));
  } catch {
    // The parser's message quotes the input, which may hold card data: it is not passed on.
    const detail = req.body.length === 0 ? 'a JSON body is required' : 'the body is not valid JSON';
    throw new AppError('MALFORMED_JSON', detail);
  }
  const problem = validate(value);
  if (problem !== null) throw new AppError(problem.code, problem.detail);
  return value;
}

// The partner simulator's state and behaviour, independent of the HTTP server that carries it:
// the seed's External Balance API (link, get, list, delete balance; debit, force-debit, credit,
// force-credit, reversal; PUT CLEARED), its Shared Authorization API (the same /transactions
// calls as decisions only) and the notification endpoints, with the seed's paths, bodies, status
// codes and error titles. It keeps balances per balanceId, honours X-Idempotency-Key, records
// every call, and applies the knobs of ./config.ts (latency, 5xx, hangs, refusals, broken answers)
// with a seeded generator so a run can be repeated.
//
// Webhook deliveries (POST /webhooks): the signature is checked with the configured webhook
// secrets (adapters/webhook-signature.ts, 5 minutes' tolerance) before anything else, and a
// delivery that fails it is answered 400 SIGNATURE_INVALID; no client certificate is asked of it.
//
// Control paths under /_sim/ (never knob-affected): GET /_sim/calls, DELETE /_sim/calls,
// GET|PUT /_sim/config, GET /_sim/reconciliation, PUT /_sim/balances/:balanceId, POST /_sim/snapshot.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { HttpRequest, HttpResponse } from '../../api/http.js';
import { mergeConfig, SimConfigError, CREDIT_TITLES, type RefusalTitle, type SimConfig } from './config.js';
import { SeededRandom } from './rng.js';
import { SIGNATURE_HEADER, verifySignature } from '../../adapters/webhook-signature.js';

/** Calls kept for inspection; the oldest are dropped past it (the count of dropped ones is kept). */
export const SIM_CALLS_MAX = 10_000;
/** Idempotency keys remembered; the oldest are forgotten past it. */
export const SIM_IDEMPOTENCY_KEYS_MAX = 100_000;
/** Largest request body accepted, bytes (the server answers 413 above it). */
export const SIM_BODY_BYTES_MAX = 64 * 1024;
/** Body size of an OVERSIZED answer: well above the client's 64 KiB bound. */
export const SIM_OVERSIZED_BYTES = 256 * 1024;

const TX_ENDPOINTS = ['debit', 'force-debit', 'credit', 'force-credit', 'reversal'] as const;
type TxEndpoint = (typeof TX_ENDPOINTS)[number];
/** The seed's notification paths (the five the switch sends, and OTP and KYC ones of the same chapter). */
export const SIM_NOTIFICATION_KINDS = [
  'transaction', 'cardLocked', 'cardUnlocked', 'transactionalLockReasonAdded', 'transactionalLockReasonRemoved',
  'otp', 'verificationInProgress', 'verificationAccepted', 'verificationRejected',
  // Not in the seed: the switch's low-balance notification of a partner balance (docs/partners.md).
  'lowBalance',
] as const;

/** A balance the partner holds (External Balance). `amount` in minor units; may go negative only by force-debit. */
export interface SimBalance { balanceId: string; userId: string; currency: string; amount: number }

/** One transaction call the simulator acted on (replays and refusals are not here; see calls). */
export interface SimTransaction {
  /** The transaction object's `id`. */
  id: string;
  endpoint: TxEndpoint;
  transactionId: string;
  referenceTransactionId: string | null;
  balanceId: string;
  type: string;
  amount: number;
  currency: string;
  /** AUTHORIZED, CLEARED (after PUT) or REVERSED (after a reversal of it). For a reversal: the status sent. */
  status: string;
  /** Signed change to the balance it made, minor units (0 in SHARED_AUTHORIZATION mode or when nothing applied). */
  effect: number;
  /**
   * Why nothing was applied, when so: BALANCE_NOT_FOUND for a force call, NOT_FOUND for a reversal,
   * SAME_TRANSACTION for a debit / force-debit pair of one transactionId (the second moves nothing).
   */
  note: string | null;
}

/** Every request received, in order. `status` is null while unanswered (and for ever for a hung one). */
export interface SimCall {
  seq: number;
  at: string;
  method: string;
  path: string;
  idempotencyKey: string | null;
  /** Parsed JSON body, or the raw text when it is not JSON, or null when empty. */
  body: unknown;
  /** The body holds 13-19 consecutive digits (something that may be a PAN). */
  panLike: boolean;
  status: number | null;
  outcome: 'answered' | 'replayed' | 'idempotency-conflict' | 'error-injected' | 'hung' | 'misbehaved' | 'forbidden' | 'control' | 'signature-invalid';
  /** A webhook delivery's signature: valid, invalid (with why), or unchecked (no secret configured); null for other calls. */
  signature: 'valid' | `invalid: ${string}` | 'unchecked' | null;
}

/** What a test compares with the switch's records. */
export interface SimReconciliation {
  mode: SimConfig['mode'];
  seed: number;
  balances: SimBalance[];
  transactions: SimTransaction[];
  calls: SimCall[];
  callsDropped: number;
}

interface CachedAnswer { fingerprint: string; response: HttpResponse }

const PAN_LIKE = /\d{13,19}/;
const CURRENCY = /^[A-Z]{3}$/;

export class PartnerSimulator {
  private cfg: SimConfig;
  private rng: SeededRandom;
  private readonly balances = new Map<string, SimBalance>();
  private readonly txs: SimTransaction[] = [];
  /** The same transactions by transactionId (a reversal also under the id it names): every lookup is per transaction, never a scan of all. */
  private readonly byTxId = new Map<string, SimTransaction[]>();

  private addTx(c: SimTransaction): void {
    this.txs.push(c);
    const ids = c.referenceTransactionId !== null && c.referenceTransactionId !== c.transactionId ? [c.transactionId, c.referenceTransactionId] : [c.transactionId];
    for (const id of ids) {
      const list = this.byTxId.get(id);
      if (list === undefined) this.byTxId.set(id, [c]); else list.push(c);
    }
  }

  private txsOf(transactionId: string): readonly SimTransaction[] {
    return this.byTxId.get(transactionId) ?? [];
  }
  private readonly idempotency = new Map<string, CachedAnswer>();
  private readonly callLog: SimCall[] = [];
  private dropped = 0;
  private seq = 0;
  private readonly hung = new Set<(r: HttpResponse) => void>();

  /**
   * `config`: the full knob set (defaults in ./config.ts). `snapshotFile`: balances and
   * transactions are loaded from it when it exists and written to it by `saveSnapshot`.
   */
  constructor(config: SimConfig, private readonly snapshotFile: string | null = null) {
    this.cfg = config;
    this.rng = new SeededRandom(config.seed);
    if (snapshotFile !== null && existsSync(snapshotFile)) this.loadSnapshot(snapshotFile);
  }

  get config(): SimConfig { return structuredClone(this.cfg); }

  /** Applies knobs (checked as a whole; throws SimConfigError). A new `seed` restarts the sequence. */
  configure(patch: unknown): SimConfig {
    const next = mergeConfig(this.cfg, patch);
    const reseed = (patch as Record<string, unknown>).seed !== undefined;
    this.cfg = next;
    if (reseed) this.rng = new SeededRandom(next.seed);
    return this.config;
  }

  /** Calls received so far (copies), optionally only those whose path starts with `pathPrefix`. */
  calls(pathPrefix = ''): SimCall[] {
    return this.callLog.filter((c) => c.path.startsWith(pathPrefix)).map((c) => structuredClone(c));
  }

  clearCalls(): void { this.callLog.length = 0; this.dropped = 0; }

  balance(balanceId: string): SimBalance | undefined {
    const b = this.balances.get(balanceId);
    return b === undefined ? undefined : { ...b };
  }

  /** Sets (creates) a balance, e.g. to fund it: the partner's own business, outside the seed's API. */
  setBalance(b: SimBalance): void {
    if (!CURRENCY.test(b.currency) || !Number.isSafeInteger(b.amount)) throw new SimConfigError('a balance needs an ISO 4217 currency and an integer amount');
    this.balances.set(b.balanceId, { ...b });
  }

  reconciliation(): SimReconciliation {
    return {
      mode: this.cfg.mode, seed: this.cfg.seed,
      balances: [...this.balances.values()].map((b) => ({ ...b })),
      transactions: this.txs.map((t) => ({ ...t })),
      calls: this.calls(), callsDropped: this.dropped,
    };
  }

  /** Writes balances and transactions to the snapshot file (write then rename, so a crash leaves the old one). */
  saveSnapshot(): void {
    if (this.snapshotFile === null) return;
    const tmp = this.snapshotFile + '.tmp';
    writeFileSync(tmp, JSON.stringify({ balances: [...this.balances.values()], transactions: this.txs }, null, 2));
    renameSync(tmp, this.snapshotFile);
  }

  private loadSnapshot(file: string): void {
    const s = JSON.parse(readFileSync(file, 'utf8')) as { balances?: SimBalance[]; transactions?: SimTransaction[] };
    for (const b of s.balances ?? []) this.balances.set(b.balanceId, b);
    for (const c of s.transactions ?? []) this.addTx(c);
  }

  /** Answers every hung request with 503, so that nothing is left pending when the server stops. */
  releaseHung(): void {
    for (const answer of this.hung) answer(problem(503, 'SHUTTING_DOWN', 'the simulator stopped'));
    this.hung.clear();
  }

  /**
   * One request. `tls`: the server runs HTTPS with client certificates; a request whose
   * certificate the CA did not verify is answered 403 FORBIDDEN.
   */
  async handle(req: HttpRequest, tls: boolean): Promise<HttpResponse> {
    const call = this.record(req);
    const answer = (r: HttpResponse, outcome: SimCall['outcome']): HttpResponse => { call.status = r.status; call.outcome = outcome; return r; };
    const webhook = req.method === 'POST' && (req.path === '/webhooks' || req.path.startsWith('/webhooks/'));
    if (tls && req.clientVerified !== true && !webhook) return answer(problem(403, 'FORBIDDEN', 'a client certificate signed by the CA is required'), 'forbidden');
    if (req.path.startsWith('/_sim/')) return answer(this.control(req), 'control');
    if (webhook) {
      const secrets = this.cfg.webhookSecrets;
      if (secrets.length === 0) call.signature = 'unchecked';
      else {
        const v = verifySignature(req.headers[SIGNATURE_HEADER.toLowerCase()], req.body, secrets);
        call.signature = v.ok ? 'valid' : `invalid: ${v.problem}`;
        if (!v.ok) return answer(problem(400, 'SIGNATURE_INVALID', `Antaca-Signature: ${v.problem}`), 'signature-invalid');
      }
    }
    // Four draws per call whatever happens, so the sequence of outcomes depends only on the seed
    // and the order of calls.
    const hang = this.rng.next(), fail = this.rng.next(), jitter = this.rng.next(), roll = this.rng.next();
    if (hang < this.cfg.hangRate) {
      call.outcome = 'hung';
      return new Promise<HttpResponse>((resolve) => this.hung.add(resolve));
    }
    const delayMs = this.cfg.latencyMs + jitter * this.cfg.jitterMs;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (fail < this.cfg.errorRate) return answer(problem(500, 'INTERNAL_ERROR', 'injected failure'), 'error-injected');
    if (this.cfg.misbehave !== null) return answer(this.misbehaving(req), 'misbehaved');
    const key = req.headers['x-idempotency-key'];
    if (key === undefined || req.method === 'GET') return answer(this.route(req, roll), 'answered');
    const fingerprint = createHash('sha256').update(`${req.method} ${req.path}\n`).update(req.body).digest('base64');
    const cached = this.idempotency.get(key);
    if (cached !== undefined) {
      if (cached.fingerprint === fingerprint) return answer(cached.response, 'replayed');
      return answer(problem(409, 'CLIENT_ERROR', 'X-Idempotency-Key already used with another request'), 'idempotency-conflict');
    }
    const response = this.route(req, roll);
    this.idempotency.set(key, { fingerprint, response });
    if (this.idempotency.size > SIM_IDEMPOTENCY_KEYS_MAX) this.idempotency.delete(this.idempotency.keys().next().value as string);
    return answer(response, 'answered');
  }

  private record(req: HttpRequest): SimCall {
    const text = req.body.toString('utf8');
    let body: unknown = null;
    if (text.length > 0) { try { body = JSON.parse(text); } catch { body = text; } }
    const call: SimCall = {
      seq: ++this.seq, at: new Date().toISOString(), method: req.method, path: req.path,
      idempotencyKey: req.headers['x-idempotency-key'] ?? null, body, panLike: PAN_LIKE.test(text), status: null, outcome: 'answered', signature: null,
    };
    this.callLog.push(call);
    if (this.callLog.length > SIM_CALLS_MAX) { this.callLog.shift(); this.dropped++; }
    return call;
  }

  private route(req: HttpRequest, roll: number): HttpResponse {
    const seg = req.path.split('/').slice(1).map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
    const eb = this.cfg.mode === 'EXTERNAL_BALANCE';
    if (seg[0] === 'users' && seg[2] === 'balances' && eb) {
      const userId = seg[1] ?? '';
      if (seg.length === 3 && req.method === 'POST') return this.linkBalance(userId, req.body);
      if (seg.length === 3 && req.method === 'GET') return json(200, [...this.balances.values()].filter((b) => b.userId === userId).map((b) => ({ id: b.balanceId, currency: b.currency, amount: b.amount })));
      if (seg.length === 4 && (req.method === 'GET' || req.method === 'DELETE')) return this.oneBalance(req.method, userId, seg[3] ?? '');
    }
    if (seg[0] === 'transactions' && seg.length === 2) {
      const which = seg[1] as TxEndpoint;
      if (req.method === 'POST' && TX_ENDPOINTS.includes(which)) return this.transaction(which, req.body, roll);
      if (req.method === 'PUT' && eb) return this.clear(seg[1] ?? '', req.body);
    }
    if (seg[0] === 'webhooks' && req.method === 'POST') {
      const body = parse(req.body);
      return typeof body === 'object' && body !== null ? noContent() : problem(400, 'CLIENT_ERROR', 'the webhook body must be a JSON object');
    }
    if (seg[0] === 'notifications' && seg.length === 2 && req.method === 'POST' && (SIM_NOTIFICATION_KINDS as readonly string[]).includes(seg[1] ?? '')) {
      const body = parse(req.body);
      return typeof body === 'object' && body !== null ? noContent() : problem(400, 'CLIENT_ERROR', 'the notification body must be a JSON object');
    }
    return problem(404, 'NOT_FOUND', `no ${req.method} ${req.path.slice(0, 80)} in the ${this.cfg.mode} API`);
  }

  private linkBalance(userId: string, raw: Buffer): HttpResponse {
    if (this.cfg.users !== null && !this.cfg.users.includes(userId)) return problem(404, 'USER_NOT_FOUND', 'no such user');
    const b = parse(raw) as { balanceId?: unknown; currency?: unknown } | undefined;
    if (typeof b?.balanceId !== 'string' || typeof b.currency !== 'string' || !CURRENCY.test(b.currency)) {
      return problem(400, 'CLIENT_ERROR', 'body must be {"balanceId": <uuid>, "currency": <ISO 4217>}');
    }
    const existing = this.balances.get(b.balanceId);
    if (existing !== undefined && existing.userId !== userId) return problem(403, 'FORBIDDEN', 'the balance belongs to another user');
    if (existing === undefined) this.balances.set(b.balanceId, { balanceId: b.balanceId, userId, currency: b.currency, amount: 0 });
    return noContent();
  }

  private oneBalance(method: string, userId: string, balanceId: string): HttpResponse {
    const b = this.balances.get(balanceId);
    if (b === undefined) return problem(404, 'BALANCE_NOT_FOUND', 'no such balance');
    if (b.userId !== userId) return problem(403, 'FORBIDDEN', 'the balance belongs to another user');
    if (method === 'GET') return json(200, { currency: b.currency, amount: b.amount });
    // The seed: "Deleting a balance is only possible when its status is 0"; it gives no title, so CLIENT_ERROR.
    if (b.amount !== 0) return problem(409, 'CLIENT_ERROR', 'the balance still holds money');
    this.balances.delete(balanceId);
    return noContent();
  }

  private transaction(endpoint: TxEndpoint, raw: Buffer, roll: number): HttpResponse {
    const tx = parse(raw);
    const bad = invalidTransaction(tx);
    const decision = endpoint === 'debit' || endpoint === 'credit';
    if (bad !== null) return problem(decision ? 409 : 400, 'CLIENT_ERROR', bad);
    const t = tx as WireTransaction;
    if (decision) {
      const refusal = this.refusal(endpoint, t, roll);
      if (refusal !== null) return refusal;
    }
    if (endpoint === 'reversal') return this.reverse(t);
    const sign = endpoint === 'debit' || endpoint === 'force-debit' ? -1 : 1;
    const record = (effect: number, note: string | null): void => {
      this.addTx({
        id: t.id, endpoint, transactionId: t.transactionId, referenceTransactionId: t.referenceTransactionId ?? null, balanceId: t.balanceId,
        type: t.type, amount: t.amount, currency: t.currency, status: t.status, effect, note,
      });
    };
    if (this.cfg.mode === 'SHARED_AUTHORIZATION') { record(0, null); return noContent(); }
    const b = this.balances.get(t.balanceId);
    if (b === undefined) {
      if (decision) return problem(404, 'BALANCE_NOT_FOUND', 'no such balance');
      record(0, 'BALANCE_NOT_FOUND');
      return noContent();
    }
    if (decision && b.currency !== t.currency) return problem(409, 'CLIENT_ERROR', `the balance is in ${b.currency}`);
    if (endpoint === 'debit' && b.amount < t.amount) return problem(422, 'INSUFFICIENT_FUNDS', 'not enough money on the balance');
    // One transaction moves money once: a force-debit naming a debit this balance took (the switch
    // approved it in stand-in after the debit went unanswered) confirms it, and a late debit after
    // such a force-debit is acknowledged without a second movement.
    if ((endpoint === 'force-debit' || endpoint === 'debit') && this.tookDebit(t, endpoint === 'debit' ? 'force-debit' : 'debit')) {
      record(0, 'SAME_TRANSACTION');
      return noContent();
    }
    // Calls may arrive out of order: a debit or credit whose reversal came first (the switch gave
    // up waiting for it and reversed it, and the reversal overtook the slow call) moves nothing.
    if ((endpoint === 'debit' || endpoint === 'credit') && this.reversedBefore(t)) {
      record(0, 'REVERSED_BEFORE');
      return noContent();
    }
    b.amount += sign * t.amount;
    record(sign * t.amount, null);
    return noContent();
  }

  /** A not-reversed `other` call (debit or force-debit) of the same transactionId that moved money on this balance. */
  private tookDebit(t: WireTransaction, other: 'debit' | 'force-debit'): boolean {
    return this.txsOf(t.transactionId).some((c) => c.endpoint === other && c.transactionId === t.transactionId && c.balanceId === t.balanceId && c.status !== 'REVERSED' && c.effect !== 0);
  }

  /** A reversal of this transactionId on this balance arrived before any call it could revert. */
  private reversedBefore(t: WireTransaction): boolean {
    return this.txsOf(t.transactionId).some((c) => c.endpoint === 'reversal' && c.note === 'NOT_FOUND' && (c.referenceTransactionId ?? c.transactionId) === t.transactionId && c.balanceId === t.balanceId);
  }

  /** The first refusal rule matching the call, answered with the seed's status for its title. */
  private refusal(endpoint: 'debit' | 'credit', t: WireTransaction, roll: number): HttpResponse | null {
    for (const r of this.cfg.refuse) {
      if ((r.endpoint ?? 'debit') !== endpoint) continue;
      if (endpoint === 'credit' && !CREDIT_TITLES.includes(r.title)) continue;
      if (r.balanceId !== undefined && r.balanceId !== t.balanceId) continue;
      if (r.minAmount !== undefined && t.amount < r.minAmount) continue;
      if (r.mcc !== undefined && t.transactionData?.mcc !== r.mcc) continue;
      if (roll >= (r.rate ?? 1)) continue;
      return problem(REFUSAL_STATUS[r.title], r.title, 'refused by a simulator rule');
    }
    return null;
  }

  /**
   * The seed: a reversal reverts the transaction it names (by referenceTransactionId, else by its
   * own transactionId) "as if it never happened"; an unknown one is a 204 with nothing done.
   */
  private reverse(t: WireTransaction): HttpResponse {
    const target = t.referenceTransactionId ?? t.transactionId;
    let original: SimTransaction | undefined;
    const candidates = this.txsOf(target);
    for (let i = candidates.length - 1; i >= 0 && original === undefined; i--) {
      const c = candidates[i]!;
      if (c.endpoint !== 'reversal' && c.note !== 'SAME_TRANSACTION' && c.transactionId === target && c.balanceId === t.balanceId && c.status !== 'REVERSED') original = c;
    }
    const b = original === undefined ? undefined : this.balances.get(original.balanceId);
    let effect = 0;
    if (original !== undefined) {
      original.status = 'REVERSED';
      if (b !== undefined && this.cfg.mode === 'EXTERNAL_BALANCE') { effect = -original.effect; b.amount += effect; }
    }
    this.addTx({
      id: t.id, endpoint: 'reversal', transactionId: t.transactionId, referenceTransactionId: t.referenceTransactionId ?? null,
      balanceId: t.balanceId, type: t.type, amount: t.amount, currency: t.currency, status: t.status, effect,
      note: original === undefined ? 'NOT_FOUND' : null,
    });
    return noContent();
  }

  /** PUT /transactions/:transactionId: marks it CLEARED; no money moves (seed: "Update transaction status"). */
  private clear(transactionId: string, raw: Buffer): HttpResponse {
    const tx = parse(raw);
    const bad = invalidTransaction(tx);
    if (bad !== null) return problem(400, 'CLIENT_ERROR', bad);
    const found = this.txsOf(transactionId).filter((c) => c.endpoint !== 'reversal' && c.transactionId === transactionId);
    if (found.length === 0) return problem(404, 'TRANSACTION_NOT_FOUND', 'cannot find requested transaction');
    for (const c of found) if (c.status === 'AUTHORIZED') c.status = 'CLEARED';
    return noContent();
  }

  private misbehaving(req: HttpRequest): HttpResponse {
    const status = req.method === 'GET' ? 200 : 422;
    switch (this.cfg.misbehave) {
      case 'BAD_JSON': return { status, headers: { 'content-type': 'application/json' }, body: '{"title": "INSUFFICIENT_FUN' };
      case 'REDIRECT': return { status: 302, headers: { location: '/elsewhere' + req.path, 'content-type': 'text/plain' }, body: 'moved' };
      case 'OVERSIZED': return json(status, { title: 'INSUFFICIENT_FUNDS', detail: 'x'.repeat(SIM_OVERSIZED_BYTES) });
      default: return problem(422, 'NOT_A_SEED_TITLE', 'a title the seed does not have');
    }
  }

  private control(req: HttpRequest): HttpResponse {
    const p = req.path;
    try {
      if (p === '/_sim/calls' && req.method === 'GET') return json(200, { calls: this.calls(req.query.get('path') ?? ''), dropped: this.dropped });
      if (p === '/_sim/calls' && req.method === 'DELETE') { this.clearCalls(); return noContent(); }
      if (p === '/_sim/config' && req.method === 'GET') return json(200, this.config);
      if (p === '/_sim/config' && (req.method === 'PUT' || req.method === 'POST')) return json(200, this.configure(parse(req.body)));
      if (p === '/_sim/reconciliation' && req.method === 'GET') return json(200, this.reconciliation());
      if (p === '/_sim/snapshot' && req.method === 'POST') { this.saveSnapshot(); return noContent(); }
      if (p.startsWith('/_sim/balances/') && req.method === 'PUT') {
        const b = parse(req.body) as Partial<SimBalance> | undefined;
        this.setBalance({ balanceId: decodeURIComponent(p.slice('/_sim/balances/'.length)), userId: String(b?.userId ?? ''), currency: String(b?.currency ?? ''), amount: Number(b?.amount) });
        return noContent();
      }
    } catch (e) {
      if (e instanceof SimConfigError) return problem(400, 'VALIDATION_ERROR', e.message);
      throw e;
    }
    return problem(404, 'NOT_FOUND', 'no such control path');
  }
}

const REFUSAL_STATUS: Readonly<Record<RefusalTitle, number>> = {
  INSUFFICIENT_FUNDS: 422, LIMITS_EXCEEDED: 422, FRAUDS_DETECTED: 422, BALANCE_NOT_FOUND: 404, CLIENT_ERROR: 409,
};

/** The fields of the transaction object the simulator reads. */
interface WireTransaction {
  id: string; balanceId: string; transactionId: string; referenceTransactionId?: string | null;
  type: string; amount: number; currency: string; status: string; transactionData?: { mcc?: string | null } | null;
}

/** Why a body is not the seed's transaction object (the first missing or wrong field), or null. */
function invalidTransaction(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'the body must be the transaction object';
  const t = v as Record<string, unknown>;
  for (const k of ['id', 'balanceId', 'resourceId', 'resource', 'transactionId', 'type', 'currency', 'status', 'description', 'date']) {
    if (typeof t[k] !== 'string') return `${k} is required and must be a string`;
  }
  if (typeof t.amount !== 'number' || !Number.isSafeInteger(t.amount) || t.amount < 0) return 'amount must be a non-negative integer of minor units';
  if (!CURRENCY.test(t.currency as string)) return 'currency must be ISO 4217 alpha-3';
  if (!['AUTHORIZED', 'CLEARED', 'REVERSED'].includes(t.status as string)) return 'status must be AUTHORIZED, CLEARED or REVERSED';
  if (t.referenceTransactionId !== undefined && t.referenceTransactionId !== null && typeof t.referenceTransactionId !== 'string') return 'referenceTransactionId must be a string or null';
  return null;
}

function parse(b: Buffer): unknown {
  try { return JSON.parse(b.toString('utf8')); } catch { return undefined; }
}

function json(status: number, body: unknown): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function problem(status: number, title: string, detail: string): HttpResponse {
  return json(status, { title, detail });
}

function noContent(): HttpResponse {
  return { status: 204, headers: {}, body: '' };
}

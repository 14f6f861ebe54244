// The durable outbox of partner calls that can not be refused: force-debit, force-credit,
// reversal, the PUT of a clearing, notifications, and the webhook deliveries of notifications. The caller awaits `enqueue` before it
// answers the wire, so once a message is answered its partner call is in Redis (AOF always) and
// is sent, and retried with the same X-Idempotency-Key, until the partner answers 2xx, across
// restarts of the switch and of Redis. Notifications get at most 5 attempts (the seed's
// "Notifications": "up to 5 times"), then wait in the dead letters for an operator.
//
// Key layout, one slot group per entry (the group is read from the entry id, so every script
// touches one hash slot and the outbox works on Redis Cluster):
//
//   {gNN}:ob:e:<id>    entry hash   id, kind, cfg (configId), m (method), p (path), b (body JSON),
//                                   k (idempotency key), max (0: unbounded), c (created ms),
//                                   n (attempts started), s (pending|dead|sent), d (next due ms),
//                                   lt/lu (lease token / lease end ms), la (last attempt ms),
//                                   ls (last HTTP status), le (last error), dt/dr (dead at ms /
//                                   reason), st (sent at ms)
//   {gNN}:ob:due       zset id -> due ms (lease end ms while leased): what the senders claim
//   {gNN}:ob:pend      pending index, members "<created ms, 13 digits>|<id>", oldest first
//   {gNN}:ob:dead      dead letters, members "<dead ms, 13 digits>|<id>", oldest first
//   {gNN}:ob:att       attempts histogram of the group's pending entries (attempts -> count)
//   {g00}:ob:meta      outbox settings (groups), written once by the first outbox opened
//
// Delivery is at least once: a sender that dies after the partner answered and before recording
// it leaves the entry to be sent again when its lease runs out, with the same key, which is what
// the partner's idempotency cache is for.
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { MAX_GROUPS, StoreKeys } from '../ledger/keys.js';
import { loadScripts, projectRoot, scriptCall, type LuaScript } from '../ledger/scripts.js';
import { maskPansIn } from '../iso/mask.js';
import { cardDataKey, containsPan } from './card-data.js';
import { AppError, type CodeOf } from '../errors/index.js';

/** The partner calls the deciding code and the API write to the outbox. */
export const PARTNER_CALL_KINDS = ['force-debit', 'force-credit', 'reversal', 'clear', 'notification'] as const;
export type OutboxKind = typeof PARTNER_CALL_KINDS[number];
/**
 * Every kind of entry: the partner calls, and the webhook deliveries the sender derives from
 * notifications (adapters/partners.ts). Also the `kind` label of the metrics (a closed set).
 */
export const OUTBOX_KINDS = [...PARTNER_CALL_KINDS, 'webhook'] as const;
export type OutboxEntryKind = typeof OUTBOX_KINDS[number];

/** Attempts a notification, or its webhook delivery, gets (the seed: "Antaca will try to send a request once again (up to 5 times)"). */
export const NOTIFICATION_MAX_ATTEMPTS = 5;
/** Longest JSON body of an entry, in bytes (UTF-8); the seed's largest object is under 2 KiB. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Longest request path of an entry, in characters. */
export const MAX_PATH_CHARS = 512;
/** Longest error text kept with an entry, in characters. */
export const MAX_ERROR_CHARS = 200;
/** Largest page of `list`. */
export const LIST_LIMIT_MAX = 100;
/** Same shape as the management API's X-Idempotency-Key. */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;
/** Shape of an entry id: `ob_` and 32 hex digits of SHA-256 of the idempotency key. */
export const OUTBOX_ID = /^ob_[0-9a-f]{32}$/;

/** Defaults of OutboxOptions, each a limit named with its unit. */
export const OUTBOX_DEFAULTS = {
  groups: 16,
  leaseMs: 30_000,
  sendTimeoutMs: 10_000,
  backoffBaseMs: 1_000,
  backoffCapMs: 300_000,
  pollIntervalMs: 500,
  claimBatch: 32,
  maxInflight: 16,
  maxPendingPerGroup: 100_000,
  sentRetentionMs: 86_400_000,
  flushAbortGraceMs: 1_000,
} as const;

/** The OUTBOX_ERR_* codes of errors/table.ts, where each is documented. */
export type OutboxErrorCode = CodeOf<'outbox'>;

/** An error of the outbox, with a stable code (OutboxErrorCode); the message never quotes card data. */
export class OutboxError extends AppError<OutboxErrorCode> {}

/** What a partner call is: whose, where, what, under which key (EnqueueInput and OutboxEntry share it). */
interface OutboxCall {
  kind: OutboxEntryKind;
  /** The program whose partner receives the call (its baseUrl, or notificationsUrl for notifications; its webhooks.url for a webhook). */
  configId: string;
  method: 'POST' | 'PUT';
  /** Path below the partner's base URL, e.g. `/transactions/force-credit`; a webhook keeps its notification's path, which names the event. */
  path: string;
  /** Any JSON value; it must hold last-four digits only, never a PAN or CVV. */
  body: unknown;
  /** X-Idempotency-Key of every attempt; the entry id is derived from it. */
  idempotencyKey: string;
}

/** One call to record. */
export interface EnqueueInput extends OutboxCall {
  /** Attempts at most; null: until 2xx. Default: NOTIFICATION_MAX_ATTEMPTS for notifications, else null. */
  maxAttempts?: number | null;
  /** Default: now. */
  createdAtMs?: number;
}

export type OutboxState = 'pending' | 'dead' | 'sent';

/** An entry as stored. `body` is the parsed JSON body. */
export interface OutboxEntry extends OutboxCall {
  id: string;
  /** null: unbounded. */
  maxAttempts: number | null;
  createdAtMs: number;
  /** Attempts started so far (counted when an attempt is claimed). */
  attempts: number;
  state: OutboxState;
  /** When the entry is next due (pending only). */
  nextAttemptAtMs: number | null;
  /** End of the current lease while a sender holds it, else null. */
  leasedUntilMs: number | null;
  lastAttemptAtMs: number | null;
  lastStatus: number | null;
  lastError: string | null;
  deadAtMs: number | null;
  /** REJECTED (a non-retryable answer) or MAX_ATTEMPTS. */
  deadReason: 'REJECTED' | 'MAX_ATTEMPTS' | null;
  sentAtMs: number | null;
}

/**
 * What `send` resolves: ok for a 2xx answer; otherwise whether another attempt may succeed (a
 * timeout, a 5xx, a connection error: yes; a 4xx that says the request itself is wrong: no).
 * A `send` that throws counts as a retryable failure.
 */
export type SendResult =
  | { ok: true; status?: number }
  | { ok: false; retryable: boolean; status?: number; error?: string };

/**
 * Delivers one attempt. It must give up when `signal` aborts (sendTimeoutMs after the claim, or at
 * a flush's deadline): the lease is what keeps a second sender away, and it runs out leaseMs
 * after the claim.
 */
export type SendFn = (entry: OutboxEntry, signal: AbortSignal) => Promise<SendResult>;

/** One attempt's outcome, for logs and tests (`observe`). */
export interface AttemptEvent {
  id: string;
  kind: OutboxEntryKind;
  /** The attempt's number, from 1. */
  attempt: number;
  outcome: 'success' | 'failure' | 'rejected';
  /** What Redis recorded: sent, rescheduled (nextAttemptAtMs set), dead, or lease-lost (nothing recorded). */
  recorded: 'sent' | 'rescheduled' | 'dead' | 'lease-lost' | 'not-recorded';
  status: number | null;
  settledAtMs: number;
  /** The backoff chosen (rescheduled only). */
  delayMs: number | null;
  nextAttemptAtMs: number | null;
}

export interface OutboxOptions {
  /** Slot groups of a new outbox (1-100); an existing one keeps the count it was created with. Default 16. */
  groups?: number;
  /** How long a claim keeps other senders away, ms. Must exceed sendTimeoutMs. Default 30 000. */
  leaseMs?: number;
  /** An attempt's signal aborts after this, ms. Default 10 000. */
  sendTimeoutMs?: number;
  /** Backoff before retry n (n >= 1) is random in [0, min(cap, base * 2^(n-1))) ms. Default base 1 000. */
  backoffBaseMs?: number;
  /** Default 300 000 (5 minutes). */
  backoffCapMs?: number;
  /** Attempts of a notification. Default 5. */
  notificationMaxAttempts?: number;
  /** Sender loop period, ms (±10 % jitter). Default 500. */
  pollIntervalMs?: number;
  /** Entries claimed per tick at most. Default 32. */
  claimBatch?: number;
  /** Sends in flight per outbox at most. Default 16. */
  maxInflight?: number;
  /** Pending entries per slot group at most; enqueue throws OUTBOX_ERR_FULL past it. Default 100 000. */
  maxPendingPerGroup?: number;
  /** How long a sent entry is kept (as state 'sent') before it expires, ms. Default 24 h. */
  sentRetentionMs?: number;
  /** Uniform random in [0, 1) for the jitter. Default Math.random. */
  random?: () => number;
  /** prom-client registry for the outbox metrics; null: none. */
  registry?: Registry | null;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  observe?: (e: AttemptEvent) => void;
}

/** What `stats()` answers: this outbox's view of the whole Redis. */
export interface OutboxStats {
  /** Pending entries (leased ones included). */
  depth: number;
  dead: number;
  /** Age of the oldest pending entry, ms; 0 when there is none. */
  oldestPendingAgeMs: number;
  /** Pending entries by attempts started: "0", "1", ... "15", "16+". */
  attempts: Record<string, number>;
  /** Sends in flight in this process. */
  inflight: number;
}

/** What `flush` did: attempts started during it, their outcomes, and sends left running at its deadline. */
export interface FlushResult { attempted: number; sent: number; failed: number; abandoned: number }

/** The outbox as the management API uses it (api/routes/outbox.ts). */
export interface OutboxAdmin {
  /** Writes a call that cannot be refused (see Outbox.enqueue). */
  enqueue(input: EnqueueInput): Promise<{ id: string; created: boolean; state: OutboxState }>;
  list(q: { state: 'pending' | 'dead'; limit: number; cursor?: string | null }): Promise<{ items: OutboxEntry[]; next: string | null }>;
  get(id: string): Promise<OutboxEntry | null>;
  retry(id: string): Promise<RetryResult>;
}

/** What `retry` found: the entry moved back to pending, an entry that is not dead, or none. */
export type RetryResult =
  | { result: 'RETRIED'; entry: OutboxEntry }
  | { result: 'NOT_DEAD'; entry: OutboxEntry }
  | { result: 'NOT_FOUND'; entry: null };

/** The entry id of an idempotency key: `ob_` and the first 32 hex digits of its SHA-256. */
export function outboxId(idempotencyKey: string): string {
  return 'ob_' + createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32);
}

/**
 * Full-jitter backoff before the retry that follows attempt `attempt` (1-based):
 * floor(random * min(capMs, baseMs * 2^(attempt-1))), in ms.
 */
export function backoffDelayMs(attempt: number, baseMs: number, capMs: number, random: number): number {
  return Math.floor(random * backoffCeilingMs(attempt, baseMs, capMs));
}

/** The upper bound of backoffDelayMs: min(capMs, baseMs * 2^(attempt-1)). */
export function backoffCeilingMs(attempt: number, baseMs: number, capMs: number): number {
  const exp = Math.min(Math.max(attempt - 1, 0), 52);
  return Math.min(capMs, baseMs * 2 ** exp);
}

const META_KEY = StoreKeys.outboxMeta();
const LUA_DIR = (): string => join(projectRoot(), 'adapters', 'lua');
let scriptCache: LuaScript[] | null = null;

type ScriptCall = (...args: (string | number)[]) => Promise<unknown>;
interface Scripts { enqueue: ScriptCall; claim: ScriptCall; settle: ScriptCall; retry: ScriptCall }

function defineScripts(redis: Redis | Cluster): Scripts {
  scriptCache ??= loadScripts(LUA_DIR());
  const fn = (name: string): ScriptCall => {
    const s = scriptCache!.find((x) => x.name === `outbox-${name}`);
    if (s === undefined || s.numberOfKeys === null) throw new Error(`adapters/lua: no outbox-${name}-<keys>.lua`);
    return scriptCall(redis, s);
  };
  return { enqueue: fn('enqueue'), claim: fn('claim'), settle: fn('settle'), retry: fn('retry') };
}

interface GroupKeys { due: string; pend: string; dead: string; att: string; prefix: string }

interface Inflight { id: string; controller: AbortController; done: Promise<void> }

interface Resolved {
  leaseMs: number; sendTimeoutMs: number; backoffBaseMs: number; backoffCapMs: number; notificationMaxAttempts: number;
  pollIntervalMs: number; claimBatch: number; maxInflight: number; maxPendingPerGroup: number; sentRetentionMs: number;
}

/**
 * A durable outbox on one Redis (or Cluster). Open with `Outbox.open`. Several outboxes (several
 * switch processes) may share one Redis: a lease keeps each entry to one sender at a time.
 */
export class Outbox implements OutboxAdmin {
  private readonly keys: GroupKeys[] = [];
  private readonly o: Resolved;
  private readonly random: () => number;
  private readonly log: NonNullable<OutboxOptions['log']>;
  private readonly observe: OutboxOptions['observe'];
  private readonly inflight = new Map<string, Inflight>();
  private send: SendFn | null = null;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private again = false;
  private nextGroup = 0;
  private attemptsCounter: Counter<'kind' | 'outcome'> | null = null;
  private deadCounter: Counter<'kind'> | null = null;
  private flushTally: FlushResult | null = null;

  private constructor(private readonly redis: Redis | Cluster, private readonly scripts: Scripts, readonly groups: number, opts: OutboxOptions) {
    this.o = resolveOptions(opts);
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? (() => {});
    this.observe = opts.observe;
    for (let g = 0; g < groups; g++) {
      this.keys.push(StoreKeys.outbox(g));
    }
    if (opts.registry) this.registerMetrics(opts.registry);
  }

  /**
   * Opens the outbox on `redis`: reads (or, the first time, writes) its group count and defines
   * its scripts. Throws OUTBOX_ERR_INVALID_OPTIONS for an option out of range, and Redis errors.
   */
  static async open(redis: Redis | Cluster, opts: OutboxOptions = {}): Promise<Outbox> {
    const wanted = opts.groups ?? OUTBOX_DEFAULTS.groups;
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > MAX_GROUPS) throw new OutboxError('OUTBOX_ERR_INVALID_OPTIONS', `groups must be an integer in 1..${MAX_GROUPS}`);
    resolveOptions(opts);
    await redis.hsetnx(META_KEY, 'groups', String(wanted));
    const groups = Number(await redis.hget(META_KEY, 'groups'));
    if (!Number.isInteger(groups) || groups < 1 || groups > MAX_GROUPS) throw new OutboxError('OUTBOX_ERR_INVALID_OPTIONS', `${META_KEY} holds an invalid group count`);
    return new Outbox(redis, defineScripts(redis), groups, opts);
  }

  /** Slot group of an entry id: the id's first 32 bits of hash modulo the group count. */
  groupOf(id: string): number {
    return parseInt(id.slice(3, 11), 16) % this.groups;
  }

  private entryKey(id: string): string {
    return StoreKeys.outboxEntry(this.groupOf(id), id);
  }

  private scriptKeys(id: string): string[] {
    const k = this.keys[this.groupOf(id)]!;
    return [StoreKeys.outboxEntry(this.groupOf(id), id), k.due, k.pend, k.dead, k.att];
  }

  /**
   * Records a call durably (with AOF always, fsynced when this resolves) and returns its entry.
   * Idempotent: the same idempotency key again returns the entry already recorded (pending, dead,
   * or sent within sentRetentionMs), which keeps its key and is not sent twice.
   * Throws OutboxError: OUTBOX_ERR_INVALID_ENTRY, OUTBOX_ERR_CARD_DATA, OUTBOX_ERR_BODY_TOO_LARGE,
   * OUTBOX_ERR_FULL, OUTBOX_ERR_KEY_REUSED; and Redis errors (then nothing may be assumed recorded:
   * the caller must not answer as though it were).
   */
  async enqueue(input: EnqueueInput): Promise<{ id: string; created: boolean; state: OutboxState }> {
    const e = this.validate(input);
    const id = outboxId(e.idempotencyKey);
    const createdAtMs = input.createdAtMs ?? Date.now();
    const r = await this.scripts.enqueue(...this.scriptKeys(id).slice(0, 3), this.keys[this.groupOf(id)]!.att,
      id, e.kind, e.configId, e.method, e.path, e.bodyJson, e.idempotencyKey, e.maxAttempts, createdAtMs, createdAtMs, this.o.maxPendingPerGroup) as [number, string];
    const [code, state] = r;
    if (code === -1) throw new OutboxError('OUTBOX_ERR_FULL', `slot group ${this.groupOf(id)} holds ${this.o.maxPendingPerGroup} pending entries`);
    if (code === -2) throw new OutboxError('OUTBOX_ERR_KEY_REUSED', `idempotency key of ${id} is recorded for another method, path or body`);
    if (code === 1) this.kick();
    return { id, created: code === 1, state: state as OutboxState };
  }

  private validate(i: EnqueueInput): { kind: OutboxEntryKind; configId: string; method: string; path: string; bodyJson: string; idempotencyKey: string; maxAttempts: number } {
    const bad = (what: string): never => { throw new OutboxError('OUTBOX_ERR_INVALID_ENTRY', what); };
    if (!(OUTBOX_KINDS as readonly string[]).includes(i.kind)) bad(`kind must be one of ${OUTBOX_KINDS.join(', ')}`);
    if (typeof i.configId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(i.configId)) bad('configId must be 1-64 characters of [A-Za-z0-9._-]');
    if (i.method !== 'POST' && i.method !== 'PUT') bad('method must be POST or PUT');
    if (typeof i.path !== 'string' || !/^\/[\x21-\x7e]*$/.test(i.path) || i.path.length > MAX_PATH_CHARS) bad(`path must start with / and be at most ${MAX_PATH_CHARS} visible ASCII characters`);
    if (containsPan(i.path)) throw new OutboxError('OUTBOX_ERR_CARD_DATA', 'the path holds a 13-19 digit number that passes Luhn');
    if (typeof i.idempotencyKey !== 'string' || !IDEMPOTENCY_KEY.test(i.idempotencyKey)) bad('idempotencyKey must be 1-128 characters of [A-Za-z0-9._:-]');
    const max = i.maxAttempts === undefined ? (i.kind === 'notification' || i.kind === 'webhook' ? this.o.notificationMaxAttempts : null) : i.maxAttempts;
    if (max !== null && (!Number.isInteger(max) || max < 1 || max > 1_000_000)) bad('maxAttempts must be null or an integer in 1..1000000');
    if (i.createdAtMs !== undefined && (!Number.isSafeInteger(i.createdAtMs) || i.createdAtMs < 0 || i.createdAtMs > 9_999_999_999_999)) bad('createdAtMs must be a time in ms');
    let bodyJson: string | undefined;
    try { bodyJson = JSON.stringify(i.body); } catch { bad('body must be serializable as JSON'); }
    if (bodyJson === undefined) return bad('body must be a JSON value');
    if (Buffer.byteLength(bodyJson) > MAX_BODY_BYTES) throw new OutboxError('OUTBOX_ERR_BODY_TOO_LARGE', `body is over ${MAX_BODY_BYTES} bytes`);
    // The messages name what was found, never the digits.
    if (containsPan(bodyJson)) throw new OutboxError('OUTBOX_ERR_CARD_DATA', 'the body holds a 13-19 digit number that passes Luhn: pass last-four digits only');
    const key = cardDataKey(i.body);
    if (key !== null) throw new OutboxError('OUTBOX_ERR_CARD_DATA', `the body holds a card-data field (${key}): pass last-four digits only`);
    return { kind: i.kind, configId: i.configId, method: i.method, path: i.path, bodyJson, idempotencyKey: i.idempotencyKey, maxAttempts: max ?? 0 };
  }

  /** The entry, or null when there is none (never recorded, or sent longer than sentRetentionMs ago). */
  async get(id: string): Promise<OutboxEntry | null> {
    if (!OUTBOX_ID.test(id)) return null;
    const h = await this.redis.hgetall(this.entryKey(id));
    return h.s === undefined ? null : toEntry(h);
  }

  /**
   * A page of pending or dead entries, oldest first (pending: by creation; dead: by when they
   * died), across all groups. `cursor` is the `next` of the previous page. limit: 1..LIST_LIMIT_MAX.
   * Throws OUTBOX_ERR_INVALID_OPTIONS for a bad limit or cursor.
   */
  async list(q: { state: 'pending' | 'dead'; limit: number; cursor?: string | null }): Promise<{ items: OutboxEntry[]; next: string | null }> {
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > LIST_LIMIT_MAX) throw new OutboxError('OUTBOX_ERR_INVALID_OPTIONS', `limit must be an integer in 1..${LIST_LIMIT_MAX}`);
    let from = '-';
    if (q.cursor !== undefined && q.cursor !== null) {
      const member = Buffer.from(q.cursor, 'base64url').toString('utf8');
      if (!/^\d{13}\|ob_[0-9a-f]{32}$/.test(member)) throw new OutboxError('OUTBOX_ERR_INVALID_OPTIONS', 'cursor is not one this outbox gave');
      from = '(' + member;
    }
    const pages = await Promise.all(this.keys.map((k) =>
      this.redis.zrangebylex(q.state === 'pending' ? k.pend : k.dead, from, '+', 'LIMIT', 0, q.limit + 1)));
    const members = pages.flat().sort();
    const page = members.slice(0, q.limit);
    const found = await Promise.all(page.map((m) => this.get(m.slice(14))));
    const items = found.filter((e): e is OutboxEntry => e !== null && e.state === q.state);
    const next = members.length > q.limit ? Buffer.from(page[page.length - 1]!).toString('base64url') : null;
    return { items, next };
  }

  /** Moves a dead entry back to pending, due now, attempts reset to 0, the same idempotency key. */
  async retry(id: string): Promise<RetryResult> {
    if (!OUTBOX_ID.test(id)) return { result: 'NOT_FOUND', entry: null };
    const [code] = await this.scripts.retry(...this.scriptKeys(id), id, Date.now()) as [number, string];
    const entry = await this.get(id);
    if (code === -1 || entry === null) return { result: 'NOT_FOUND', entry: null };
    if (code === 0) return { result: 'NOT_DEAD', entry };
    this.kick();
    return { result: 'RETRIED', entry };
  }

  /** Depth, dead letters, oldest pending age and the attempts histogram, read from Redis. */
  async stats(nowMs = Date.now()): Promise<OutboxStats> {
    const per = await Promise.all(this.keys.map(async (k) => {
      const [depth, dead, oldest, att] = await Promise.all([
        this.redis.zcard(k.due), this.redis.zcard(k.dead), this.redis.zrange(k.pend, 0, 0), this.redis.hgetall(k.att)]);
      return { depth, dead, oldest: oldest[0] === undefined ? null : Number(oldest[0].slice(0, 13)), att };
    }));
    const attempts: Record<string, number> = {};
    let depth = 0;
    let dead = 0;
    let oldest = Infinity;
    for (const p of per) {
      depth += p.depth;
      dead += p.dead;
      if (p.oldest !== null && p.oldest < oldest) oldest = p.oldest;
      for (const [b, n] of Object.entries(p.att)) attempts[b] = (attempts[b] ?? 0) + Number(n);
    }
    return { depth, dead, oldestPendingAgeMs: oldest === Infinity ? 0 : Math.max(0, nowMs - oldest), attempts, inflight: this.inflight.size };
  }

  /** Starts the sender loop with `send`. Throws OUTBOX_ERR_STATE when it runs already. */
  start(send: SendFn): void {
    if (this.running) throw new OutboxError('OUTBOX_ERR_STATE', 'the sender loop runs already');
    this.send = send;
    this.running = true;
    this.kick();
  }

  /** Stops claiming and waits for the sends in flight (each ends by sendTimeoutMs). What is left stays durable. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.ticking !== null) await this.ticking;
    await Promise.all([...this.inflight.values()].map((f) => f.done));
  }

  /**
   * For SIGTERM: stops the loop, sends once every entry due now (those due later, and those
   * rescheduled by a failure meanwhile, wait for the next start), waits for the sends in flight,
   * and returns. At `timeoutMs` the sends still in flight are aborted and given flushAbortGraceMs
   * to end; one that does not is abandoned: its lease runs out and the entry is sent again later,
   * with the same key. Throws OUTBOX_ERR_STATE when the outbox was never started.
   */
  async flush(timeoutMs: number): Promise<FlushResult> {
    if (this.send === null) throw new OutboxError('OUTBOX_ERR_STATE', 'flush needs the send function given to start()');
    const startMs = Date.now();
    const deadlineMs = startMs + timeoutMs;
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    while (this.ticking !== null) await this.ticking;
    const tally: FlushResult = { attempted: 0, sent: 0, failed: 0, abandoned: 0 };
    this.flushTally = tally;
    const abortAll = () => { for (const f of this.inflight.values()) f.controller.abort(new Error('outbox flush deadline')); };
    const deadline = setTimeout(abortAll, Math.max(0, timeoutMs));
    try {
      // Ends when nothing due at the start is left unclaimed; two idle rounds in a row end it too
      // (due entries that another sender keeps claiming first).
      for (let idle = 0; Date.now() < deadlineMs && idle < 2;) {
        const r = await this.tick(startMs);
        if (r.claimed === 0 && r.seen === 0 && this.inflight.size === 0) break;
        if (r.claimed === 0 && this.inflight.size > 0) await Promise.race([...this.inflight.values()].map((f) => f.done));
        idle = r.claimed === 0 && this.inflight.size === 0 ? idle + 1 : 0;
      }
      if (this.inflight.size > 0) {
        const all = Promise.all([...this.inflight.values()].map((f) => f.done));
        const left = Math.max(0, deadlineMs - Date.now());
        await raceTimeout(all, left);
        abortAll();
        await raceTimeout(all, OUTBOX_DEFAULTS.flushAbortGraceMs);
        tally.abandoned = this.inflight.size;
      }
    } finally {
      clearTimeout(deadline);
      this.flushTally = null;
    }
    return tally;
  }

  /** Runs a tick now (or right after the running one). */
  private kick(): void {
    if (!this.running) return;
    if (this.ticking !== null) { this.again = true; return; }
    if (this.timer !== null) { clearTimeout(this.timer); this.timer = null; }
    this.ticking = this.tick(Date.now()).then(() => undefined, (err: unknown) => {
      this.log('warn', 'outbox tick failed', { error: maskPansIn(String((err as Error).message ?? err)).slice(0, MAX_ERROR_CHARS) });
    }).finally(() => {
      this.ticking = null;
      if (!this.running) return;
      if (this.again) { this.again = false; this.kick(); return; }
      // Jitter keeps several processes from polling in lockstep.
      this.timer = setTimeout(() => { this.timer = null; this.kick(); }, this.o.pollIntervalMs * (0.9 + this.random() * 0.2));
      this.timer.unref();
    });
  }

  /**
   * Claims up to min(claimBatch, free in-flight slots) entries due at `dueBeforeMs`, reading the
   * groups' due heads at once and starting with a different group each tick (fairness), and
   * launches their sends. `seen`: due entries found; `claimed`: those this outbox took.
   */
  private async tick(dueBeforeMs: number): Promise<{ seen: number; claimed: number }> {
    const budget = Math.min(this.o.claimBatch, this.o.maxInflight - this.inflight.size);
    if (budget <= 0) return { seen: 0, claimed: 0 };
    const first = this.nextGroup;
    this.nextGroup = (this.nextGroup + 1) % this.groups;
    const order = Array.from({ length: this.groups }, (_, i) => (first + i) % this.groups);
    const heads = await Promise.all(order.map((g) => this.redis.zrangebyscore(this.keys[g]!.due, '-inf', dueBeforeMs, 'LIMIT', 0, budget)));
    const candidates = heads.flat().filter((id) => !this.inflight.has(id)).slice(0, budget);
    let claimed = 0;
    for (const id of candidates) {
      if (await this.claim(id)) claimed++;
    }
    return { seen: candidates.length, claimed };
  }

  private async claim(id: string): Promise<boolean> {
    const nowMs = Date.now();
    const token = randomUUID();
    const r = await this.scripts.claim(...this.scriptKeys(id), id, nowMs, nowMs + this.o.leaseMs, token) as [number, ...string[]];
    if (r[0] === -1) {
      const kind = await this.redis.hget(this.entryKey(id), 'kind');
      this.deadCounter?.labels(kind ?? 'unknown').inc();
      this.log('warn', 'outbox entry out of attempts after an interrupted send: moved to the dead letters', { id });
      return false;
    }
    if (r[0] !== 1) return false;
    const h: Record<string, string> = {};
    for (let i = 1; i + 1 < r.length; i += 2) h[String(r[i])] = String(r[i + 1]);
    this.launch(toEntry(h), token);
    return true;
  }

  private launch(entry: OutboxEntry, token: string): void {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('outbox send timeout')), this.o.sendTimeoutMs);
    const done = this.attempt(entry, token, controller.signal).finally(() => {
      clearTimeout(timer);
      this.inflight.delete(entry.id);
      this.kick();
    });
    this.inflight.set(entry.id, { id: entry.id, controller, done });
    if (this.flushTally !== null) this.flushTally.attempted++;
  }

  private async attempt(entry: OutboxEntry, token: string, signal: AbortSignal): Promise<void> {
    let result: SendResult;
    try {
      result = await this.send!(entry, signal);
    } catch (err) {
      result = { ok: false, retryable: true, error: String((err as Error).message ?? err) };
    }
    if (!result.ok && signal.aborted && result.error === undefined) result = { ...result, error: String((signal.reason as Error)?.message ?? 'aborted') };
    await this.settle(entry, token, result);
  }

  private async settle(entry: OutboxEntry, token: string, result: SendResult): Promise<void> {
    const nowMs = Date.now();
    const outcome = result.ok ? 'ok' : result.retryable ? 'retry' : 'reject';
    const delayMs = backoffDelayMs(entry.attempts, this.o.backoffBaseMs, this.o.backoffCapMs, this.random());
    const status = result.status ?? null;
    const error = result.ok ? '' : maskPansIn(result.error ?? (status === null ? 'failed' : `HTTP ${status}`)).slice(0, MAX_ERROR_CHARS);
    const label = result.ok ? 'success' : result.retryable ? 'failure' : 'rejected';
    this.attemptsCounter?.labels(entry.kind, label).inc();
    if (this.flushTally !== null) { if (result.ok) this.flushTally.sent++; else this.flushTally.failed++; }
    let recorded: AttemptEvent['recorded'] = 'not-recorded';
    try {
      const code = await this.scripts.settle(...this.scriptKeys(entry.id), entry.id, token, outcome, nowMs, nowMs + delayMs,
        status === null ? '' : String(status), error, this.o.sentRetentionMs) as number;
      recorded = code === 1 ? 'sent' : code === 2 ? 'dead' : code === 3 ? 'rescheduled' : 'lease-lost';
    } catch (err) {
      // The lease runs out and the entry is sent again, with the same key.
      this.log('warn', 'outbox attempt not recorded: the entry will be sent again when its lease ends', { id: entry.id, error: String((err as Error).message ?? err).slice(0, MAX_ERROR_CHARS) });
    }
    if (recorded === 'dead') {
      this.deadCounter?.labels(entry.kind).inc();
      this.log('warn', 'outbox entry moved to the dead letters', { id: entry.id, kind: entry.kind, attempts: entry.attempts, status, error });
    }
    if (recorded === 'lease-lost') this.log('warn', 'outbox lease ran out before the attempt ended: its outcome is not recorded', { id: entry.id });
    this.observe?.({
      id: entry.id, kind: entry.kind, attempt: entry.attempts, outcome: label, recorded, status, settledAtMs: nowMs,
      delayMs: recorded === 'rescheduled' ? delayMs : null, nextAttemptAtMs: recorded === 'rescheduled' ? nowMs + delayMs : null,
    });
  }

  private registerMetrics(registry: Registry): void {
    const existing = <T>(name: string): T | undefined => registry.getSingleMetric(name) as T | undefined;
    // Gauges read Redis when scraped; a Redis that does not answer leaves the last value.
    let last: OutboxStats | null = null;
    let reading: Promise<OutboxStats | null> | null = null;
    const read = () => (reading ??= this.stats().catch(() => null).finally(() => { setImmediate(() => { reading = null; }); }));
    existing<Gauge>('switch_outbox_depth') ?? new Gauge({
      name: 'switch_outbox_depth', help: 'Partner calls in the outbox waiting for a 2xx (pending, leased included)', registers: [registry],
      async collect() { last = (await read()) ?? last; if (last) this.set(last.depth); },
    });
    existing<Gauge>('switch_outbox_oldest_age_seconds') ?? new Gauge({
      name: 'switch_outbox_oldest_age_seconds', help: 'Age of the oldest pending outbox entry, seconds (0 when empty)', registers: [registry],
      async collect() { last = (await read()) ?? last; if (last) this.set(last.oldestPendingAgeMs / 1000); },
    });
    existing<Gauge>('switch_outbox_dead') ?? new Gauge({
      name: 'switch_outbox_dead', help: 'Outbox entries in the dead letters, waiting for an operator', registers: [registry],
      async collect() { last = (await read()) ?? last; if (last) this.set(last.dead); },
    });
    this.attemptsCounter = existing<Counter<'kind' | 'outcome'>>('switch_outbox_attempts_total') ?? new Counter({
      name: 'switch_outbox_attempts_total', help: 'Outbox send attempts by kind and outcome: success (2xx), failure (retryable), rejected (not retryable)',
      labelNames: ['kind', 'outcome'] as const, registers: [registry],
    });
    this.deadCounter = existing<Counter<'kind'>>('switch_outbox_dead_total') ?? new Counter({
      name: 'switch_outbox_dead_total', help: 'Outbox entries moved to the dead letters, by kind', labelNames: ['kind'] as const, registers: [registry],
    });
  }
}

function resolveOptions(opts: OutboxOptions): Resolved {
  const r: Resolved = {
    leaseMs: opts.leaseMs ?? OUTBOX_DEFAULTS.leaseMs,
    sendTimeoutMs: opts.sendTimeoutMs ?? OUTBOX_DEFAULTS.sendTimeoutMs,
    backoffBaseMs: opts.backoffBaseMs ?? OUTBOX_DEFAULTS.backoffBaseMs,
    backoffCapMs: opts.backoffCapMs ?? OUTBOX_DEFAULTS.backoffCapMs,
    notificationMaxAttempts: opts.notificationMaxAttempts ?? NOTIFICATION_MAX_ATTEMPTS,
    pollIntervalMs: opts.pollIntervalMs ?? OUTBOX_DEFAULTS.pollIntervalMs,
    claimBatch: opts.claimBatch ?? OUTBOX_DEFAULTS.claimBatch,
    maxInflight: opts.maxInflight ?? OUTBOX_DEFAULTS.maxInflight,
    maxPendingPerGroup: opts.maxPendingPerGroup ?? OUTBOX_DEFAULTS.maxPendingPerGroup,
    sentRetentionMs: opts.sentRetentionMs ?? OUTBOX_DEFAULTS.sentRetentionMs,
  };
  for (const [k, v] of Object.entries(r)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new OutboxError('OUTBOX_ERR_INVALID_OPTIONS', `${k} must be a positive integer`);
  }
  if (r.sendTimeoutMs >= r.leaseMs) throw new OutboxError('OUTBOX_ERR_INVALID_OPTIONS', 'sendTimeoutMs must be below leaseMs, so that an attempt ends before its lease does');
  if (r.backoffCapMs < r.backoffBaseMs) throw new OutboxError('OUTBOX_ERR_INVALID_OPTIONS', 'backoffCapMs must be at least backoffBaseMs');
  return r;
}

function num(v: string | undefined): number | null {
  return v === undefined || v === '' ? null : Number(v);
}

function toEntry(h: Record<string, string>): OutboxEntry {
  const max = Number(h.max ?? 0);
  const state = h.s as OutboxState;
  return {
    id: h.id ?? '', kind: h.kind as OutboxEntryKind, configId: h.cfg ?? '', method: h.m as 'POST' | 'PUT', path: h.p ?? '',
    body: JSON.parse(h.b ?? 'null') as unknown, idempotencyKey: h.k ?? '', maxAttempts: max === 0 ? null : max,
    createdAtMs: Number(h.c), attempts: Number(h.n ?? 0), state,
    nextAttemptAtMs: state === 'pending' ? num(h.d) : null, leasedUntilMs: num(h.lu), lastAttemptAtMs: num(h.la),
    lastStatus: num(h.ls), lastError: h.le === undefined || h.le === '' ? null : h.le,
    deadAtMs: num(h.dt), deadReason: (h.dr as OutboxEntry['deadReason']) ?? null, sentAtMs: num(h.st),
  };
}

async function raceTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => { timer = setTimeout(r, ms); })]);
  clearTimeout(timer);
}

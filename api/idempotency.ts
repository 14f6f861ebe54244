// X-Idempotency-Key at the HTTP level: the first answer to a key is kept (8 days, as long as the
// ledger keeps its own idempotency records) and a replay gets it back byte for byte, flagged
// `Idempotent-Replayed: true`. Money moves at most once because the handlers pass a key derived
// from the same header to the ledger, whose scripts are idempotent on their own: two concurrent
// first requests both reach the ledger, one of them as a replay, and the first answer stored wins.
// A key reused with another method, path or body is refused with 409 IDEMPOTENCY_KEY_REUSED.
// Answers with status 5xx are not kept: the caller is meant to retry them with the same key.
import { StoreKeys } from '../ledger/keys.js';
import type { Redis, Cluster } from 'ioredis';
import type { HttpResponse } from './http.js';
import { AppError } from '../errors/index.js';

export const IDEMPOTENCY_TTL_MS = 8 * 86_400_000;

interface Stored { fp: string; status: number; headers: Record<string, string>; body: string }

export class IdempotencyStore {
  constructor(private readonly redis: Redis | Cluster, private readonly ttlMs = IDEMPOTENCY_TTL_MS) {}

  async run(scope: string, fingerprint: string, fn: () => Promise<HttpResponse>): Promise<HttpResponse> {
    const key = StoreKeys.apiIdempotency(scope);
    const first = await this.read(key);
    if (first !== null) return replay(first, fingerprint);
    const out = await fn();
    if (out.status >= 500) return out;
    const stored: Stored = { fp: fingerprint, status: out.status, headers: out.headers, body: typeof out.body === 'string' ? out.body : out.body.toString('utf8') };
    const set = await this.redis.set(key, JSON.stringify(stored), 'PX', this.ttlMs, 'NX');
    if (set === 'OK') return out;
    const winner = await this.read(key);
    return winner === null ? out : replay(winner, fingerprint);
  }

  private async read(key: string): Promise<Stored | null> {
    const v = await this.redis.get(key);
    return v === null ? null : JSON.parse(v) as Stored;
  }
}

function replay(s: Stored, fingerprint: string): HttpResponse {
  if (s.fp !== fingerprint) throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this X-Idempotency-Key was used for a different request');
  return { status: s.status, headers: { ...s.headers, 'idempotent-replayed': 'true' }, body: s.body };
}

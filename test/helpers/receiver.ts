// A real HTTP receiver on 127.0.0.1 for outbox tests (node:http): it records every request, answers
// by a policy given the request and how many times its X-Idempotency-Key was seen, and counts how
// many requests of one key are in flight at once. `send` delivers an outbox entry to it the way a
// partner client would: the entry's method and path, its JSON body, its X-Idempotency-Key.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OutboxEntry, SendResult } from '../../adapters/outbox.js';

export interface Received { key: string; method: string; path: string; body: unknown; nth: number; atMs: number }

/** A status to answer with, or 'hold': keep the request open until `releaseHeld` (or the client gives up). */
export type Policy = (r: Received) => number | 'hold' | Promise<number | 'hold'>;

export interface Receiver {
  url: string;
  received: Received[];
  /** Highest number of requests of one key in flight at the same time, over all keys. */
  maxConcurrentPerKey(): number;
  byKey(key: string): Received[];
  policy: Policy;
  /** Answers every held request with this status. */
  releaseHeld(status: number): void;
  /** Resolves at the first request for which `pred` holds (already received ones included). */
  waitFor(pred: (r: Received, all: Received[]) => boolean): Promise<Received>;
  close(): Promise<void>;
}

export async function startReceiver(t: { teardown(fn: () => unknown): void }, policy: Policy = () => 200): Promise<Receiver> {
  const received: Received[] = [];
  const seen = new Map<string, number>();
  const inflight = new Map<string, number>();
  let maxConcurrent = 0;
  const held: ServerResponse[] = [];
  const waiters: Array<{ pred: (r: Received, all: Received[]) => boolean; resolve: (r: Received) => void }> = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const key = String(req.headers['x-idempotency-key'] ?? '');
      const nth = (seen.get(key) ?? 0) + 1;
      seen.set(key, nth);
      const now = (inflight.get(key) ?? 0) + 1;
      inflight.set(key, now);
      if (now > maxConcurrent) maxConcurrent = now;
      let body: unknown = null;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { body = null; }
      const r: Received = { key, method: req.method ?? '', path: req.url ?? '', body, nth, atMs: Date.now() };
      received.push(r);
      let finished = false;
      const done = () => { if (!finished) { finished = true; inflight.set(key, (inflight.get(key) ?? 1) - 1); } };
      res.on('close', done);
      res.on('finish', done);
      void Promise.resolve(api.policy(r)).then((answer) => {
        if (answer === 'hold') held.push(res);
        else res.writeHead(answer, { 'content-type': 'application/json' }).end(answer < 300 ? '{}' : '{"title":"ERROR","detail":"refused by the test receiver"}');
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i]!;
          if (w.pred(r, received)) { waiters.splice(i, 1); w.resolve(r); }
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const api: Receiver = {
    url: `http://127.0.0.1:${port}`,
    received,
    policy,
    maxConcurrentPerKey: () => maxConcurrent,
    byKey: (key) => received.filter((r) => r.key === key),
    releaseHeld(status) { for (const res of held.splice(0)) if (!res.writableEnded) res.writeHead(status).end(); },
    waitFor(pred) {
      const hit = received.find((r) => pred(r, received));
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    async close() {
      api.releaseHeld(503);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  t.teardown(() => api.close());
  return api;
}

/**
 * Delivers an entry to `baseUrl` over HTTP: 2xx is ok, 4xx other than 408/429 is not retryable,
 * anything else (5xx, 408, 429, a connection error, an abort) is retryable.
 */
export function httpSend(baseUrl: string) {
  return async (entry: OutboxEntry, signal: AbortSignal): Promise<SendResult> => {
    try {
      const res = await fetch(baseUrl + entry.path, {
        method: entry.method, signal,
        headers: { 'content-type': 'application/json', 'x-idempotency-key': entry.idempotencyKey },
        body: JSON.stringify(entry.body),
      });
      await res.arrayBuffer();
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
      const retryable = !(res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429);
      return { ok: false, retryable, status: res.status, error: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, retryable: true, error: String((err as Error).message ?? err) };
    }
  };
}

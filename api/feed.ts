// The live feed of processed transactions for dashboards: the switch's dispatcher publishes what
// it answered, and every WebSocket client of GET /feed receives it as JSON text frames:
//
//   {"type":"hello","maxBufferedBytes":1048576}                 once, when the socket opens
//   {"type":"transactions","events":[FeedEvent, ...]}          one frame per publish() call
//
// A PAN never leaves masked (first 6, stars, last 4): an event whose maskedPan is not masked is
// masked here before it is sent. Each client has a bounded send buffer: a client whose unsent
// bytes would pass maxBufferedBytes is disconnected and counted (feed_clients_dropped_total), so
// a slow dashboard costs the switch neither memory nor time. publish() with no client costs a
// counter increment.
import { maskPan } from '../iso/mask.js';
import type { HttpRequest, HttpResponse, TextSocket, WebSocketRoute } from './http.js';
import { problemResponse } from './problem.js';
import type { ApiMetrics } from './metrics.js';
import type { ProcessedEvent } from '../switch/events.js';

/** One decided money message as dashboards see it: the switch's event without its internal timing. */
export type FeedEvent = Omit<ProcessedEvent, 'scriptSeconds' | 'partnerCall' | 'wouldDecline'>;

/** Receives each published batch: the events and the frame text already serialized once for all. */
export type FeedListener = (events: readonly FeedEvent[], text: string) => void;

/** The client's send buffer, when it has one: how full it is, and how to cut the client off. */
export interface FeedBackpressure {
  bufferedBytes(): number;
  drop(): void;
}

export interface FeedOptions {
  /** Default 64: more WebSocket clients are refused with 503. */
  maxClients?: number;
  /** Default 1 MiB of unsent frames per client. */
  maxBufferedBytes?: number;
  metrics?: Pick<ApiMetrics, 'feedClients' | 'feedEvents' | 'feedDrops'> | null;
}

interface Client { fn: FeedListener; bp: FeedBackpressure | null }

const MASKED = /^\d{6}\*+\d{4}$/;
const DIGITS = /^\d{12,19}$/;

export class TransactionFeed {
  readonly maxClients: number;
  readonly maxBufferedBytes: number;
  private readonly clients = new Set<Client>();
  private readonly metrics: FeedOptions['metrics'];
  /** Clients disconnected for not keeping up, since start. */
  dropped = 0;
  /** Events published, since start. */
  published = 0;

  constructor(o: FeedOptions = {}) {
    this.maxClients = o.maxClients ?? 64;
    this.maxBufferedBytes = o.maxBufferedBytes ?? 1024 * 1024;
    this.metrics = o.metrics ?? null;
  }

  get clientCount(): number { return this.clients.size; }

  publish(events: readonly FeedEvent[]): void {
    this.published += events.length;
    this.metrics?.feedEvents.inc(events.length);
    if (events.length === 0 || this.clients.size === 0) return;
    const safe = events.map(masked);
    const text = JSON.stringify({ type: 'transactions', events: safe });
    for (const c of [...this.clients]) {
      if (c.bp !== null && c.bp.bufferedBytes() + text.length > this.maxBufferedBytes) {
        this.remove(c);
        this.dropped++;
        this.metrics?.feedDrops.inc();
        c.bp.drop();
        continue;
      }
      try { c.fn(safe, text); } catch { this.remove(c); }
    }
  }

  /** Adds a listener; the returned function removes it (idempotent). */
  subscribe(fn: FeedListener, backpressure: FeedBackpressure | null = null): () => void {
    const c: Client = { fn, bp: backpressure };
    this.clients.add(c);
    this.metrics?.feedClients.set(this.clients.size);
    return () => this.remove(c);
  }

  private remove(c: Client): void {
    if (this.clients.delete(c)) this.metrics?.feedClients.set(this.clients.size);
  }
}

/** Exactly the FeedEvent fields (publishers may pass richer objects), with the PAN masked. */
function masked(e: FeedEvent): FeedEvent {
  const p = e.maskedPan;
  const pan = p === null || MASKED.test(p) ? p : DIGITS.test(p) ? maskPan(p) : null;
  return {
    timeMs: e.timeMs, mti: e.mti, responseCode: e.responseCode, reason: e.reason, maskedPan: pan,
    amountMinor: e.amountMinor, currency: e.currency, txId: e.txId,
  };
}

/** GET /feed as a WebSocket route of both HTTP servers. */
export function feedRoute(feed: TransactionFeed): WebSocketRoute {
  return {
    path: '/feed',
    admit(req: HttpRequest): HttpResponse | null {
      if (req.clientVerified === false) return problemResponse('CLIENT_CERTIFICATE_REQUIRED', '/feed needs a client certificate issued by the configured CA');
      if (feed.clientCount >= feed.maxClients) return problemResponse('FEED_FULL', `the feed serves at most ${feed.maxClients} clients`);
      return null;
    },
    open(socket: TextSocket): () => void {
      socket.send(JSON.stringify({ type: 'hello', maxBufferedBytes: feed.maxBufferedBytes }));
      return feed.subscribe((_events, text) => socket.send(text), { bufferedBytes: () => socket.bufferedBytes(), drop: () => socket.close() });
    },
  };
}

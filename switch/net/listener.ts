// The ISO 8583 TCP listener (SPEC §2.1): many persistent connections, many requests in flight on
// each, answers in any order. Reading pauses while a connection (or the whole listener) has too
// much in flight, so a fast client cannot queue unbounded work. The transport (plain TCP, or TLS
// with required client certificates: transport.ts) hands over sockets ready for frames; nothing
// below `accept` knows which one it is.
import type { AddressInfo, Server, Socket } from 'node:net';
import { Framer, MAX_FRAME_BYTES, type FrameSink } from './framer.js';
import { plainTcp, type HandshakeFailure, type RefusedHandshake, type Transport, type TransportServer } from './transport.js';
import type { Dispatcher, ReplyTarget } from '../pool/dispatcher.js';
import type { ErrorCode } from '../../errors/index.js';


/** The code of the log line for a frame over the limit (errors/table.ts). */
const FRAME_TOO_LONG: ErrorCode = 'SW_ERR_FRAME_TOO_LONG';

/** How long a stop waits for connections to close after ending them, before destroying them (ms). */
const SHUTDOWN_CLOSE_GRACE_MS = 1000;

function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((r) => { timer = setTimeout(() => r(false), ms); }),
  ]).finally(() => clearTimeout(timer));
}

export interface ListenerLimits {
  maxConnections: number;
  maxInflightPerConnection: number;
  maxInflightTotal: number;
  maxFrameBytes?: number;
}

export interface ListenerEvents {
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
  frameIn?(): void;
  oversize?(): void;
  keepAlive?(): void;
  answered?(): void;
  /** A TLS handshake was refused (counted for every one; logged at most once a second). */
  handshakeRefused?(reason: HandshakeFailure): void;
}

/** Refused handshakes are logged at most this often, with the number left unlogged in between. */
export const REFUSAL_LOG_INTERVAL_MS = 1000;

export class IsoListener {
  private readonly transport: TransportServer;
  private readonly server: Server;
  private readonly conns = new Set<Connection>();
  private lastRefusalLogMs = -Infinity;
  private refusalsUnlogged = 0;
  inflightTotal = 0;
  /** Frames read off all sockets since start (keep-alives excluded). */
  framesRead = 0;
  private globallyPaused = false;
  private closing = false;
  private nextConnId = 1;

  constructor(
    readonly dispatcher: Dispatcher,
    readonly limits: ListenerLimits,
    readonly events: ListenerEvents,
    transport: Transport = plainTcp(),
  ) {
    this.transport = transport.createServer((s) => this.accept(s), (r) => this.refused(r));
    this.server = this.transport.server;
    this.server.maxConnections = limits.maxConnections;
    this.server.on('drop', () => events.log('warn', 'connection refused: MAX_CONNECTIONS reached', { max: limits.maxConnections }));
  }

  listen(port: number, host: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  get connectionCount(): number { return this.conns.size; }
  get listening(): boolean { return this.server.listening && !this.closing; }

  /**
   * Stops accepting and reading, answers every request already read, then closes the sockets.
   * Requests still unanswered at the timeout are logged; their sockets are closed anyway.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.transport.abortHandshakes();
    for (const c of this.conns) c.stopReading();
    const deadline = Date.now() + timeoutMs;
    while (this.inflightTotal > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (this.inflightTotal > 0) this.events.log('error', 'shutdown timeout with requests unanswered', { inflight: this.inflightTotal });
    for (const c of this.conns) c.end();
    // A peer that keeps its side of a connection open (a load generator still writing) must not hold
    // the stop: after a grace period what is left is destroyed, and the stop goes on regardless.
    if (!(await settlesWithin(closed, SHUTDOWN_CLOSE_GRACE_MS))) {
      for (const c of this.conns) c.destroy();
      if (!(await settlesWithin(closed, SHUTDOWN_CLOSE_GRACE_MS))) {
        this.events.log('warn', 'shutdown: the listener did not close in time; going on', { connections: this.conns.size });
      }
    }
  }

  private accept(socket: Socket): void {
    if (this.closing) { socket.destroy(); return; }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const conn = new Connection(this.nextConnId++, socket, this);
    this.conns.add(conn);
    socket.once('close', () => { this.conns.delete(conn); conn.closed = true; });
    if (this.globallyPaused) conn.updateFlow();
  }

  /** A failed TLS handshake: the socket is gone already; other connections are not touched. */
  private refused(r: RefusedHandshake): void {
    this.events.handshakeRefused?.(r.reason);
    const now = Date.now();
    if (now - this.lastRefusalLogMs < REFUSAL_LOG_INTERVAL_MS) { this.refusalsUnlogged++; return; }
    this.events.log('warn', 'TLS handshake refused', { peer: r.peer, reason: r.reason, detail: r.detail, refusedUnloggedSinceLastLine: this.refusalsUnlogged });
    this.lastRefusalLogMs = now;
    this.refusalsUnlogged = 0;
  }

  /** Called by a connection whenever its in-flight count changes. */
  flowChanged(): void {
    const shouldPause = this.inflightTotal >= this.limits.maxInflightTotal;
    if (shouldPause !== this.globallyPaused) {
      this.globallyPaused = shouldPause;
      for (const c of this.conns) c.updateFlow();
    }
  }

  get pausedGlobally(): boolean { return this.globallyPaused || this.closing; }
}

class Connection implements FrameSink, ReplyTarget {
  private readonly framer: Framer;
  private inflight = 0;
  private paused = false;
  closed = false;
  private out: Buffer[] = [];
  private flushScheduled = false;
  private readonly flushBound = () => this.flushWrites();

  readonly peer: string;

  constructor(readonly id: number, private readonly socket: Socket, private readonly listener: IsoListener) {
    this.peer = `#${id} ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.framer = new Framer(this, listener.limits.maxFrameBytes ?? MAX_FRAME_BYTES);
    socket.on('data', (chunk: Buffer) => this.framer.push(chunk));
    socket.on('error', (err) => listener.events.log('warn', 'connection error', { conn: id, error: err.message }));
  }

  frame(body: Buffer): void {
    this.inflight++;
    this.listener.inflightTotal++;
    this.listener.framesRead++;
    this.listener.events.frameIn?.();
    this.listener.dispatcher.submit(body, this);
    if (this.inflight >= this.listener.limits.maxInflightPerConnection) this.updateFlow();
    else if (this.listener.inflightTotal >= this.listener.limits.maxInflightTotal) this.listener.flowChanged();
  }

  keepAlive(): void { this.listener.events.keepAlive?.(); }

  oversize(length: number): void {
    this.listener.events.oversize?.();
    this.listener.events.log('warn', 'frame longer than the limit: closing connection', { code: FRAME_TOO_LONG, conn: this.id, length, limit: this.listener.limits.maxFrameBytes ?? MAX_FRAME_BYTES });
    // Answers already owed on this connection are lost with it; the peer broke the framing.
    this.socket.destroy();
  }

  deliver(response: Buffer | null): void {
    this.inflight--;
    this.listener.inflightTotal--;
    this.listener.events.answered?.();
    if (response !== null && !this.closed && this.socket.writable) {
      this.out.push(response);
      if (!this.flushScheduled) { this.flushScheduled = true; process.nextTick(this.flushBound); }
    }
    if (this.paused) this.updateFlow();
    if (this.listener.pausedGlobally) this.listener.flowChanged();
  }

  updateFlow(): void {
    const shouldPause = this.inflight >= this.listener.limits.maxInflightPerConnection || this.listener.pausedGlobally;
    if (shouldPause && !this.paused) { this.paused = true; this.socket.pause(); }
    else if (!shouldPause && this.paused) { this.paused = false; this.socket.resume(); }
  }

  stopReading(): void {
    this.paused = true;
    this.socket.pause();
    if (this.inflight === 0) this.end();
  }

  end(): void {
    if (!this.closed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private flushWrites(): void {
    this.flushScheduled = false;
    const out = this.out;
    this.out = [];
    if (this.closed || !this.socket.writable) return;
    // One syscall for every answer ready in this turn; answers arrive framed (length included).
    this.socket.cork();
    for (const framed of out) this.socket.write(framed);
    this.socket.uncork();
  }
}

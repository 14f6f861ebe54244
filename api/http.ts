// The HTTP side of the switch as one small interface: a request (method, path, params, query,
// headers, body bytes) goes in, a response (status, headers, body) comes out. Two servers carry
// it, and they behave the same (every API test runs against both):
//
//   uws   uWebSockets.js (@trufflesuite/uws-js-unofficial, native binaries for Node 16-20)
//   node  node:http, or node:https when TLS is configured (mTLS for /secure and /lifecycle)
//
// HTTP_SERVER=auto (default) takes uws when its binary loads and node otherwise; HTTP_SERVER=node
// or =uws forces one (uws fails to start when its binary does not load). TLS always runs on node:
// uWS's SSLApp verifies a client certificate when one is sent but cannot require one, and it does
// not tell the handler whether the peer was verified, so it cannot enforce mTLS per path.
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { AppError } from '../errors/index.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS' | string;

export interface HttpRequest {
  method: HttpMethod;
  /** Path without the query string, percent-decoding not applied (segments are decoded by the router). */
  path: string;
  /** Path parameters, filled by the router. */
  params: Record<string, string>;
  query: URLSearchParams;
  /** Header names in lower case; a repeated header is joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /**
   * TLS only: whether the peer presented a client certificate that the configured CA verified.
   * null on plain HTTP (no TLS at all).
   */
  clientVerified: boolean | null;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/** What a server does with requests: the router (api/router.ts) is one. */
export interface HttpApp {
  handle(req: HttpRequest): Promise<HttpResponse>;
  /** WebSocket paths (GET with Upgrade: websocket) and what to do with an accepted socket. */
  websocket: WebSocketRoute | null;
  /** Upper bound of a request body; a larger one is answered 413 without reading it all. */
  maxBodyBytes: number;
}

/** A server-to-client text channel, as both servers expose a WebSocket to the feed. */
export interface TextSocket {
  send(text: string): void;
  /** Bytes handed to the socket and not yet written to the network. */
  bufferedBytes(): number;
  close(): void;
}

export interface WebSocketRoute {
  path: string;
  /**
   * Decides on an upgrade request before the handshake: null accepts, a response refuses (e.g.
   * 403 without a client certificate, 503 with too many clients).
   */
  admit(req: HttpRequest): HttpResponse | null;
  /** The socket is open; the returned function is called once when it closes. */
  open(socket: TextSocket): () => void;
}

/**
 * A body over the limit is still read (and discarded) up to this many bytes before the 413 goes
 * out, so that a client still sending gets the answer instead of a reset; past it, the
 * connection is dropped without one.
 */
export const OVERSIZE_DRAIN_BYTES_MAX = 1024 * 1024;

export interface TlsFiles { cert: string; key: string; ca: string }

export interface HttpServer {
  readonly kind: 'uws' | 'node';
  readonly tls: boolean;
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

export type HttpServerChoice = 'auto' | 'uws' | 'node';

export interface HttpServerOptions {
  choice: HttpServerChoice;
  tls: TlsFiles | null;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** How uWS is loaded (tests stand in a failing loader to exercise the fallback of Node 22+). */
  loadUws?: () => ReturnType<typeof loadUws>;
}

/** The native uWS module, or why it did not load. Loaded once per process. */
let uwsModule: { ok: true; uws: unknown } | { ok: false; reason: string } | null = null;

/**
 * Loads the uWS binary for this platform and Node ABI directly: the package's own entry point
 * would silently fall back to a slow ws-based imitation, which is not what HTTP_SERVER=uws asks for.
 */
export function loadUws(): { ok: true; uws: unknown } | { ok: false; reason: string } {
  if (uwsModule !== null) return uwsModule;
  const file = `@trufflesuite/uws-js-unofficial/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    uwsModule = { ok: true, uws: createRequire(import.meta.url)(file) };
  } catch (e) {
    const reason = `no uWebSockets.js binary for ${process.platform}-${process.arch} Node ABI ${process.versions.modules} (Node ${process.versions.node}): ${String((e as Error).message ?? e).split('\n')[0]?.slice(0, 160)}`;
    uwsModule = { ok: false, reason };
  }
  return uwsModule;
}

export async function createHttpServer(app: HttpApp, o: HttpServerOptions): Promise<HttpServer> {
  const node = async () => (await import('./server-node.js')).createNodeServer(app, o.tls);
  if (o.tls !== null) {
    if (o.choice === 'uws') o.log('info', 'HTTP TLS is served by node:https (uWS cannot require client certificates)');
    return node();
  }
  if (o.choice === 'node') return node();
  const u = (o.loadUws ?? loadUws)();
  if (u.ok) return (await import('./server-uws.js')).createUwsServer(app, u.uws);
  if (o.choice === 'uws') throw new AppError('API_ERR_HTTP_SERVER', `HTTP_SERVER=uws: ${u.reason}`);
  o.log('info', 'HTTP server: node:http (uWebSockets.js not available)', { reason: u.reason });
  return node();
}

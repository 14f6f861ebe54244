// uWebSockets.js carrying the HttpApp interface of api/http.ts. Routing stays in api/router.ts:
// uWS gets one catch-all route and one WebSocket route, so both servers answer identically.
// The uWS request object lives only during its callback, so everything is copied out first.
import { STATUS_CODES } from 'node:http';
import { OVERSIZE_DRAIN_BYTES_MAX, type HttpApp, type HttpRequest, type HttpResponse, type HttpServer, type TextSocket } from './http.js';
import { problemResponse } from './problem.js';

// The subset of the uWS API used here (docs/index.d.ts of the package).
interface UwsRequest {
  getCaseSensitiveMethod(): string;
  getUrl(): string;
  getQuery(): string;
  getHeader(k: string): string;
  forEach(cb: (k: string, v: string) => void): void;
}
interface UwsResponse {
  onAborted(cb: () => void): UwsResponse;
  onData(cb: (chunk: ArrayBuffer, isLast: boolean) => void): UwsResponse;
  cork(cb: () => void): UwsResponse;
  writeStatus(s: string): UwsResponse;
  writeHeader(k: string, v: string): UwsResponse;
  end(body?: string | Uint8Array, closeConnection?: boolean): UwsResponse;
  upgrade(user: unknown, key: string, protocol: string, extensions: string, context: unknown): void;
  close(): UwsResponse;
}
interface UwsSocket {
  send(m: string, isBinary?: boolean): number;
  getBufferedAmount(): number;
  end(code?: number): void;
  getUserData(): FeedUser;
}
interface UwsApp {
  any(pattern: string, h: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  ws(pattern: string, behavior: Record<string, unknown>): UwsApp;
  listen(host: string, port: number, cb: (token: unknown) => void): UwsApp;
}
interface UwsModule {
  App(): UwsApp;
  us_listen_socket_close(token: unknown): void;
  us_socket_local_port(token: unknown): number;
}

interface FeedUser { closed: boolean; onClose: (() => void) | null }

/** Client frames on the feed are only close and ping; anything bigger closes the socket. */
const WS_MAX_CLIENT_PAYLOAD_BYTES = 4096;
const WS_IDLE_TIMEOUT_S = 120;
const CLOSE_GOING_AWAY = 1001;

export function createUwsServer(app: HttpApp, module: unknown): HttpServer {
  const uws = module as UwsModule;
  const u = uws.App();
  const sockets = new Set<UwsSocket>();
  let token: unknown = null;
  const route = app.websocket;
  if (route !== null) {
    u.ws(route.path, {
      maxPayloadLength: WS_MAX_CLIENT_PAYLOAD_BYTES,
      idleTimeout: WS_IDLE_TIMEOUT_S,
      sendPingsAutomatically: true,
      // The feed drops slow clients itself (api/feed.ts), before uWS would skip messages silently.
      maxBackpressure: 64 * 1024 * 1024,
      upgrade: (res: UwsResponse, req: UwsRequest, context: unknown) => {
        const request = copyRequest(req, Buffer.alloc(0));
        const key = req.getHeader('sec-websocket-key');
        // One subprotocol is chosen, the first offered (as ws does): the dashboard offers its API
        // key as a second one (api/index.ts), which must never be echoed back.
        const protocol = req.getHeader('sec-websocket-protocol').split(',')[0]?.trim() ?? '';
        const extensions = req.getHeader('sec-websocket-extensions');
        const refused = route.admit(request);
        if (refused !== null) { write(res, refused, true); return; }
        res.upgrade({ closed: false, onClose: null } satisfies FeedUser, key, protocol, extensions, context);
      },
      open: (ws: UwsSocket) => {
        sockets.add(ws);
        const user = ws.getUserData();
        const socket: TextSocket = {
          send: (text) => { if (!user.closed) ws.send(text, false); },
          bufferedBytes: () => (user.closed ? 0 : ws.getBufferedAmount()),
          close: () => { if (!user.closed) { user.closed = true; ws.end(CLOSE_GOING_AWAY); } },
        };
        user.onClose = route.open(socket);
      },
      close: (ws: UwsSocket) => {
        sockets.delete(ws);
        const user = ws.getUserData();
        user.closed = true;
        user.onClose?.();
      },
    });
  }
  u.any('/*', (res, req) => handle(app, res, req));
  return {
    kind: 'uws',
    tls: false,
    listen: (port, host) => new Promise((resolve, reject) => {
      u.listen(host, port, (t) => {
        if (!t) { reject(Object.assign(new Error(`listen EADDRINUSE: cannot listen on ${host}:${port}`), { code: 'EADDRINUSE' })); return; }
        token = t;
        resolve({ address: host, family: host.includes(':') ? 'IPv6' : 'IPv4', port: uws.us_socket_local_port(t) });
      });
    }),
    close: async () => {
      if (token !== null) { uws.us_listen_socket_close(token); token = null; }
      for (const ws of sockets) { const user = ws.getUserData(); if (!user.closed) { user.closed = true; ws.end(CLOSE_GOING_AWAY); } }
    },
  };
}

function copyRequest(req: UwsRequest, body: Buffer): HttpRequest {
  const headers: Record<string, string> = {};
  req.forEach((k, v) => { headers[k] = headers[k] === undefined ? v : headers[k] + ', ' + v; });
  return {
    method: req.getCaseSensitiveMethod(), path: req.getUrl(), params: {}, query: new URLSearchParams(req.getQuery()),
    headers, body, clientVerified: null,
  };
}

function handle(app: HttpApp, res: UwsResponse, req: UwsRequest): void {
  const request = copyRequest(req, Buffer.alloc(0));
  const state = { aborted: false, closed: false };
  res.onAborted(() => { state.aborted = true; });
  if (Number(request.headers['content-length'] ?? 0) > OVERSIZE_DRAIN_BYTES_MAX) { state.closed = true; res.close(); return; }
  const chunks: Buffer[] = [];
  let size = 0;
  res.onData((chunk, isLast) => {
    if (state.aborted || state.closed) return;
    size += chunk.byteLength;
    if (size > OVERSIZE_DRAIN_BYTES_MAX) { state.closed = true; res.close(); return; }
    // uWS neuters the chunk when this callback returns: copy what is kept.
    if (size <= app.maxBodyBytes && chunk.byteLength > 0) chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (!isLast) return;
    if (size > app.maxBodyBytes) {
      write(res, problemResponse('PAYLOAD_TOO_LARGE', `the request body exceeds ${app.maxBodyBytes} bytes`), true);
      return;
    }
    request.body = Buffer.concat(chunks, size);
    app.handle(request).then(
      (out) => { if (!state.aborted) write(res, out, false); },
      () => { if (!state.aborted) write(res, problemResponse('INTERNAL_ERROR', 'the request could not be handled'), false); },
    );
  });
}

function write(res: UwsResponse, out: HttpResponse, closeConnection: boolean): void {
  res.cork(() => {
    res.writeStatus(`${out.status} ${STATUS_CODES[out.status] ?? ''}`);
    for (const [k, v] of Object.entries(out.headers)) res.writeHeader(k, v);
    res.end(typeof out.body === 'string' ? out.body : new Uint8Array(out.body.buffer, out.body.byteOffset, out.body.byteLength), closeConnection);
  });
}

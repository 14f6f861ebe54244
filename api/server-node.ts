// node:http (or node:https with client certificates) carrying the HttpApp interface of api/http.ts.
// Its WebSocket side (the live feed) is the `ws` library on the server's upgrade event.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { OVERSIZE_DRAIN_BYTES_MAX, type HttpApp, type HttpRequest, type HttpResponse, type HttpServer, type TextSocket, type TlsFiles } from './http.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { problemResponse } from './problem.js';

/** A client frame (the feed expects none but close and ping) may carry at most this much; ws closes with 1009 past it. */
const MAX_CLIENT_PAYLOAD_BYTES = 4096;
const CLOSE_GOING_AWAY = 1001;

export function createNodeServer(app: HttpApp, tls: TlsFiles | null): HttpServer {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => { void serve(app, tls !== null, req, res); };
  const server: Server = tls === null ? createServer(onRequest) : createTlsServer({
    cert: readFileSync(tls.cert), key: readFileSync(tls.key), ca: readFileSync(tls.ca),
    // The certificate is asked for on every connection and checked per path (api/router.ts):
    // /health and /metrics stay reachable for probes and scrapers without one.
    requestCert: true, rejectUnauthorized: false,
  }, onRequest);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const upgraded = new Set<Duplex>();
  // noServer: ws neither listens nor answers upgrades by itself; upgrade() below admits first.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_PAYLOAD_BYTES, perMessageDeflate: false, clientTracking: false });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    upgrade(app, wss, tls !== null, req, socket, head);
  });
  return {
    kind: 'node',
    tls: tls !== null,
    listen: (port, host) => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(server.address() as AddressInfo); });
    }),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
      for (const s of upgraded) s.destroy();
    }),
  };
}

function toRequest(req: IncomingMessage, secure: boolean, body: Buffer): HttpRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  return {
    method: req.method ?? 'GET',
    path: q < 0 ? url : url.slice(0, q),
    params: {},
    query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
    headers,
    body,
    clientVerified: secure ? (req.socket as TLSSocket).authorized === true : null,
  };
}

async function serve(app: HttpApp, secure: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > OVERSIZE_DRAIN_BYTES_MAX) { req.socket.destroy(); return; }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > OVERSIZE_DRAIN_BYTES_MAX) { req.socket.destroy(); return; }
      if (size <= app.maxBodyBytes) chunks.push(c);
    }
  } catch {
    return; // the client went away mid-body: nobody to answer
  }
  if (size > app.maxBodyBytes) return tooLarge(app, res);
  let out: HttpResponse;
  try {
    out = await app.handle(toRequest(req, secure, Buffer.concat(chunks, size)));
  } catch {
    out = problemResponse('INTERNAL_ERROR', 'the request could not be handled');
  }
  if (res.destroyed) return;
  res.writeHead(out.status, STATUS_CODES[out.status] ?? '', out.headers);
  res.end(out.body);
}

function tooLarge(app: HttpApp, res: ServerResponse): void {
  const out = problemResponse('PAYLOAD_TOO_LARGE', `the request body exceeds ${app.maxBodyBytes} bytes`);
  res.writeHead(out.status, { ...out.headers, connection: 'close' });
  res.end(out.body);
}

/**
 * A WebSocket upgrade: the route and its admission (certificate, client limit) are decided here
 * and refused as problem answers; the handshake itself (version, key, 101) is ws's, which
 * answers a malformed one with 400.
 */
function upgrade(app: HttpApp, wss: WebSocketServer, secure: boolean, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const route = app.websocket;
  const request = toRequest(req, secure, Buffer.alloc(0));
  if (route === null || request.path !== route.path) return refuse(socket, problemResponse('NOT_FOUND', `no WebSocket at ${request.path}`));
  const refused = route.admit(request);
  if (refused !== null) return refuse(socket, refused);
  wss.handleUpgrade(req, socket, head, (ws) => {
    const onClose = route.open(textSocket(ws));
    if (ws.readyState === ws.CLOSED) onClose();
    else ws.once('close', onClose);
  });
}

/** The feed's view of a ws socket: text out, its unsent bytes, and a close that never waits on a stalled reader. */
function textSocket(ws: WebSocket): TextSocket {
  ws.on('error', () => ws.terminate());
  return {
    send(text) { if (ws.readyState === ws.OPEN) ws.send(text); },
    bufferedBytes() { return ws.bufferedAmount; },
    close() {
      // A client that is not reading would keep a graceful close waiting behind its backlog.
      if (ws.bufferedAmount > 0) ws.terminate();
      else ws.close(CLOSE_GOING_AWAY);
    },
  };
}

function refuse(socket: Duplex, r: HttpResponse): void {
  const body = Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
  let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n`;
  for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
  socket.end(Buffer.concat([Buffer.from(head + '\r\n'), body]));
}

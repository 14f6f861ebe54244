// node:http (or node:https with client certificates) carrying the HttpApp interface of api/http.ts.
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { OVERSIZE_DRAIN_BYTES_MAX, type HttpApp, type HttpRequest, type HttpResponse, type HttpServer, type TlsFiles } from './http.js';
import { handshakeProblem, upgradeToWebSocket } from './websocket.js';
import { problemResponse } from './problem.js';

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
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    upgrade(app, tls !== null, req, socket, head);
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

function upgrade(app: HttpApp, secure: boolean, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  const route = app.websocket;
  const request = toRequest(req, secure, Buffer.alloc(0));
  if (route === null || request.path !== route.path) return refuse(socket, problemResponse('NOT_FOUND', `no WebSocket at ${request.path}`));
  const bad = handshakeProblem(req);
  if (bad !== null) return refuse(socket, problemResponse('VALIDATION_ERROR', bad));
  const refused = route.admit(request);
  if (refused !== null) return refuse(socket, refused);
  let onClose: (() => void) | null = null;
  let closedEarly = false;
  const ws = upgradeToWebSocket(req, socket, head, () => { if (onClose) onClose(); else closedEarly = true; });
  onClose = route.open(ws);
  if (closedEarly) onClose();
}

function refuse(socket: Duplex, r: HttpResponse): void {
  const body = Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
  let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\nconnection: close\r\ncontent-length: ${body.length}\r\n`;
  for (const [k, v] of Object.entries(r.headers)) head += `${k}: ${v}\r\n`;
  socket.end(Buffer.concat([Buffer.from(head + '\r\n'), body]));
}

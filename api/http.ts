// The HTTP side of the switch. For now it serves GET /health and GET /metrics on node:http; the
// management API (and the uWebSockets.js implementation of the same interface) comes later.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpDeps {
  health(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface HttpServer {
  listen(port: number, host: string): Promise<AddressInfo>;
  close(): Promise<void>;
}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ title, detail }));
}

export function createHttpServer(deps: HttpDeps): HttpServer {
  const server: Server = createServer((req, res) => { void handle(deps, req, res); });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return {
    listen: (port, host) => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(server.address() as AddressInfo); });
    }),
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

async function handle(deps: HttpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return problem(res, 405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed here`);
    if (path === '/health') {
      const h = await deps.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h.ok ? { status: 'ok', ...h.detail } : { status: 'unavailable', ...h.detail }));
      return;
    }
    if (path === '/metrics') {
      const m = await deps.metrics();
      res.writeHead(200, { 'content-type': m.contentType });
      res.end(m.body);
      return;
    }
    problem(res, 404, 'NOT_FOUND', `no route for GET ${path}`);
  } catch (err) {
    problem(res, 500, 'INTERNAL_ERROR', (err as Error).message.slice(0, 200));
  }
}

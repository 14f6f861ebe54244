// A WebSocket client for the feed tests, independent of the servers' code: the WHATWG WebSocket
// of Node (undici). Node 22+ has it as a global; Node 20 needs --experimental-websocket, so
// there it runs in a child process that relays each message as one line on stdout.
import { spawn, type ChildProcess } from 'node:child_process';

export interface FeedClient {
  /** The next message (text), waiting for it up to timeoutMs. */
  next(timeoutMs?: number): Promise<string>;
  /** Resolves with the close code when the server closes the socket. */
  closed: Promise<number>;
  close(): void;
}

/** `protocols`: WebSocket subprotocols offered, as a browser page offers them (the dashboard's API key). */
export function openFeed(url: string, protocols: string[] = []): Promise<FeedClient> {
  const G = (globalThis as { WebSocket?: new (url: string, protocols?: string[]) => BrowserSocket }).WebSocket;
  return G !== undefined ? inProcess(new G(url, protocols)) : inChild(url, protocols);
}

interface BrowserSocket {
  onopen: (() => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  onclose: ((e: { code: number }) => void) | null;
  onerror: ((e: unknown) => void) | null;
  close(): void;
}

function queue(): { push(m: string): void; next(timeoutMs?: number): Promise<string> } {
  const items: string[] = [];
  const waiters: Array<(m: string) => void> = [];
  return {
    push(m) { const w = waiters.shift(); if (w) w(m); else items.push(m); },
    next(timeoutMs = 10_000) {
      const have = items.shift();
      if (have !== undefined) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no feed message')), timeoutMs);
        waiters.push((m) => { clearTimeout(timer); resolve(m); });
      });
    },
  };
}

function inProcess(ws: BrowserSocket): Promise<FeedClient> {
  const q = queue();
  let closedResolve: (code: number) => void = () => {};
  const closed = new Promise<number>((r) => { closedResolve = r; });
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve({ next: q.next, closed, close: () => ws.close() });
    ws.onmessage = (e) => q.push(String(e.data));
    ws.onclose = (e) => closedResolve(e.code);
    ws.onerror = (e) => reject(new Error(`feed: ${String(e)}`));
  });
}

const CHILD = `
const ws = new WebSocket(process.argv[1], JSON.parse(process.argv[2] || '[]'));
ws.onopen = () => process.stdout.write('O\\n');
ws.onmessage = (e) => process.stdout.write('M' + JSON.stringify(String(e.data)) + '\\n');
ws.onclose = (e) => { process.stdout.write('C' + e.code + '\\n'); process.exit(0); };
ws.onerror = () => process.stdout.write('E\\n');
process.stdin.on('end', () => ws.close());
process.stdin.resume();
`;

function inChild(url: string, protocols: string[]): Promise<FeedClient> {
  const child: ChildProcess = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', '-e', CHILD, url, JSON.stringify(protocols)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const q = queue();
  let closedResolve: (code: number) => void = () => {};
  const closed = new Promise<number>((r) => { closedResolve = r; });
  child.once('exit', () => closedResolve(-1));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'O') resolve({ next: q.next, closed, close: () => { child.stdin!.end(); } });
        else if (line === 'E') reject(new Error('feed: connection failed'));
        else if (line.startsWith('M')) q.push(JSON.parse(line.slice(1)) as string);
        else if (line.startsWith('C')) closedResolve(Number(line.slice(1)));
      }
    });
  });
}

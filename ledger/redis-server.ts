// The managed Redis of SPEC §1: a private redis-server child process owned by the switch (or a test).
// Durability is the ledger's concern, so the ledger decides how Redis is started: AOF on, fsync on
// every write by default. With pipelined clients Redis groups the fsyncs of one event-loop turn,
// so "always" costs one fsync per batch, not per command.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';

export type AppendFsync = 'always' | 'everysec' | 'no' | 'off';

export interface ManagedRedisOptions {
  dir: string;                 // data directory (created if missing)
  port?: number;               // 0 or absent: pick a free port
  host?: string;               // default 127.0.0.1
  appendfsync?: AppendFsync;   // default 'always'; 'off' disables AOF entirely
  startTimeoutMs?: number;     // default 10000
  extraArgs?: string[];        // passed verbatim (for tests: cluster mode etc.)
}

export interface ManagedRedis {
  url: string;
  host: string;
  port: number;
  pid: number;
  dir: string;
  /** SIGTERM, wait for exit (Redis writes its AOF/RDB on the way out). */
  stop(): Promise<void>;
  /** SIGKILL without any chance to flush: for crash tests. */
  kill9(): Promise<void>;
}

export class RedisNotInstalledError extends Error {
  readonly code = 'SW_ERR_REDIS_NOT_INSTALLED';
  constructor() {
    super('redis-server is not installed: run `sudo apt-get install -y redis-server`, or set REDIS_URL to an existing Redis (redis://host:port)');
  }
}

export function redisServerInstalled(): boolean {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

// Children still running when this process exits (an uncaught error, process.exit) are killed
// with it: a managed Redis must never outlive its owner.
const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => { for (const c of children) c.kill('SIGKILL'); });
  }
}

const PIDFILE = 'redis-server.pid';
const URLFILE = 'redis-server.url';

/** URL of the live managed redis-server of a data directory, or null when none runs there. */
export function managedRedisUrl(dir: string): string | null {
  const abs = resolve(dir);
  try {
    const pid = Number(readFileSync(`${abs}/${PIDFILE}`, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1 || !isRedis(pid)) return null;
    return readFileSync(`${abs}/${URLFILE}`, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * Two servers appending to one AOF corrupt it. When the data directory's pidfile names a live
 * redis-server (left by an owner that was killed with SIGKILL), that server is stopped first.
 */
async function takeOverDir(dir: string): Promise<void> {
  const file = `${dir}/${PIDFILE}`;
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 1 && isRedis(pid)) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 200 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 25));
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function isRedis(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('redis-server'); } catch { return isAlive(pid); }
}

export async function startManagedRedis(opts: ManagedRedisOptions): Promise<ManagedRedis> {
  if (!redisServerInstalled()) throw new RedisNotInstalledError();
  const host = opts.host ?? '127.0.0.1';
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  await takeOverDir(dir);
  const fsync = opts.appendfsync ?? 'always';
  // Port 0 makes redis-server refuse TCP; a port probed free just before start can still be taken
  // by another process, so a start that fails on the port is retried on a new one.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port && opts.port > 0 ? opts.port : await freePort(host);
    const args = [
      '--port', String(port), '--bind', host, '--dir', dir,
      '--save', '', '--daemonize', 'no', '--protected-mode', 'yes',
      '--appendonly', fsync === 'off' ? 'no' : 'yes',
      ...(fsync === 'off' ? [] : ['--appendfsync', fsync]),
      '--logfile', '', '--loglevel', 'warning', '--pidfile', `${dir}/${PIDFILE}`,
      ...(opts.extraArgs ?? []),
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { if (out.length < 4096) out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { if (out.length < 4096) out += d.toString(); });
    const up = await waitForPort(host, port, child, opts.startTimeoutMs ?? 10_000);
    if (up) {
      // Lets other tools (npm run ledger:check) find the server of this data directory.
      writeFileSync(`${dir}/${URLFILE}`, `redis://${host}:${port}\n`);
      return handle(child, host, port, dir);
    }
    child.kill('SIGKILL');
    if (opts.port && opts.port > 0) throw new Error(`redis-server did not start on ${host}:${port}: ${out.trim().split('\n').pop() ?? ''}`);
  }
  throw new Error('redis-server did not start after 5 attempts');
}

function handle(child: ChildProcess, host: string, port: number, dir: string): ManagedRedis {
  const exited = new Promise<void>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res();
    else child.once('exit', () => res());
  });
  return {
    url: `redis://${host}:${port}`, host, port, pid: child.pid ?? -1, dir,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function waitForPort(host: string, port: number, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    if (await pingOnce(host, port)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

function pingOnce(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const sock = createConnection({ host, port });
    let buf = '';
    const done = (v: boolean) => { sock.destroy(); res(v); };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    // A loading server answers -LOADING; only +PONG means ready for scripts.
    sock.on('data', (d) => { buf += d.toString(); if (buf.includes('\r\n')) done(buf.startsWith('+PONG')); });
  });
}

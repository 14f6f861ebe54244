// The managed Redis of SPEC §1: a private redis-server child process owned by the switch (or a test).
// Durability is the ledger's concern, so the ledger decides how Redis is started: AOF on, fsync on
// every write by default. With pipelined clients Redis groups the fsyncs of one event-loop turn,
// so "always" costs one fsync per batch, not per command.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { resolve } from 'node:path';
import { supervise } from './supervisor.js';
import { AppError } from '../errors/index.js';

export type AppendFsync = 'always' | 'everysec' | 'no' | 'off';

export interface ManagedRedisOptions {
  dir: string;                 // data directory (created if missing)
  port?: number;               // 0 or absent: pick a free port
  host?: string;               // default 127.0.0.1
  appendfsync?: AppendFsync;   // default 'always'; 'off' disables AOF entirely
  startTimeoutMs?: number;     // default 10000
  extraArgs?: string[];        // passed verbatim (for tests: cluster mode etc.)
  /**
   * Put redis-server in a process group of its own, so that a Ctrl-C typed at the terminal reaches
   * only its owner, which drains in-flight requests against a Redis still up and then stops it.
   * Default false (tests and tools whose Redis should share their fate).
   */
  detached?: boolean;
}

export interface ManagedRedis {
  url: string;
  /** The server's Unix socket (cheaper than TCP loopback for a client on this host), or null when the path would be too long. */
  socketPath: string | null;
  host: string;
  port: number;
  pid: number;
  dir: string;
  /** Settles when the redis-server process has exited, for whatever reason. */
  exited: Promise<RedisExit>;
  /** SIGTERM, wait for exit (Redis writes its AOF/RDB on the way out). */
  stop(): Promise<void>;
  /** SIGKILL without any chance to flush: for crash tests. */
  kill9(): Promise<void>;
}

/** How a redis-server process ended: its exit code, or the signal that ended it. */
export interface RedisExit { code: number | null; signal: NodeJS.Signals | null }

/**
 * The data directory is claimed by another live process (a switch, or `npm run ledger:check`):
 * its Redis is left alone, since two servers appending to one AOF corrupt it.
 */
function dirInUse(ownerPid: number, dir: string): AppError {
  return new AppError('SW_ERR_REDIS_DIR_IN_USE', `another switch (pid ${ownerPid}) is running with data dir ${dir}: stop it first; a second switch beside it needs its own REDIS_DIR and its own ports (ISO_PORT, HTTP_PORT)`);
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
// with it, and the data directories it claimed are released: a managed Redis must never outlive
// its owner, and a later start must not mistake this process's pid, reused, for a live owner.
const children = new Map<ChildProcess, NodeJS.Signals>();
/** Owner files this process wrote (see claimDataDir). */
const claimedFiles = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [c, signal] of children) c.kill(signal);
    for (const file of claimedFiles) releaseDataDir(file);
  });
}
/**
 * Kills `child` with `signal` (default SIGKILL) should this process exit while it runs: a server
 * this process started never outlives it (history/pg-server.ts passes SIGQUIT, PostgreSQL's
 * immediate shutdown, so that its backends go with it).
 */
export function track(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  children.set(child, signal);
  child.once('exit', () => children.delete(child));
  installExitHook();
}

const PIDFILE = 'redis-server.pid';
const URLFILE = 'redis-server.url';
/** Who owns the data directory: "<pid> <start time in clock ticks since boot>" of the owning process. */
const OWNERFILE = 'redis-server.owner';

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

interface Owner { pid: number; startTicks: string | null }

function readOwner(file: string): Owner | null {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch { return null; }
  const [pidText, startTicks] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 1) return null;
  return { pid, startTicks: startTicks || null };
}

/** Field 22 of /proc/<pid>/stat: when the process started. With the pid it names one process for good. */
export function startTicksOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function ownerAlive(o: Owner): boolean {
  if (!isAlive(o.pid)) return false;
  // A live pid that started at another time is a new process that was given a dead owner's pid.
  const now = startTicksOf(o.pid);
  return o.startTicks === null || now === null || now === o.startTicks;
}

/**
 * Claims a data directory for this process through its owner file `file` ("<pid> <start ticks>"),
 * or throws `inUse(pid)` naming the live owner. The owner file is created exclusively, so of two
 * starts racing for a free directory one wins; a file left by an owner that has exited is stale and
 * replaced. The claim is released by releaseDataDir, or when this process exits.
 */
export function claimDataDir(file: string, inUse: (ownerPid: number) => Error): void {
  const me = `${process.pid} ${startTicksOf(process.pid) ?? ''}`.trim() + '\n';
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, me, { flag: 'wx' });
      claimedFiles.add(file);
      installExitHook();
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = readOwner(file);
    if (held !== null && held.pid === process.pid) { claimedFiles.add(file); return; }
    if (held !== null && ownerAlive(held)) throw inUse(held.pid);
    rmSync(file, { force: true });
  }
  throw inUse(readOwner(file)?.pid ?? 0);
}

/** Gives up this process's claim on a data directory (its owner file), when it holds it. */
export function releaseDataDir(file: string): void {
  claimedFiles.delete(file);
  if (readOwner(file)?.pid === process.pid) rmSync(file, { force: true });
}

function claimDir(dir: string): void {
  claimDataDir(`${dir}/${OWNERFILE}`, (pid) => dirInUse(pid, dir));
}

function releaseDir(dir: string): void {
  releaseDataDir(`${dir}/${OWNERFILE}`);
}

/**
 * Two servers appending to one AOF corrupt it. Once this process owns the directory, a live
 * redis-server its pidfile names was left by an owner that is gone (killed with SIGKILL), or
 * started earlier by this very process: it is stopped first.
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

export function isAlive(pid: number): boolean {
  // EPERM: the process exists but belongs to another user.
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

function isRedis(pid: number): boolean {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'latin1').startsWith('redis-server'); } catch { return isAlive(pid); }
}

/**
 * Starts a private redis-server on `opts.dir` (AOF per `opts.appendfsync`) and resolves once it
 * answers PING. The directory is claimed for this process first (see claimDir): a Redis whose
 * owner is alive is never stopped. Errors: AppError SW_ERR_REDIS_NOT_INSTALLED (no redis-server on PATH),
 * SW_ERR_REDIS_DIR_IN_USE (another live process owns the directory), Error (did not start).
 */
export async function startManagedRedis(opts: ManagedRedisOptions): Promise<ManagedRedis> {
  if (!redisServerInstalled()) throw new AppError('SW_ERR_REDIS_NOT_INSTALLED');
  const host = opts.host ?? '127.0.0.1';
  const dir = resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  claimDir(dir);
  try {
    await takeOverDir(dir);
    return await spawnRedis(opts, host, dir);
  } catch (err) {
    releaseDir(dir);
    throw err;
  }
}

async function spawnRedis(opts: ManagedRedisOptions, host: string, dir: string): Promise<ManagedRedis> {
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
      ...(socketPathIn(dir) === null ? [] : ['--unixsocket', socketPathIn(dir) as string, '--unixsocketperm', '700']),
      ...(opts.extraArgs ?? []),
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
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

/** Linux limits a Unix socket path to 107 bytes; a longer one leaves the server on TCP only. */
const SOCKET_PATH_MAX_BYTES = 107;

/** Where the managed server's Unix socket lives: in its data directory, or null when that path is too long. */
export function socketPathIn(dir: string): string | null {
  const p = `${dir}/redis.sock`;
  return Buffer.byteLength(p) <= SOCKET_PATH_MAX_BYTES ? p : null;
}

function handle(child: ChildProcess, host: string, port: number, dir: string): ManagedRedis {
  const exited = new Promise<RedisExit>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => res({ code, signal }));
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    releaseDir(dir);
  };
  return {
    url: `redis://${host}:${port}`, socketPath: socketPathIn(dir), host, port, pid: child.pid ?? -1, dir, exited,
    stop: () => end('SIGTERM'),
    kill9: () => end('SIGKILL'),
  };
}

export type RedisLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface SupervisedRedisOptions extends ManagedRedisOptions {
  log: RedisLog;
  /**
   * Called once when the managed Redis died and cannot be brought back: its owner must stop
   * serving (the switch stops and exits non-zero), since every decision needs the ledger.
   */
  onGiveUp: (err: Error) => void;
  /** Restart attempts allowed within any 60 s; default 5. Past it the supervisor gives up. */
  maxRestartsPerMinute?: number;
}

/** A managed Redis that is restarted on the same port and data dir when it dies unexpectedly. */
export interface SupervisedRedis {
  url: string;
  /** The server's Unix socket, the same across restarts, or null (see ManagedRedis.socketPath). */
  socketPath: string | null;
  host: string;
  port: number;
  dir: string;
  /** Pid of the current redis-server process. */
  readonly pid: number;
  /** False from an unexpected exit until the restarted server answers PING. */
  readonly up: boolean;
  /** Stops supervising, then stops the server (SIGTERM, waits for its exit). */
  stop(): Promise<void>;
}

const RESTART_WINDOW_MS = 60_000;
const RESTART_BACKOFF_MAX_MS = 4000;

/**
 * Starts a managed Redis (see startManagedRedis, same errors) and watches it. When the process
 * exits without being asked to, the supervisor logs one line and starts a new redis-server on the
 * same port and directory: with the AOF on, the new server loads every acknowledged write. Without
 * an AOF (appendfsync 'off') a restart would serve an empty ledger, so it gives up instead.
 */
export async function startSupervisedRedis(o: SupervisedRedisOptions): Promise<SupervisedRedis> {
  const first = await startManagedRedis(o);
  const { host, port, dir, url } = first;
  const s = supervise(first, {
    name: 'managed redis-server', start: () => startManagedRedis({ ...o, port }), log: o.log,
    exitedLine: 'exited unexpectedly: restarting it on the same port and data dir', fields: { url, dir },
    backoffMaxMs: RESTART_BACKOFF_MAX_MS, maxRestarts: o.maxRestartsPerMinute ?? 5, restartWindowMs: RESTART_WINDOW_MS, onGiveUp: o.onGiveUp,
    refuseRestart: (exit, pid) => ((o.appendfsync ?? 'always') !== 'off' ? null
      : new Error(`managed redis-server (pid ${pid}) exited unexpectedly (${exit.signal ?? `exit code ${exit.code}`}) and REDIS_APPENDFSYNC=off kept no AOF: its data is gone, not restarting`)),
  });
  return {
    url, socketPath: first.socketPath, host, port, dir,
    get pid() { return s.current.pid; },
    get up() { return s.up; },
    stop: () => s.stop(),
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

// The managed PostgreSQL: the history database's default, a private `postgres` child process owned
// by the switch, as ledger/redis-server.ts runs Redis. Debian's `postgresql` package installs the
// server outside PATH, one directory per major version (/usr/lib/postgresql/<version>/bin).
//
// Layout of its directory (PG_DIR, default ./var/pg):
//   data/              the cluster (initdb on first start), mode 700, owned by the user the server
//                      runs as; its Unix socket (.s.PGSQL.<port>) lives here too
//   postgres.owner     "<pid> <start ticks>" of the switch that owns the directory
//   postgres.secret    the password of the `antaca` role for TCP connections (mode 600)
//   postgres.url       how tools (npm run ledger:check) reach the running server (mode 600)
//
// PostgreSQL refuses to run as root: started by root, the server (and initdb) run as the
// `postgres` system user that the Debian package creates, and the data directory is given to it.
// That user must be able to walk the path to the cluster; when a directory above PG_DIR does not
// let it through (a checkout under /root, a private temporary directory), the cluster is kept in
// /var/lib/antaca/pg/<id>/data instead and `data` in PG_DIR is a symbolic link to it (the link
// and the files beside it stay where they are; a kept cluster whose PG_DIR is gone is removed by
// the next such start).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, chmodSync, chownSync, constants, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import pg from 'pg';
import { AppError } from '../errors/index.js';
import { claimDataDir, freePort, isAlive, releaseDataDir, track } from '../ledger/redis-server.js';
import { supervise } from '../ledger/supervisor.js';

/** Where Debian's postgresql packages put each major version's server programs. */
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';
/** The role the switch uses, created by initdb as the cluster's superuser. */
export const PG_ROLE = 'antaca';
/** The database the history lives in on a managed server. */
export const PG_DATABASE = 'antaca';

const OWNERFILE = 'postgres.owner';
const URLFILE = 'postgres.url';
const SECRETFILE = 'postgres.secret';
/** Where clusters are kept whose PG_DIR the postgres user cannot reach (see the header). */
const RELOCATED_ROOT = '/var/lib/antaca/pg';
/** Linux limits a Unix socket path to 107 bytes. */
const SOCKET_PATH_MAX_BYTES = 107;

export interface ManagedPostgresOptions {
  /** The directory of the server (PG_DIR): the cluster goes in `data/` below it. Created if missing. */
  dir: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** TCP address, default 127.0.0.1. */
  host?: string;
  /** How long initdb plus the start may take; default 60 s. */
  startTimeoutMs?: number;
  /** A process group of its own (a Ctrl-C reaches only the switch, which stops it after draining). */
  detached?: boolean;
  /** fsync WAL and data (default true). Tests turn it off: their clusters are thrown away. */
  fsync?: boolean;
  /** Where the lines of a first start (initdb) go. */
  log?: PgLog;
}

export type PgLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** How node-postgres reaches a server: Unix socket directory or TCP host. */
export interface PgConnection { host: string; port: number; user: string; password?: string; database: string }

export interface ManagedPostgres {
  /** How the switch connects: the Unix socket in the data directory when its path fits, else TCP with the password. */
  connection: PgConnection;
  /** A TCP URL with the password, for tools on this host. */
  url: string;
  host: string;
  port: number;
  pid: number;
  dir: string;
  /** Settles when the server process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Fast shutdown (SIGINT: clients disconnected, a checkpoint written), then waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL of the postmaster, for crash tests. */
  kill9(): Promise<void>;
}

/**
 * The directory holding `postgres` and `initdb`: the newest version under /usr/lib/postgresql
 * (Debian), else one on PATH; null when neither has both.
 */
export function postgresBinDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const versions = (() => { try { return readdirSync(DEBIAN_PG_ROOT); } catch { return []; } })()
    .filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(DEBIAN_PG_ROOT, v, 'bin');
    if (executable(join(bin, 'postgres')) && executable(join(bin, 'initdb'))) return bin;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && executable(join(dir, 'postgres')) && executable(join(dir, 'initdb'))) return dir;
  }
  return null;
}

function executable(p: string): boolean {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
}

/** The user the server runs as: this process's own, or the `postgres` system user when this is root. */
interface RunAs { uid: number; gid: number; name: string }

function runAs(): RunAs | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  const f = line?.split(':');
  if (f === undefined || f.length < 4) {
    throw new AppError('SW_ERR_PG_SETUP', 'PostgreSQL refuses to run as root and there is no `postgres` system user to run it as: install Debian\'s postgresql package, or set DATABASE_URL to an existing PostgreSQL');
  }
  return { uid: Number(f[2]), gid: Number(f[3]), name: 'postgres' };
}

/** The first directory above `path` that `user` may not pass through, or null when it reaches it. */
function blockedAbove(path: string, user: RunAs): string | null {
  for (let d = dirname(path); ; d = dirname(d)) {
    const st = statSync(d);
    const through = st.uid === user.uid ? (st.mode & 0o100) !== 0 : st.gid === user.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!through) return d;
    if (d === dirname(d)) return null;
  }
}

/**
 * The cluster directory the server is started on: `<dir>/data`, or, when the server's user cannot
 * reach it, the kept cluster `data` links to (made on first use). Throws SW_ERR_PG_SETUP when a
 * cluster is already in `<dir>/data` and that user cannot reach it.
 */
function clusterDir(dir: string, user: RunAs | null, log: PgLog | undefined): string {
  const link = join(dir, 'data');
  const isLink = (() => { try { return lstatSync(link).isSymbolicLink(); } catch { return false; } })();
  if (isLink) return resolve(dir, readlinkSync(link));
  if (user === null) return link;
  const blocked = blockedAbove(link, user);
  if (blocked === null) return link;
  if (existsSync(link)) {
    throw new AppError('SW_ERR_PG_SETUP', `the managed PostgreSQL runs as the ${user.name} system user, which cannot reach ${link} (${blocked} does not let it through): let it through, or move the cluster elsewhere and set PG_DIR`);
  }
  removeAbandoned();
  const home = join(RELOCATED_ROOT, createHash('sha256').update(dir).digest('hex').slice(0, 16));
  mkdirSync(home, { recursive: true, mode: 0o711 });
  for (let d = home; d !== dirname(RELOCATED_ROOT); d = dirname(d)) chmodSync(d, statSync(d).mode | 0o011);
  if (blockedAbove(join(home, 'data'), user) !== null) {
    throw new AppError('SW_ERR_PG_SETUP', `the managed PostgreSQL runs as the ${user.name} system user, which cannot reach ${dir} (${blocked} does not let it through) nor ${home}: set PG_DIR to a directory it can reach, or DATABASE_URL`);
  }
  writeFileSync(join(home, 'origin'), dir + '\n');
  symlinkSync(join(home, 'data'), link);
  log?.('info', `the postgres user cannot reach ${dir} (${blocked} does not let it through): its cluster is kept in ${home}/data, linked from ${link}`);
  return join(home, 'data');
}

/** Kept clusters whose PG_DIR is gone (or links elsewhere), and that no server runs on, are removed. */
function removeAbandoned(): void {
  let homes: string[] = [];
  try { homes = readdirSync(RELOCATED_ROOT); } catch { return; }
  for (const h of homes) {
    const home = join(RELOCATED_ROOT, h);
    try {
      const origin = readFileSync(join(home, 'origin'), 'utf8').trim();
      let linked = '';
      try { linked = resolve(origin, readlinkSync(join(origin, 'data'))); } catch { /* gone */ }
      if (linked === join(home, 'data')) continue;
      const pid = Number(readFileSync(join(home, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (Number.isInteger(pid) && pid > 1 && isPostgres(pid)) continue;
    } catch { /* no pid file: nothing runs there */ }
    rmSync(home, { recursive: true, force: true });
  }
}

/** The Unix socket directory (the data directory) when the socket's path fits, else null: TCP only. */
function socketDirFor(dataDir: string, port: number): string | null {
  return Buffer.byteLength(`${dataDir}/.s.PGSQL.${port}`) <= SOCKET_PATH_MAX_BYTES ? dataDir : null;
}

function chownTo(p: string, user: RunAs | null): void {
  if (user !== null) chownSync(p, user.uid, user.gid);
}

/** Runs a server program as the server's user; throws SW_ERR_PG_SETUP with its last line when it fails. */
function runTool(bin: string, args: string[], user: RunAs | null, what: string): void {
  const r = spawnSync(bin, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...(user === null ? {} : { uid: user.uid, gid: user.gid }), env: { ...process.env, LC_ALL: 'C' }, cwd: '/' });
  if (r.error !== undefined || r.status !== 0) {
    const lines = (s: string | undefined) => (s ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const last = lines(r.stderr).pop() ?? lines(r.stdout).pop() ?? String(r.error?.message ?? `exit ${r.status}`);
    throw new AppError('SW_ERR_PG_SETUP', `${what} failed: ${last}`);
  }
}

/**
 * The cluster of `dataDir`, made by initdb on first use: the `antaca` superuser, trusted on the
 * Unix socket (which only the server's user can reach: the directory is mode 700), a password
 * (scram-sha-256) on TCP. Returns that password.
 */
function ensureCluster(bin: string, dir: string, dataDir: string, user: RunAs | null, fsync: boolean, log: PgLog | undefined): string {
  const secretFile = join(dir, SECRETFILE);
  if (existsSync(join(dataDir, 'PG_VERSION'))) return readFileSync(secretFile, 'utf8').trim();
  log?.('info', 'initialising the managed PostgreSQL cluster (first start)', { dir: dataDir });
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { mode: 0o700 });
  chownTo(dataDir, user);
  const password = randomBytes(24).toString('base64url');
  writeFileSync(secretFile, password + '\n', { mode: 0o600 });
  // initdb reads the password from a file the server's user can read (beside the cluster, which
  // it can reach); it is removed at once.
  const pwfile = join(dirname(dataDir), 'initdb.pw');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  chownTo(pwfile, user);
  try {
    // initdb's own flush fsyncs its thousand files one by one (seconds); one syncfs of the file
    // system after it (PostgreSQL 17's --sync-method=syncfs) leaves the same on disk, sooner.
    runTool(join(bin, 'initdb'), [
      '-D', dataDir, '-U', PG_ROLE, '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C', '--no-sync',
    ], user, 'initdb');
    if (fsync) runTool('sync', ['-f', dataDir], null, 'syncing the new cluster to disk');
  } finally {
    rmSync(pwfile, { force: true });
  }
  return password;
}

/**
 * A live postgres whose postmaster.pid is in the data directory was left by an owner that is gone
 * (the switch killed with SIGKILL): it is shut down (fast, then immediate, then SIGKILL) before a
 * new one starts. PostgreSQL itself refuses a second postmaster on a directory, and so does this.
 */
async function takeOver(dataDir: string): Promise<void> {
  let pid: number;
  try { pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]); } catch { return; }
  if (!Number.isInteger(pid) || pid <= 1 || !isPostgres(pid)) return;
  for (const [signal, waitMs] of [['SIGINT', 30_000], ['SIGQUIT', 5_000], ['SIGKILL', 5_000]] as const) {
    try { process.kill(pid, signal); } catch { return; }
    for (let waited = 0; waited < waitMs && isAlive(pid); waited += 50) await new Promise((r) => setTimeout(r, 50));
    if (!isAlive(pid)) return;
  }
}

function isPostgres(pid: number): boolean {
  try { return /(^|\/)postgres(\0|$)/.test(readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[0] + '\0'); } catch { return false; }
}

/**
 * PG_DIR's default: `var/pg` beside a managed Redis; with REDIS_URL or REDIS_CLUSTER,
 * `var/pg-<8 hex digits of that address>`, so that switches of different ledgers started in one
 * working directory keep their histories apart (a history database belongs to one ledger).
 */
export function defaultPgDir(redisUrl: string | null, redisCluster: string | null): string {
  const at = redisCluster || redisUrl;
  return at ? `var/pg-${createHash('sha256').update(at).digest('hex').slice(0, 8)}` : 'var/pg';
}

/** URL of the running managed PostgreSQL of a directory (PG_DIR), or null when none runs there. */
export function managedPostgresUrl(dir: string): string | null {
  const abs = resolve(dir);
  try {
    const pid = Number(readFileSync(join(abs, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 1 || !isPostgres(pid)) return null;
    return readFileSync(join(abs, URLFILE), 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/** True when `dir` holds a cluster (a managed PostgreSQL was started there once). */
export function hasManagedCluster(dir: string): boolean {
  return existsSync(join(resolve(dir), 'data', 'PG_VERSION'));
}

/**
 * Starts a private PostgreSQL on `opts.dir` (initdb on first use) and resolves once it accepts
 * connections and the `antaca` database exists. The directory is claimed for this process first:
 * a server whose owner is alive is never touched. Errors: AppError SW_ERR_PG_NOT_INSTALLED,
 * SW_ERR_PG_DIR_IN_USE, SW_ERR_PG_SETUP (no postgres user as root, unreachable directory,
 * initdb failed); Error when the server does not come up.
 */
export async function startManagedPostgres(opts: ManagedPostgresOptions): Promise<ManagedPostgres> {
  const bin = postgresBinDir();
  if (bin === null) throw new AppError('SW_ERR_PG_NOT_INSTALLED');
  const dir = resolve(opts.dir);
  const user = runAs();
  mkdirSync(dir, { recursive: true });
  const ownerFile = join(dir, OWNERFILE);
  claimDataDir(ownerFile, (pid) => new AppError('SW_ERR_PG_DIR_IN_USE', `another switch (pid ${pid}) is running with PostgreSQL data dir ${dir}: stop it first, or set PG_DIR to another directory`));
  try {
    if (user !== null) chmodSync(dir, statSync(dir).mode | 0o011);
    const dataDir = clusterDir(dir, user, opts.log);
    await takeOver(dataDir);
    const password = ensureCluster(bin, dir, dataDir, user, opts.fsync ?? true, opts.log);
    return await spawnPostgres(bin, opts, dir, dataDir, user, password);
  } catch (err) {
    releaseDataDir(ownerFile);
    throw err;
  }
}

async function spawnPostgres(bin: string, opts: ManagedPostgresOptions, dir: string, dataDir: string, user: RunAs | null, password: string): Promise<ManagedPostgres> {
  const host = opts.host ?? '127.0.0.1';
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port && opts.port > 0 ? opts.port : await freePort(host);
    const socketDir = socketDirFor(dataDir, port);
    const args = [
      '-D', dataDir, '-p', String(port), '-c', `listen_addresses=${host}`,
      '-c', `unix_socket_directories=${socketDir ?? ''}`, '-c', 'unix_socket_permissions=0700',
      '-c', `fsync=${opts.fsync === false ? 'off' : 'on'}`, ...(opts.fsync === false ? ['-c', 'full_page_writes=off'] : []),
      // Its own log in data/log, one file per weekday, overwritten a week later: bounded.
      '-c', 'logging_collector=on', '-c', 'log_directory=log', '-c', 'log_filename=postgresql-%a.log',
      '-c', 'log_truncate_on_rotation=on', '-c', 'log_rotation_age=1d', '-c', 'log_rotation_size=0',
    ];
    const child = spawn(join(bin, 'postgres'), args, {
      stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false, cwd: '/',
      env: { ...process.env, LC_ALL: 'C' }, ...(user === null ? {} : { uid: user.uid, gid: user.gid }),
    });
    track(child, 'SIGQUIT');
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { if (out.length < 4096) out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { if (out.length < 4096) out += d.toString(); });
    const connection: PgConnection = socketDir === null
      ? { host, port, user: PG_ROLE, password, database: 'postgres' }
      : { host: socketDir, port, user: PG_ROLE, database: 'postgres' };
    if (await waitReady(connection, child, deadline)) {
      await ensureDatabase(connection);
      const url = `postgresql://${PG_ROLE}:${encodeURIComponent(password)}@${host}:${port}/${PG_DATABASE}`;
      writeFileSync(join(dir, URLFILE), url + '\n', { mode: 0o600 });
      return handle(child, { ...connection, database: PG_DATABASE }, url, host, port, dir, dataDir);
    }
    child.kill('SIGQUIT');
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));
    const why = out.trim().split('\n').pop() ?? '';
    if ((opts.port && opts.port > 0) || Date.now() > deadline || !/could not (bind|create)|address already in use/i.test(why)) {
      throw new Error(`postgres did not start on ${host}:${port}: ${why}`);
    }
  }
  throw new Error('postgres did not start after 5 attempts');
}

/** Polls until the server accepts a query, the process exits, or the deadline passes. */
async function waitReady(c: PgConnection, child: ChildProcess, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const client = new pg.Client({ ...c, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await client.end().catch(() => {});
    }
  }
  return false;
}

/** The history's database on a managed server, created on its first start. */
async function ensureDatabase(c: PgConnection): Promise<void> {
  const client = new pg.Client(c);
  client.on('error', () => {});
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [PG_DATABASE]);
    if (r.rowCount === 0) await client.query(`CREATE DATABASE ${PG_DATABASE}`);
  } finally {
    await client.end().catch(() => {});
  }
}

function handle(child: ChildProcess, connection: PgConnection, url: string, host: string, port: number, dir: string, dataDir: string): ManagedPostgres {
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
    if (child.exitCode !== null || child.signalCode !== null) res({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => res({ code, signal }));
  });
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    releaseDataDir(join(dir, OWNERFILE));
  };
  void dataDir;
  return {
    connection, url, host, port, pid: child.pid ?? -1, dir, exited,
    stop: () => end('SIGINT'),
    kill9: () => end('SIGKILL'),
  };
}

export interface SupervisedPostgresOptions extends ManagedPostgresOptions {
  log: PgLog;
}

/** A managed PostgreSQL restarted on the same port and directory when it dies unexpectedly. */
export interface SupervisedPostgres {
  connection: PgConnection;
  url: string;
  dir: string;
  readonly pid: number;
  /** False from an unexpected exit until the restarted server accepts connections. */
  readonly up: boolean;
  /** Stops supervising, then stops the server (fast shutdown, waits for its exit). */
  stop(): Promise<void>;
}

const RESTART_BACKOFF_MAX_MS = 30_000;

/**
 * Starts a managed PostgreSQL (see startManagedPostgres, same errors) and watches it. When it exits
 * without being asked to, the supervisor says so and starts a new one on the same port and
 * directory (crash recovery replays its WAL), retrying with backoff for as long as it takes:
 * authorization does not need the history database, so the switch serves on meanwhile, its
 * history backlog waiting in Redis.
 */
export async function startSupervisedPostgres(o: SupervisedPostgresOptions): Promise<SupervisedPostgres> {
  const first = await startManagedPostgres(o);
  const { port, dir } = first;
  const s = supervise(first, {
    name: 'managed postgres', start: () => startManagedPostgres({ ...o, port }), log: o.log,
    exitedLine: 'exited unexpectedly: restarting it on the same port and data dir (authorization goes on; history waits in Redis)', fields: { dir },
    backoffMaxMs: RESTART_BACKOFF_MAX_MS,
  });
  return {
    connection: first.connection, url: first.url, dir,
    get pid() { return s.current.pid; },
    get up() { return s.up; },
    stop: () => s.stop(),
  };
}

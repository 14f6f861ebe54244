// The switch's life as an operator runs it: `npm start` stopped with a signal leaves no switch or
// redis-server behind; a second start on a data dir owned by a live switch refuses with one line
// and leaves the first serving; a start after the owner was killed takes the orphaned Redis over;
// a managed redis-server killed under a running switch is restarted (or, without an AOF, the
// switch exits 1) and never leaves it answering 96. The managed PostgreSQL (history) lives the same
// life: stopped with the switch, an orphan taken over, restarted when it dies while authorization
// goes on. Tests about Redis alone give the switch a database on the file's shared PostgreSQL
// (DATABASE_URL), since a managed one's first start runs initdb (seconds).
//
// Each run gets its own temporary working directory (so var/redis and var/secret.key are its own)
// and random ports. `npm start` is run for real with this repository's own start script; in the
// temporary directory dist/app/main.js is a shim that imports app/main.ts through tsx.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { sharedTestDatabase } from './helpers/pg.js';

const ROOT = new URL('..', import.meta.url).pathname;
const MAIN = new URL('../app/main.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');
const START_SCRIPT = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';

interface Run {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

function watch(child: ChildProcess): Run {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout?.on('data', () => {});
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => stderr };
}

/** A working directory of its own: what `npm ci` would leave, minus the build (a tsx shim stands in). */
function workdir(t: Tap): string {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-life-'));
  mkdirSync(join(cwd, 'dist/app'), { recursive: true });
  writeFileSync(join(cwd, 'dist/app/main.js'), `await import(${JSON.stringify(pathToFileURL(MAIN).href)});\n`);
  writeFileSync(join(cwd, 'package.json'), JSON.stringify({ name: 'antaca-life', private: true, type: 'module', scripts: { start: START_SCRIPT } }));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  return cwd;
}

type Tap = { teardown(fn: () => unknown): void };

function env(extra: Record<string, string> = {}): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('npm_') && !k.startsWith('TAP')) e[k] = v;
  return { ...e, NODE_OPTIONS: '', ISO_PORT: '0', HTTP_PORT: '0', REDIS_URL: '', WORKERS: '1', SWITCH_SECRET: 'ab'.repeat(32), ...extra };
}

/** `npm start` in cwd. */
function npmStart(t: Tap, cwd: string, extra: Record<string, string> = {}): Run {
  const r = watch(spawn('npm', ['start', '--silent'], { cwd, env: env({ ...extra, NODE_OPTIONS: `--import=${TSX}` }), stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => { r.child.kill('SIGKILL'); });
  return r;
}

/** The switch alone, as `node dist/app/main.js` would run it. */
function nodeStart(t: Tap, cwd: string, extra: Record<string, string> = {}): Run {
  const r = watch(spawn(process.execPath, [`--import=${TSX}`, MAIN], { cwd, env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] }));
  t.teardown(() => { r.child.kill('SIGKILL'); });
  return r;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/** Kills what a run left behind, so a failing test does not leak processes into the next one. */
function reap(t: Tap, pid: number): void {
  t.teardown(() => { if (pid > 1 && alive(pid)) process.kill(pid, 'SIGKILL'); });
}

async function until<T>(what: string, probe: () => T | null | Promise<T | null>, tries = 600, everyMs = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Waits for the "switch listening" line and returns the HTTP and ISO ports it names. */
async function listening(r: Run): Promise<{ http: number; iso: number }> {
  return until('the switch to listen', () => {
    const line = r.stderr().split('\n').find((l) => l.includes('"switch listening"'));
    if (line === undefined) {
      if (r.child.exitCode !== null) throw new Error(`exited ${r.child.exitCode}: ${r.stderr()}`);
      return null;
    }
    const f = JSON.parse(line) as { iso: string; http: string };
    return { iso: Number(f.iso.split(':').pop()), http: Number(f.http.split(':').pop()) };
  });
}

async function health(port: number): Promise<number> {
  try { return (await fetch(`http://127.0.0.1:${port}/health`)).status; } catch { return 0; }
}

/** The pids the managed data dirs name: the owner (the switch), the redis-server and the postgres postmaster (0: none). */
function pidsOf(cwd: string): { owner: number; redis: number; postgres: number } {
  const read = (f: string) => existsSync(join(cwd, f)) ? Number(readFileSync(join(cwd, f), 'utf8').trim().split(/\s+/)[0]) : 0;
  return { owner: read('var/redis/redis-server.owner'), redis: read('var/redis/redis-server.pid'), postgres: read('var/pg/data/postmaster.pid') };
}

const unknownCard = (stan: string): IsoJson => ({
  0: '0100', 2: '5557700000000018', 3: '000000', 4: '000000000100', 7: '1125101500', 11: stan,
  14: '3012', 32: '123456', 41: 'TERM0001', 49: '978',
} as IsoJson);

t.test('the start script execs node, so the signal npm forwards reaches the switch', async (t) => {
  t.match(START_SCRIPT, /^exec node /);
});

t.test('SIGTERM to the npm start process stops the switch, its redis-server and its postgres; npm exits 0', async (t) => {
  const cwd = workdir(t);
  const npm = npmStart(t, cwd);
  const ports = await listening(npm);
  const { owner, redis, postgres } = pidsOf(cwd);
  reap(t, owner); reap(t, redis); reap(t, postgres);
  t.ok(owner > 1 && owner !== npm.child.pid && alive(owner), 'the switch runs as its own process');
  t.ok(redis > 1 && alive(redis), 'its managed redis-server runs');
  t.ok(postgres > 1 && alive(postgres), 'its managed postgres runs (var/pg)');
  t.equal(await health(ports.http), 200);

  npm.child.kill('SIGTERM');
  setTimeout(() => npm.child.kill('SIGTERM'), 5).unref(); // a second signal is harmless
  t.equal(await npm.exited, 0, 'npm exits 0');
  await until('the switch to exit', () => (alive(owner) ? null : true), 100);
  t.notOk(alive(owner), 'no switch left behind');
  t.notOk(alive(redis), 'no redis-server left behind');
  await until('postgres to exit', () => (alive(postgres) ? null : true), 100);
  t.notOk(alive(postgres), 'no postgres left behind');
  t.notOk(existsSync(join(cwd, 'var/redis/redis-server.owner')), 'the data dir is released');
  t.notOk(existsSync(join(cwd, 'var/pg/postgres.owner')), 'the postgres dir is released');
  t.match(npm.stderr(), /"msg":"switch stopped"/);
});

t.test('npm killed outright: the switch notices its parent is gone and stops its redis-server', async (t) => {
  const cwd = workdir(t);
  const npm = npmStart(t, cwd, { DATABASE_URL: await sharedTestDatabase() });
  await listening(npm);
  const { owner, redis } = pidsOf(cwd);
  reap(t, owner); reap(t, redis);
  npm.child.kill('SIGKILL');
  await npm.exited;
  await until('the orphaned switch to stop', () => (alive(owner) || alive(redis) ? null : true), 300);
  t.notOk(alive(owner), 'no switch left behind');
  t.notOk(alive(redis), 'no redis-server left behind');
});

t.test('a second start on a data dir owned by a live switch fails with one line; the first serves on', async (t) => {
  const cwd = workdir(t);
  const first = nodeStart(t, cwd);
  const ports = await listening(first);
  const { owner, redis } = pidsOf(cwd);
  reap(t, redis);
  t.equal(owner, first.child.pid, 'the owner file names the switch');

  const second = nodeStart(t, cwd);
  t.equal(await second.exited, 1, 'exit 1');
  const lines = second.stderr().trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.equal(lines[0], `antaca-switch: another switch (pid ${owner}) is running with data dir ${join(cwd, 'var/redis')}: stop it first; a second switch beside it needs its own REDIS_DIR and its own ports (ISO_PORT, HTTP_PORT)`);
  t.ok(alive(redis), 'the first switch\'s redis-server was left alone');
  t.equal(await health(ports.http), 200, 'the first switch still serves');
  const c = await IsoClient.connect(ports.iso);
  t.teardown(() => c.close());
  t.equal((await c.request(unknownCard('000001')))['39'], '14', 'and decides against its ledger');

  first.child.kill('SIGTERM');
  t.equal(await first.exited, 0);
  t.notOk(alive(redis), 'its redis-server stopped with it');
});

t.test('a start after the owner was killed with SIGKILL takes the orphaned redis-server and postgres over', async (t) => {
  const cwd = workdir(t);
  const first = nodeStart(t, cwd);
  await listening(first);
  const { redis: orphan, postgres: orphanPg } = pidsOf(cwd);
  reap(t, orphan); reap(t, orphanPg);
  first.child.kill('SIGKILL');
  await first.exited;
  t.ok(alive(orphan), 'the killed switch left its redis-server running');
  t.ok(alive(orphanPg), 'and its postgres');

  const second = nodeStart(t, cwd);
  const ports = await listening(second);
  const now = pidsOf(cwd);
  reap(t, now.redis); reap(t, now.postgres);
  t.equal(now.owner, second.child.pid, 'the data dir now belongs to the new switch');
  t.not(now.redis, orphan, 'a new redis-server');
  t.notOk(alive(orphan), 'the orphan was stopped');
  t.not(now.postgres, orphanPg, 'a new postgres on the same data directory');
  t.notOk(alive(orphanPg), 'the orphaned postgres was stopped first: never two on one directory');
  t.equal(readFileSync(join(cwd, 'var/pg/postgres.owner'), 'utf8').split(' ')[0]!.trim(), String(second.child.pid), 'the postgres dir belongs to the new switch');
  t.equal(await health(ports.http), 200);
  second.child.kill('SIGTERM');
  t.equal(await second.exited, 0);
  t.notOk(alive(now.redis));
  await until('postgres to exit', () => (alive(now.postgres) ? null : true), 100);
  t.notOk(alive(now.postgres));
});

t.test('the managed postgres killed with SIGKILL: the switch says so, restarts it, and authorization never stopped', async (t) => {
  const cwd = workdir(t);
  const sw = nodeStart(t, cwd);
  const ports = await listening(sw);
  const before = pidsOf(cwd).postgres;
  reap(t, before);
  const c = await IsoClient.connect(ports.iso);
  t.teardown(() => c.close());
  process.kill(before, 'SIGKILL');
  t.equal((await c.request(unknownCard('000001')))['39'], '14', 'decided while postgres is down');
  const after = await until('a new postgres', () => {
    const p = pidsOf(cwd).postgres;
    return p > 1 && p !== before && alive(p) ? p : null;
  });
  reap(t, after);
  t.match(sw.stderr(), /managed postgres exited unexpectedly: restarting it/);
  await until('the restart line', () => (/managed postgres restarted/.test(sw.stderr()) ? true : null));
  t.equal(await until('health 200', async () => ((await health(ports.http)) === 200 ? 200 : null)), 200, 'healthy again');
  t.equal((await c.request(unknownCard('000002')))['39'], '14');
  sw.child.kill('SIGTERM');
  t.equal(await sw.exited, 0);
  await until('postgres to exit', () => (alive(after) ? null : true), 100);
  t.notOk(alive(after), 'the restarted postgres stopped with the switch');
});

t.test('the managed redis-server killed with SIGKILL: the switch says so, restarts it, and decides again', async (t) => {
  const cwd = workdir(t);
  const sw = nodeStart(t, cwd, { DATABASE_URL: await sharedTestDatabase() });
  const ports = await listening(sw);
  const before = pidsOf(cwd).redis;
  reap(t, before);
  const c = await IsoClient.connect(ports.iso);
  t.teardown(() => c.close());
  t.equal((await c.request(unknownCard('000001')))['39'], '14', 'up: an unknown card is declined normally');
  const url = readFileSync(join(cwd, 'var/redis/redis-server.url'), 'utf8').trim();
  const probe = new Redis(url, { maxRetriesPerRequest: 1 });
  probe.on('error', () => {});
  t.teardown(() => probe.disconnect());
  await probe.set('lifecycle-test:written-before-the-crash', 'kept');

  process.kill(before, 'SIGKILL');
  const after = await until('a new redis-server', () => {
    const p = pidsOf(cwd).redis;
    return p > 1 && p !== before && alive(p) ? p : null;
  });
  reap(t, after);
  t.match(sw.stderr(), /"level":"error","msg":"managed redis-server exited unexpectedly: restarting it on the same port and data dir".*"exit":"SIGKILL"/);
  await until('the restart to be logged', () => (sw.stderr().includes('"msg":"managed redis-server restarted"') ? true : null));
  await until('/health 200', async () => ((await health(ports.http)) === 200 ? true : null));
  let code = '';
  for (let i = 0; i < 40 && code !== '14'; i++) {
    code = (await c.request(unknownCard(String(100 + i).padStart(6, '0')), 15_000))['39'] ?? '';
    if (code !== '14') await new Promise((r) => setTimeout(r, 250));
  }
  t.equal(code, '14', 'decisions resume on the same connection');
  t.equal(readFileSync(join(cwd, 'var/redis/redis-server.url'), 'utf8').trim(), url, 'on the same port');
  t.equal(await probe.get('lifecycle-test:written-before-the-crash'), 'kept', 'with every write of before (AOF)');
  t.ok(sw.child.exitCode === null, 'the switch kept running');

  sw.child.kill('SIGTERM');
  t.equal(await sw.exited, 0);
  t.notOk(alive(after), 'the restarted redis-server stopped with the switch');
});

t.test('without an AOF a dead redis-server is not restarted on an empty ledger: the switch exits 1', async (t) => {
  const cwd = workdir(t);
  const sw = nodeStart(t, cwd, { REDIS_APPENDFSYNC: 'off', DATABASE_URL: await sharedTestDatabase() });
  await listening(sw);
  const redis = pidsOf(cwd).redis;
  reap(t, redis);
  process.kill(redis, 'SIGKILL');
  t.equal(await sw.exited, 1, 'exit 1');
  t.match(sw.stderr(), /REDIS_APPENDFSYNC=off kept no AOF: its data is gone, not restarting/);
  t.notMatch(sw.stderr(), /\n\s+at /, 'no stack trace');
});

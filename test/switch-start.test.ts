// `npm start` behaviour, as an operator sees it: the process comes up on the managed Redis,
// answers /health, exits 0 on SIGTERM and takes its redis-server down with it; operator errors
// end it with exit 1 and one line on stderr, never a stack trace.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, createServer } from 'node:net';
import { freePort } from '../ledger/redis-server.js';

const MAIN = new URL('../app/main.ts', import.meta.url).pathname;
// Absolute, because the child runs in a temporary directory with no node_modules.
const TSX = import.meta.resolve('tsx');

function run(env: Record<string, string>, cwd: string) {
  const child = spawn(process.execPath, [`--import=${TSX}`, MAIN], { cwd, env: { ...env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => stderr };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

t.test('starts a private redis-server, serves /health, stops cleanly on SIGTERM', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-start-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const iso = await freePort();
  const http = await freePort();
  const p = run({ ...process.env as Record<string, string>, ISO_PORT: String(iso), HTTP_PORT: String(http), REDIS_URL: '' }, cwd);
  t.teardown(() => { p.child.kill('SIGKILL'); });
  let healthy = false;
  for (let i = 0; i < 300 && !healthy; i++) {
    try { healthy = (await fetch(`http://127.0.0.1:${http}/health`)).status === 200; } catch { /* starting */ }
    if (!healthy) await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(healthy, '/health answers 200');
  const logLine = p.stderr().split('\n').find((l) => l.includes('managed redis-server started')) ?? '';
  const redisPort = Number(/127\.0\.0\.1:(\d+)/.exec(logLine)?.[1]);
  t.ok(redisPort > 0 && await portOpen(redisPort), 'managed redis-server is up');
  p.child.kill('SIGTERM');
  setTimeout(() => p.child.kill('SIGTERM'), 5).unref(); // a second signal is harmless
  t.equal(await p.exited, 0, 'exit 0 after SIGTERM');
  t.notOk(await portOpen(iso), 'listener closed');
  t.notOk(await portOpen(redisPort), 'managed redis-server stopped with it');
});

t.test('without redis-server it exits 1 with one line saying what to do', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-start-'));
  const bin = mkdtempSync(join(tmpdir(), 'antaca-bin-'));
  t.teardown(() => { rmSync(cwd, { recursive: true, force: true }); rmSync(bin, { recursive: true, force: true }); });
  symlinkSync(process.execPath, join(bin, 'node'));
  const p = run({ PATH: bin, HOME: cwd, ISO_PORT: '0', HTTP_PORT: '0' }, cwd);
  t.equal(await p.exited, 1);
  const lines = p.stderr().trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(lines[0], /redis-server is not installed.*apt-get install -y redis-server.*REDIS_URL/);
  t.notMatch(p.stderr(), /\n\s+at /, 'no stack trace');
});

t.test('a bad setting exits 1 with one line naming it', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-start-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const p = run({ ...process.env as Record<string, string>, ISO_PORT: 'eighty' }, cwd);
  t.equal(await p.exited, 1);
  t.equal(p.stderr().trim(), 'antaca-switch: ISO_PORT=eighty is not an integer between 0 and 65535');
});

t.test('an unreachable REDIS_URL exits 1 with one line', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-start-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const dead = await freePort();
  const p = run({ ...process.env as Record<string, string>, REDIS_URL: `redis://127.0.0.1:${dead}`, ISO_PORT: '0', HTTP_PORT: '0', SWITCH_SECRET: 'ab'.repeat(32) }, cwd);
  t.equal(await p.exited, 1);
  const lines = p.stderr().trim().split('\n');
  t.match(lines[lines.length - 1], /^antaca-switch: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: nothing listens there \(connection refused\); check REDIS_URL \/ REDIS_CLUSTER$/);
  t.notMatch(lines[lines.length - 1], /maxRetriesPerRequest|retries per request/, 'in plain words, not the client library\'s');
  t.notMatch(p.stderr(), /\n\s+at /, 'no stack trace');
});

t.test('a port in use exits 1 with one line naming the variable to change', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-start-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const taken = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => taken.once('listening', r));
  t.teardown(() => { taken.close(); });
  const port = (taken.address() as { port: number }).port;
  for (const [variable, env] of [['ISO_PORT', { ISO_PORT: String(port), HTTP_PORT: '0' }], ['HTTP_PORT', { ISO_PORT: '0', HTTP_PORT: String(port) }]] as const) {
    const p = run({ ...process.env as Record<string, string>, ...env, REDIS_URL: '', REDIS_DIR: join(cwd, variable), SWITCH_SECRET: 'ab'.repeat(32) }, cwd);
    t.equal(await p.exited, 1);
    const lines = p.stderr().trim().split('\n');
    t.match(lines[lines.length - 1], new RegExp(`^antaca-switch: ${variable}=${port} on 127\\.0\\.0\\.1 is in use \\(another switch, or another program\\): set ${variable} to a free port`), variable);
    t.notMatch(p.stderr(), /EADDRINUSE|\n\s+at /, 'no system error code, no stack trace');
  }
});

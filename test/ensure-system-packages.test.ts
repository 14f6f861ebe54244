// scripts/ensure-system-packages.mjs, which `npm start` and `npm test` run first: with a program
// missing from PATH it installs the package when permitted (saying so in one line) and otherwise
// exits 1 with one line saying how. Nothing is really installed: PATH holds a fake apt-get that
// records its arguments and, on `install`, drops stub programs where the real ones would go.
import t from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = new URL('../scripts/ensure-system-packages.mjs', import.meta.url).pathname;
const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };

interface Bin { dir: string; aptLog: string }

/** A PATH directory with node only, plus (optionally) a fake apt-get and the given stub programs. */
function bin(t: { teardown(fn: () => unknown): void }, o: { apt?: 'installs' | 'fails'; have?: string[] } = {}): Bin {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-pkgbin-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync(process.execPath, join(dir, 'node'));
  for (const cmd of o.have ?? []) stub(join(dir, cmd));
  const aptLog = join(dir, 'apt-get.log');
  if (o.apt !== undefined) {
    const onInstall = o.apt === 'installs'
      ? `for c in redis-server redis-cli tshark text2pcap chromium postgres initdb; do printf '#!/bin/sh\\n' > "${dir}/$c"; /bin/chmod +x "${dir}/$c"; done`
      : `echo 'E: Unable to locate package tshark' >&2; exit 100`;
    writeFileSync(join(dir, 'apt-get'), [
      '#!/bin/sh',
      `echo "$*" >> "${aptLog}"`,
      `if [ "$1" = install ]; then ${onInstall}; fi`,
      'exit 0',
    ].join('\n') + '\n');
    chmodSync(join(dir, 'apt-get'), 0o755);
  }
  return { dir, aptLog };
}

function stub(path: string): void {
  writeFileSync(path, '#!/bin/sh\n');
  chmodSync(path, 0o755);
}

function run(purpose: string, b: Bin, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    // ANTACA_PG_ROOT: a directory without PostgreSQL versions, so that only the stubs on PATH count.
    const child = spawn(process.execPath, [SCRIPT, purpose], { env: { PATH: b.dir, HOME: tmpdir(), ANTACA_PG_ROOT: b.dir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.once('exit', (code) => resolve({ code, stderr, stdout }));
  });
}

const aptCalls = (b: Bin) => (existsSync(b.aptLog) ? readFileSync(b.aptLog, 'utf8').trim().split('\n') : []);

t.test('npm start and npm test run the script before anything else', async (t) => {
  t.match(PACKAGE.scripts.prestart, /^node scripts\/ensure-system-packages\.mjs start && /);
  t.match(PACKAGE.scripts.pretest, /^node scripts\/ensure-system-packages\.mjs test$/);
});

t.test('start without redis-server, not allowed to install: exit 1, one line saying how', async (t) => {
  const b = bin(t, { apt: 'installs', have: ['postgres', 'initdb'] });
  const r = await run('start', b, { ANTACA_ASSUME_INSTALL: 'no' });
  t.equal(r.code, 1);
  t.equal(r.stderr, 'antaca: npm start needs redis-server, which is not installed and this user may not install packages: run `sudo apt-get install -y redis-server`, or set REDIS_URL to an existing Redis (redis://host:port)\n');
  t.equal(r.stdout, '');
  t.same(aptCalls(b), [], 'apt-get was not run');
});

t.test('test without anything, not allowed and no apt-get: exit 1, one line naming every program', async (t) => {
  const b = bin(t);
  const r = await run('test', b, { ANTACA_ASSUME_INSTALL: 'no' });
  t.equal(r.code, 1);
  t.equal(r.stderr, 'antaca: npm test needs redis-server, postgres, initdb, redis-cli, tshark, text2pcap, chromium, which are not installed and this user may not install packages: install redis-server, postgresql, redis-tools, tshark, wireshark-common, chromium with your system\'s package manager\n');
});

t.test('start with REDIS_URL set needs no redis-server', async (t) => {
  const b = bin(t, { have: ['postgres', 'initdb'] });
  const r = await run('start', b, { ANTACA_ASSUME_INSTALL: 'no', REDIS_URL: 'redis://10.0.0.5:6379' });
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
});

t.test('start without redis-server, allowed to install: one line, apt-get update and install', async (t) => {
  const b = bin(t, { apt: 'installs', have: ['postgres', 'initdb'] });
  const r = await run('start', b, { ANTACA_ASSUME_INSTALL: 'yes' });
  t.equal(r.code, 0);
  t.equal(r.stderr, 'antaca: npm start needs redis-server: installing redis-server (apt-get)\n');
  t.same(aptCalls(b), ['update -qq', 'install -y -qq --no-install-recommends redis-server']);
  t.ok(existsSync(join(b.dir, 'redis-server')), 'the (fake) package put redis-server on PATH');
});

t.test('test with only redis missing installs only what is missing', async (t) => {
  const b = bin(t, { apt: 'installs', have: ['tshark', 'text2pcap', 'chromium', 'postgres', 'initdb'] });
  const r = await run('test', b, { ANTACA_ASSUME_INSTALL: 'yes' });
  t.equal(r.code, 0);
  t.equal(r.stderr, 'antaca: npm test needs redis-server, redis-cli: installing redis-server redis-tools (apt-get)\n');
  t.same(aptCalls(b), ['update -qq', 'install -y -qq --no-install-recommends redis-server redis-tools']);
});

t.test('an install that fails: exit 1, one line with apt-get\'s error', async (t) => {
  const b = bin(t, { apt: 'fails', have: ['redis-server', 'redis-cli', 'text2pcap', 'chromium', 'postgres', 'initdb'] });
  const r = await run('test', b, { ANTACA_ASSUME_INSTALL: 'yes' });
  t.equal(r.code, 1);
  t.equal(r.stderr.split('\n').filter((l) => l !== '').length, 2, 'the "installing" line, then the failure');
  t.match(r.stderr, /\nantaca: installing tshark failed: apt-get install exited 100: E: Unable to locate package tshark\n$/);
});

t.test('everything present: silent, exit 0, apt-get untouched', async (t) => {
  const b = bin(t, { apt: 'installs', have: ['redis-server', 'redis-cli', 'tshark', 'text2pcap', 'chromium', 'postgres', 'initdb'] });
  for (const purpose of ['start', 'test', 'ci']) {
    const r = await run(purpose, b, { ANTACA_ASSUME_INSTALL: 'yes' });
    t.equal(r.code, 0, purpose);
    t.equal(r.stderr, '', purpose);
  }
  t.same(aptCalls(b), []);
});

t.test('test and ci need chromium (the dashboard\'s browser test); start does not', async (t) => {
  const b = bin(t, { apt: 'installs', have: ['redis-server', 'redis-cli', 'tshark', 'text2pcap', 'postgres', 'initdb'] });
  t.equal((await run('start', b, { ANTACA_ASSUME_INSTALL: 'yes' })).stderr, '', 'start: nothing to install');
  for (const purpose of ['test', 'ci']) {
    const r = await run(purpose, b, { ANTACA_ASSUME_INSTALL: 'no' });
    t.equal(r.code, 1, purpose);
    t.match(r.stderr, /needs chromium, which is not installed .*`sudo apt-get install -y chromium`/, purpose);
  }
  const r = await run('test', b, { ANTACA_ASSUME_INSTALL: 'yes' });
  t.equal(r.code, 0);
  t.equal(r.stderr, 'antaca: npm test needs chromium: installing chromium (apt-get)\n');
  t.same(aptCalls(b), ['update -qq', 'install -y -qq --no-install-recommends chromium']);
});

t.test('PostgreSQL: start installs postgresql unless DATABASE_URL names one; its server programs are found where Debian puts them', async (t) => {
  const b = bin(t, { apt: 'installs', have: ['redis-server'] });
  const refused = await run('start', b, { ANTACA_ASSUME_INSTALL: 'no' });
  t.equal(refused.code, 1);
  t.equal(refused.stderr, 'antaca: npm start needs postgres, initdb, which are not installed and this user may not install packages: run `sudo apt-get install -y postgresql`, or set DATABASE_URL to an existing PostgreSQL (postgresql://user:password@host:port/database)\n');
  const named = await run('start', b, { ANTACA_ASSUME_INSTALL: 'no', DATABASE_URL: 'postgresql://u:p@10.0.0.6:5432/history' });
  t.equal(named.code, 0, 'DATABASE_URL set: nothing needed');
  t.equal(named.stderr, '');
  const installed = await run('start', b, { ANTACA_ASSUME_INSTALL: 'yes' });
  t.equal(installed.code, 0);
  t.equal(installed.stderr, 'antaca: npm start needs postgres, initdb: installing postgresql (apt-get)\n');
  t.same(aptCalls(b), ['update -qq', 'install -y -qq --no-install-recommends postgresql']);

  // Debian's layout: <root>/<version>/bin, not on PATH.
  const c = bin(t, { apt: 'installs', have: ['redis-server'] });
  const root = mkdtempSync(join(tmpdir(), 'antaca-pgroot-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, '15', 'bin'), { recursive: true });
  stub(join(root, '15', 'bin', 'postgres'));
  stub(join(root, '15', 'bin', 'initdb'));
  const found = await run('start', c, { ANTACA_ASSUME_INSTALL: 'no', ANTACA_PG_ROOT: root });
  t.equal(found.code, 0, 'found under /usr/lib/postgresql/<version>/bin');
  t.equal(found.stderr, '');
});

t.test('an unknown purpose: usage in one line, exit 1', async (t) => {
  const r = await run('deploy', bin(t));
  t.equal(r.code, 1);
  t.equal(r.stderr, 'antaca: usage: node scripts/ensure-system-packages.mjs start|test|ci\n');
});

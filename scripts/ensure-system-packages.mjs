#!/usr/bin/env node
// The system programs `npm start` and `npm test` need, installed when missing and permitted.
//
//   node scripts/ensure-system-packages.mjs start|test|ci
//
// Run by `prestart` and `pretest` (and by .ci/run), before anything is built, so it is plain
// JavaScript with no dependency. For each Debian package of PACKAGES that the purpose needs and
// whose commands are not all on PATH: when this user may install packages (root, or passwordless
// sudo: `sudo -n true` succeeds) it says so in one line and runs `apt-get update` and
// `apt-get install -y`; otherwise it exits 1 with one line saying how to install them (or, for
// `start`, where to point REDIS_URL or DATABASE_URL). Nothing missing: silent, exit 0.
//
// Debian installs PostgreSQL's server programs outside PATH, one directory per major version
// (/usr/lib/postgresql/<version>/bin): `postgres` and `initdb` are looked for there, then on PATH.
//
// ANTACA_ASSUME_INSTALL=no|yes overrides the "may install" decision (for the tests of this script:
// `no` as if neither root nor sudo were available, `yes` as if root, running apt-get without sudo).
// ANTACA_PG_ROOT replaces /usr/lib/postgresql (for the tests of this script: a directory with no
// server, so that only PATH counts).
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Debian package → the commands it provides → which purposes need it. `unlessEnv`: the purpose
 * does not need the package when one of these variables is set (an existing server is named);
 * `orSet`: what the one line of a refused start suggests instead. `serverDir`: the commands may
 * also be in a version directory under that root (PostgreSQL).
 */
const PACKAGES = [
  { pkg: 'redis-server', commands: ['redis-server'], neededBy: ['start', 'test', 'ci'], unlessEnv: { start: ['REDIS_URL', 'REDIS_CLUSTER'] }, orSet: 'REDIS_URL to an existing Redis (redis://host:port)' },
  // The history database: npm start runs a private PostgreSQL unless DATABASE_URL names one.
  { pkg: 'postgresql', commands: ['postgres', 'initdb'], serverDir: true, neededBy: ['start', 'test', 'ci'], unlessEnv: { start: ['DATABASE_URL'] }, orSet: 'DATABASE_URL to an existing PostgreSQL (postgresql://user:password@host:port/database)' },
  { pkg: 'redis-tools', commands: ['redis-cli'], neededBy: ['test', 'ci'] },
  { pkg: 'tshark', commands: ['tshark'], neededBy: ['test', 'ci'] },
  { pkg: 'wireshark-common', commands: ['text2pcap'], neededBy: ['test', 'ci'] },
  // The dashboard's browser test drives Debian's chromium (test/dashboard.test.ts).
  { pkg: 'chromium', commands: ['chromium'], neededBy: ['test', 'ci'] },
];

const WHO = { start: 'npm start', test: 'npm test', ci: 'the CI run' };

/** True when `cmd` is an executable file in one of PATH's directories. */
function onPath(cmd, env) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try { accessSync(join(dir, cmd), constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/** True when one version directory under the PostgreSQL root (`<root>/<version>/bin`) holds every one of `cmds`. */
function inServerDir(cmds, env) {
  const root = env.ANTACA_PG_ROOT ?? '/usr/lib/postgresql';
  let versions = [];
  try { versions = readdirSync(root); } catch { return false; }
  return versions.some((v) => cmds.every((c) => {
    try { accessSync(join(root, v, 'bin', c), constants.X_OK); return true; } catch { return false; }
  }));
}

/** The packages `purpose` needs that are not installed, as [{ pkg, commands, orSet }] (missing commands only). */
function missingPackages(purpose, env) {
  const out = [];
  for (const p of PACKAGES) {
    if (!p.neededBy.includes(purpose)) continue;
    if ((p.unlessEnv?.[purpose] ?? []).some((v) => (env[v] ?? '') !== '')) continue;
    if (p.serverDir && inServerDir(p.commands, env)) continue;
    const absent = p.commands.filter((c) => !onPath(c, env));
    if (absent.length > 0) out.push({ pkg: p.pkg, commands: absent, orSet: p.orSet });
  }
  return out;
}

/** How packages can be installed here: 'root', 'sudo', or null when they cannot. */
function installer(env) {
  if (env.ANTACA_ASSUME_INSTALL === 'no') return null;
  if (env.ANTACA_ASSUME_INSTALL === 'yes') return onPath('apt-get', env) ? 'root' : null;
  if (!onPath('apt-get', env)) return null;
  if (typeof process.getuid === 'function' && process.getuid() === 0) return 'root';
  const sudo = spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', env, timeout: 10_000 });
  return sudo.error === undefined && sudo.status === 0 ? 'sudo' : null;
}

function aptGet(how, args, env) {
  const [cmd, argv] = how === 'sudo'
    ? ['sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args]]
    : ['apt-get', args];
  const r = spawnSync(cmd, argv, { env: { ...env, DEBIAN_FRONTEND: 'noninteractive' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error !== undefined) return r.error.message;
  if (r.status !== 0) {
    const last = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').map((l) => l.trim()).filter((l) => l !== '').pop();
    return `apt-get ${args[0]} exited ${r.status}${last ? `: ${last}` : ''}`;
  }
  return null;
}

function fail(line) {
  process.stderr.write(`antaca: ${line}\n`);
  process.exit(1);
}

function main() {
  const purpose = process.argv[2];
  if (!(purpose in WHO)) fail(`usage: node scripts/ensure-system-packages.mjs ${Object.keys(WHO).join('|')}`);
  const env = process.env;
  const missing = missingPackages(purpose, env);
  if (missing.length === 0) return;
  const commands = missing.flatMap((m) => m.commands).join(', ');
  const pkgs = missing.map((m) => m.pkg);
  const how = installer(env);
  if (how === null) {
    const where = onPath('apt-get', env) ? `run \`sudo apt-get install -y ${pkgs.join(' ')}\`` : `install ${pkgs.join(', ')} with your system's package manager`;
    const orSet = purpose === 'start' ? missing.filter((m) => m.orSet !== undefined).map((m) => `, or set ${m.orSet}`).join('') : '';
    fail(`${WHO[purpose]} needs ${commands}, which ${missing.length === 1 && missing[0].commands.length === 1 ? 'is' : 'are'} not installed and this user may not install packages: ${where}${orSet}`);
  }
  process.stderr.write(`antaca: ${WHO[purpose]} needs ${commands}: installing ${pkgs.join(' ')} (apt-get${how === 'sudo' ? ' via sudo' : ''})\n`);
  const err = aptGet(how, ['update', '-qq'], env) ?? aptGet(how, ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], env);
  if (err !== null) fail(`installing ${pkgs.join(' ')} failed: ${err}`);
  const still = missingPackages(purpose, env);
  if (still.length > 0) fail(`installed ${pkgs.join(' ')} but ${still.flatMap((m) => m.commands).join(', ')} is still not on PATH`);
}

main();

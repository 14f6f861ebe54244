// A real PostgreSQL for tests: a private server on a random loopback port in a temporary
// directory (run as the `postgres` system user when the tests run as root), stopped by the test's
// teardown. Every switch a test starts gets a database of its own on one server shared by the test
// file (sharedTestDatabase), so a file pays for one server start, not one per switch.
//
// initdb takes seconds; the first server of a machine makes a template cluster (fsync off) in the
// temporary directory, and later ones copy it (a fraction of a second).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tap from 'tap';
import pg from 'pg';
import { postgresBinDir, startManagedPostgres, type ManagedPostgres } from '../../history/pg-server.js';

interface Teardown { teardown(fn: () => unknown): void }

export interface TestPostgres {
  server: ManagedPostgres;
  /** The server's directory (PG_DIR): the cluster is in `data/` below it. */
  dir: string;
  /** A TCP URL of `database` on the server (with the password). */
  urlOf(database: string): string;
  /** A new, empty database; its URL. */
  newDatabase(): Promise<string>;
}

/** The template cluster of this machine and user, made once (see the header). */
function templateDir(): string {
  const bin = postgresBinDir();
  if (bin === null) throw new Error('PostgreSQL is not installed (npm test installs it: scripts/ensure-system-packages.mjs)');
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return join(tmpdir(), `antaca-pg-template-${bin.replace(/\W+/g, '_')}-${uid}`);
}

async function ensureTemplate(): Promise<string> {
  const tpl = templateDir();
  if (existsSync(join(tpl, 'data', 'PG_VERSION'))) return tpl;
  const fresh = mkdtempSync(join(tmpdir(), 'antaca-pg-tpl-'));
  const s = await startManagedPostgres({ dir: fresh, fsync: false });
  await s.stop();
  rmSync(join(fresh, 'postgres.url'), { force: true });
  try {
    renameSync(fresh, tpl);
  } catch {
    // Another test process made it first.
    rmSync(fresh, { recursive: true, force: true });
  }
  return tpl;
}

/** A PostgreSQL of the test's own in a temporary directory, stopped (and removed) in teardown. */
export async function startTestPostgres(t: Teardown, opts: { dir?: string } = {}): Promise<TestPostgres> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'antaca-pg-'));
  if (!existsSync(join(dir, 'data', 'PG_VERSION'))) {
    const tpl = await ensureTemplate();
    rmSync(dir, { recursive: true, force: true });
    // cp -a keeps the owner (the postgres user when root) and the modes PostgreSQL insists on.
    execFileSync('cp', ['-a', tpl, dir]);
  }
  const server = await startManagedPostgres({ dir, fsync: false });
  t.teardown(async () => {
    await server.stop();
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  });
  return handle(server, dir);
}

function handle(server: ManagedPostgres, dir: string): TestPostgres {
  const base = new URL(server.url);
  const urlOf = (database: string) => { const u = new URL(base.href); u.pathname = '/' + database; return u.href; };
  return {
    server, dir, urlOf,
    async newDatabase() {
      const name = 't_' + randomBytes(6).toString('hex');
      const c = new pg.Client({ connectionString: urlOf('postgres') });
      await c.connect();
      try { await c.query(`CREATE DATABASE ${name}`); } finally { await c.end(); }
      return urlOf(name);
    },
  };
}

let shared: Promise<TestPostgres> | null = null;

/**
 * A new database on the server shared by this test file (started on first use, stopped when the
 * file's tests end): its URL, for a switch's DATABASE_URL.
 */
export async function sharedTestDatabase(): Promise<string> {
  shared ??= startTestPostgres(tap);
  return (await shared).newDatabase();
}

/** The server shared by this test file (see sharedTestDatabase). */
export function sharedTestPostgres(): Promise<TestPostgres> {
  shared ??= startTestPostgres(tap);
  return shared;
}

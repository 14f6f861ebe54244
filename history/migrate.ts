// Schema migrations of the history database: versioned, forward-only, in one place
// (history/migrations/NNN-name.sql, applied in version order at start-up). Each start applies the
// ones the database lacks, all in one transaction under an advisory lock, so two switches starting
// together migrate once; a version table records what was applied.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { AppError } from '../errors/index.js';
import { projectRoot } from '../ledger/scripts.js';

export interface Migration { version: number; name: string; sql: string }

/** Key of the advisory lock that serialises migrations across processes (any constant 64-bit number). */
const MIGRATION_LOCK = 7_364_121_903;

/** The migrations in history/migrations, by version. Throws Error on a misnamed file or a repeated version. */
export function loadMigrations(dir: string = join(projectRoot(), 'history', 'migrations')): Migration[] {
  const out: Migration[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.sql')).sort()) {
    const m = /^(\d{3})-([a-z0-9-]+)\.sql$/.exec(f);
    if (m === null) throw new Error(`history/migrations/${f}: expected NNN-name.sql`);
    const version = Number(m[1]);
    if (out.some((x) => x.version === version)) throw new Error(`history/migrations: version ${version} twice`);
    out.push({ version, name: m[2]!, sql: readFileSync(join(dir, f), 'utf8') });
  }
  return out;
}

/** The highest schema version this code knows. */
export function schemaVersion(migrations: readonly Migration[] = loadMigrations()): number {
  return migrations.reduce((v, m) => Math.max(v, m.version), 0);
}

/**
 * Brings the database's `history` schema to the newest version: applies, in order and in one
 * transaction, every migration not yet recorded in history.schema_migrations. Returns the versions
 * applied (none when up to date). Throws AppError SW_ERR_HISTORY_SCHEMA when the database is at a
 * version newer than this code knows (never migrates backwards) or a migration fails; a pg error
 * when the database cannot be reached.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = loadMigrations()): Promise<number[]> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE SCHEMA IF NOT EXISTS history');
    await c.query(`CREATE TABLE IF NOT EXISTS history.schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set((await c.query<{ version: number }>('SELECT version FROM history.schema_migrations')).rows.map((r) => r.version));
    const newest = schemaVersion(migrations);
    const ahead = [...done].filter((v) => v > newest);
    if (ahead.length > 0) {
      throw new AppError('SW_ERR_HISTORY_SCHEMA', `the history database is at schema version ${Math.max(...ahead)}, newer than this switch's ${newest}: run the newer switch, or point DATABASE_URL elsewhere`);
    }
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      try {
        await c.query(m.sql);
      } catch (err) {
        throw new AppError('SW_ERR_HISTORY_SCHEMA', `history migration ${String(m.version).padStart(3, '0')}-${m.name} failed: ${(err as Error).message}`);
      }
      await c.query('INSERT INTO history.schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    await c.query('COMMIT');
    return applied;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    c.release();
  }
}

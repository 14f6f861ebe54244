// How the switch reaches its history database: one node-postgres pool per process, with every
// wait bounded. A PostgreSQL that goes away (restarted, unreachable) fails the calls of that moment;
// the pool reconnects on the next call, and nothing about it ever stops the process.
import pg from 'pg';
import type { PgConnection } from './pg-server.js';
import type { LogFn } from '../log/index.js';

/** Where the history database is: a URL (DATABASE_URL) or a managed server's connection. */
export type HistoryTarget = { url: string } | { connection: PgConnection };

/** Time to open a connection before the call fails. */
export const PG_CONNECT_TIMEOUT_MS = 3000;
/** Longest statement: a copy batch or a page of a listing. */
export const PG_STATEMENT_TIMEOUT_MS = 15_000;
/** Connections per process: the copier uses one, API reads and health checks the rest. */
export const PG_POOL_MAX = 4;

/**
 * A pool on the history database. Errors of idle connections (the server restarted) are passed to
 * `onError` instead of crashing the process.
 */
export function historyPool(t: HistoryTarget, onError: (err: Error) => void = () => {}): pg.Pool {
  const common = {
    max: PG_POOL_MAX,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    statement_timeout: PG_STATEMENT_TIMEOUT_MS,
    query_timeout: PG_STATEMENT_TIMEOUT_MS + 1000,
    application_name: 'antaca-switch',
  };
  const pool = 'url' in t ? new pg.Pool({ ...common, connectionString: t.url }) : new pg.Pool({ ...common, ...t.connection });
  pool.on('error', onError);
  return pool;
}

/** A pool's lost connections are logged at most this often. */
const CONNECTION_LOST_LOG_INTERVAL_MS = 10_000;

/** historyPool's `onError` that says a connection was lost, at most once every 10 s, through `log`. */
export function connectionLostLog(log: LogFn): (err: Error) => void {
  let loggedMs = 0;
  return (err) => {
    if (Date.now() - loggedMs < CONNECTION_LOST_LOG_INTERVAL_MS) return;
    loggedMs = Date.now();
    log('warn', 'history database connection lost', { error: err.message.slice(0, 200) });
  };
}

/** A URL as it may be logged: without its password. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

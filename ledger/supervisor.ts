// One restart loop for the servers the switch runs itself (the managed redis-server,
// ledger/redis-server.ts; the managed PostgreSQL, history/pg-server.ts): watch the process, and
// when it exits without being asked to, say so and start a new one on the same port and data
// directory, with backoff, until it is up again, a restart budget is spent, or the owner stops.

/** What a supervised server is to its supervisor: a process that can end on its own, and be stopped. */
export interface SupervisableServer {
  readonly pid: number;
  /** Resolves when the process has exited, however. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

export type SupervisorLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

export interface SupervisorOptions<T extends SupervisableServer> {
  /** The server's name in log lines, e.g. `managed redis-server`. */
  name: string;
  /** Starts the next server, on the same port and directory as the first. */
  start: () => Promise<T>;
  log: SupervisorLog;
  /** The line logged on an unexpected exit (after the name), and fields to add to it. */
  exitedLine: string;
  fields: Record<string, unknown>;
  /** Longest pause between two failed starts; the first is 250 ms, doubled each time. */
  backoffMaxMs: number;
  /** An unexpected exit after which no restart may be tried (the error says why), or null; default: none. */
  refuseRestart?: (exit: { code: number | null; signal: NodeJS.Signals | null }, pid: number) => Error | null;
  /** Restarts allowed within any `restartWindowMs` (default: unbounded); past it the supervisor gives up. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /** Called once when the supervisor gives up; absent: it never does. */
  onGiveUp?: (err: Error) => void;
}

/** The server as supervised: the current process, whether it is up, and a stop that ends the supervision first. */
export interface Supervised<T extends SupervisableServer> {
  readonly current: T;
  /** False from an unexpected exit until the restarted server is ready. */
  readonly up: boolean;
  /** Stops supervising (waiting for a restart in progress), then stops the current server. */
  stop(): Promise<void>;
}

/** Supervises `first` (already started) as described at the top of this file. */
export function supervise<T extends SupervisableServer>(first: T, o: SupervisorOptions<T>): Supervised<T> {
  let current = first;
  let up = true;
  let stopping = false;
  let recovering: Promise<void> | null = null;
  const attempts: number[] = [];
  const windowMs = o.restartWindowMs ?? 60_000;

  const giveUp = (err: Error): void => { o.log('error', err.message, o.fields); o.onGiveUp?.(err); };
  const restart = async (): Promise<void> => {
    for (let attempt = 0; !stopping; attempt++) {
      if (o.maxRestarts !== undefined) {
        const now = Date.now();
        while (attempts.length > 0 && now - (attempts[0] ?? now) > windowMs) attempts.shift();
        if (attempts.length >= o.maxRestarts) {
          giveUp(new Error(`${o.name} could not be kept up (${attempts.length} restarts within ${windowMs / 1000} s): giving up`));
          return;
        }
        attempts.push(now);
      }
      try {
        const next = await o.start();
        if (stopping) { await next.stop(); return; }
        current = next;
        up = true;
        watch(next);
        o.log('info', `${o.name} restarted`, { pid: next.pid, ...o.fields });
        return;
      } catch (err) {
        o.log('warn', `${o.name} did not restart`, { error: String((err as Error).message).slice(0, 200), attempt: attempt + 1 });
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, o.backoffMaxMs)));
      }
    }
  };
  const watch = (p: T): void => {
    void p.exited.then((exit) => {
      if (stopping || p !== current) return;
      up = false;
      const refused = o.refuseRestart?.(exit, p.pid) ?? null;
      if (refused !== null) { giveUp(refused); return; }
      o.log('error', `${o.name} ${o.exitedLine}`, { pid: p.pid, exit: exit.signal ?? `exit code ${exit.code}`, ...o.fields });
      recovering = restart().finally(() => { recovering = null; });
    });
  };
  watch(first);
  return {
    get current() { return current; },
    get up() { return up; },
    async stop() {
      stopping = true;
      await recovering;
      await current.stop();
    },
  };
}

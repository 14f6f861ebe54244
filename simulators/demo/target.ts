// The switch the demo talks to: one that already answers on --http and --iso, or one started in
// this process on those ports (managed Redis under a temporary directory, or --data-dir), with the
// partner simulator beside it for a program in EXTERNAL_BALANCE mode (unless --no-partner).
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../app/config.js';
import { startSwitch, type RunningSwitch } from '../../app/start.js';
import { derive, loadSecrets } from '../../stores/secrets.js';
import { setLogLevel } from '../../log/index.js';
import { startPartnerSimulator, type RunningPartnerSim } from '../partner/server.js';
import type { DemoOptions } from './options.js';

/** The partner-mode program the demo adds (BIN 555771, next to the demo program's; not with --no-partner). */
export const PARTNER_CONFIG_ID = 'DEMO-PARTNER-EB';

/** How long the probe of an existing switch waits for each side. */
const PROBE_TIMEOUT_MS = 1_000;

export interface Target {
  /** One line: which switch, and how it came to be. */
  description: string;
  startedHere: boolean;
  /** The partner simulator, when the demo started one. */
  partner: RunningPartnerSim | null;
  /** Called when a switch started here stops itself (its managed Redis could not be kept up). */
  onGone: (why: string) => void;
  /** Warnings and errors the in-process switch logged (its log would tear the screen). */
  lastSwitchLog: () => string | null;
  /** Stops what the demo started (nothing for a switch that was there). */
  stop(): Promise<void>;
}

/** Whether `host:port` accepts a TCP connection within the probe timeout. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => { clearTimeout(timer); s.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Whether a switch answers GET /health (200, or 503 while its Redis restarts). */
async function healthAnswers(httpUrl: string): Promise<boolean> {
  try {
    const r = await fetch(`${httpUrl}/health`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await r.arrayBuffer();
    return r.status === 200 || r.status === 503;
  } catch {
    return false;
  }
}

export async function findOrStartSwitch(o: DemoOptions): Promise<Target> {
  const [http, iso] = await Promise.all([healthAnswers(o.httpUrl), accepts(o.isoHost, o.isoPort)]);
  if (http && iso) {
    return {
      description: `using the switch already running at ${o.httpUrl} (ISO 8583 on ${o.isoHost}:${o.isoPort})`,
      startedHere: false, partner: null, onGone: () => undefined, lastSwitchLog: () => null, stop: async () => undefined,
    };
  }
  if (http !== iso) {
    throw new Error(http ? `a switch answers on ${o.httpUrl} but nothing on ISO ${o.isoHost}:${o.isoPort}: give --iso` : `something listens on ${o.isoHost}:${o.isoPort} but no switch answers on ${o.httpUrl}: give --http`);
  }
  return startHere(o);
}

async function startHere(o: DemoOptions): Promise<Target> {
  const tempDir = mkdtempSync(join(tmpdir(), 'antaca-demo-'));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(tempDir, { recursive: true, force: true })];
  const undo = async (): Promise<void> => { for (const c of cleanups.reverse()) { try { await c(); } catch { /* stopping anyway */ } } };
  let lastLog: string | null = null;
  try {
    let partner: RunningPartnerSim | null = null;
    const env: Record<string, string> = {
      ISO_HOST: o.isoHost, ISO_PORT: String(o.isoPort), HTTP_HOST: o.httpHost, HTTP_PORT: String(o.httpPort),
      REDIS_DIR: o.dataDir ?? join(tempDir, 'redis'),
      // The history database's managed PostgreSQL beside it (a --data-dir keeps it for the next run).
      PG_DIR: join(o.dataDir ?? tempDir, 'pg'),
      // A temporary ledger is thrown away at exit: no need to fsync every write.
      REDIS_APPENDFSYNC: o.dataDir === null ? 'everysec' : 'always',
    };
    if (o.partner) {
      partner = await startPartnerSimulator({ config: { mode: 'EXTERNAL_BALANCE' } });
      cleanups.push(() => partner?.close());
      const programs = join(tempDir, 'programs.json');
      // RELAXED as the demo program: its cards' card data is verified when present, never required.
      writeFileSync(programs, JSON.stringify([{ configId: PARTNER_CONFIG_ID, bin: '555771', currency: 'EUR', mode: 'EXTERNAL_BALANCE', partner: { baseUrl: partner.url }, cardholderVerification: 'RELAXED' }]));
      env.PROGRAMS_FILE = programs;
    }
    // The switch's parts that log through the process's logger (a refused card datum, which the
    // mix provokes on purpose) would tear the screen: below warnings unless LOG_LEVEL says otherwise.
    // Worker threads read it from the environment when they start.
    if ((process.env.LOG_LEVEL ?? '') === '') {
      process.env.LOG_LEVEL = 'warn';
      setLogLevel('warn');
    }
    // Cards written under --data-dir must stay readable by the next run: their key lives beside the data.
    const secrets = o.dataDir === null ? derive(randomBytes(32), 'env') : loadSecrets(process.env, join(o.dataDir, 'secret.key'));
    const target = { onGone: (why: string): void => { lastLog = why; } };
    const app: RunningSwitch = await startSwitch({
      config: loadConfig({ ...process.env, ...env }), secrets, onFatal: (e) => target.onGone(`the switch stopped: ${e.message}`),
      log: (level, msg, fields) => { if (level !== 'info') lastLog = `${level}: ${msg}${fields?.error ? ` (${String(fields.error)})` : ''}`; },
    });
    cleanups.push(() => app.stop());
    const where = o.dataDir === null ? 'a temporary Redis' : `Redis data in ${o.dataDir}`;
    return Object.assign(target, {
      description: `no switch answered at ${o.httpUrl}: started one in this process (ISO 8583 on ${o.isoHost}:${app.isoPort}, ${where}${partner ? `, partner simulator on ${partner.url}` : ''})`,
      startedHere: true, partner, lastSwitchLog: () => lastLog, stop: undo,
    });
  } catch (e) {
    await undo();
    throw new Error(`cannot start a switch: ${((e as Error).message ?? String(e)).split('\n')[0]}`);
  }
}

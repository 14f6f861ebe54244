// Starts the partner simulator on HTTP: uWebSockets.js when its binary loads, node:http otherwise,
// and node:https with client certificates when TLS files are given (the management API's server
// choice, api/http.ts; uWS cannot require a client certificate).
import type { HttpServerChoice, TlsFiles } from '../../api/http.js';
import { createHttpServer } from '../../api/http.js';
import { SIM_DEFAULTS, type SimConfig } from './config.js';
import { freshSeed } from './rng.js';
import { PartnerSimulator, SIM_BODY_BYTES_MAX } from './simulator.js';

export interface PartnerSimOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) takes a free port. */
  port?: number;
  /** HTTPS requiring a client certificate signed by `ca`; plain HTTP when null (default). */
  tls?: TlsFiles | null;
  /** Server implementation (auto: uWS when it loads, else node:http). TLS always runs on node:https. */
  server?: HttpServerChoice;
  /** Knobs; the rest take the defaults of ./config.ts, the seed a fresh one. */
  config?: Partial<SimConfig>;
  /** JSON file of balances and transactions: loaded at start when present, written at stop. */
  snapshotFile?: string | null;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /**
   * An existing simulator to serve (its balances, transactions, idempotency cache and knobs kept;
   * `config` and `snapshotFile` are then ignored): a partner that went down and came back, e.g.
   * on the port it had.
   */
  sim?: PartnerSimulator;
}

export interface RunningPartnerSim {
  /** Base URL to give a program's `partner.baseUrl`, e.g. `https://127.0.0.1:40123`. */
  url: string;
  port: number;
  kind: 'uws' | 'node';
  sim: PartnerSimulator;
  /** Answers hung requests, stops listening, closes connections (node) and writes the snapshot. */
  close(): Promise<void>;
}

export async function startPartnerSimulator(o: PartnerSimOptions = {}): Promise<RunningPartnerSim> {
  const host = o.host ?? '127.0.0.1';
  const tls = o.tls ?? null;
  const config: SimConfig = { ...SIM_DEFAULTS, seed: freshSeed(), ...o.config };
  const sim = o.sim ?? new PartnerSimulator(config, o.snapshotFile ?? null);
  const log = o.log ?? (() => {});
  const server = await createHttpServer(
    { handle: (req) => sim.handle(req, tls !== null), websocket: null, maxBodyBytes: SIM_BODY_BYTES_MAX },
    { choice: o.server ?? 'auto', tls, log },
  );
  const address = await server.listen(o.port ?? 0, host);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closed = false;
  return {
    url: `${tls === null ? 'http' : 'https'}://${shownHost}:${address.port}`,
    port: address.port,
    kind: server.kind,
    sim,
    close: async () => {
      if (closed) return;
      closed = true;
      sim.releaseHung();
      await server.close();
      sim.saveSnapshot();
    },
  };
}

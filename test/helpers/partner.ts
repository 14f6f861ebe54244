// A partner simulator over HTTPS with client certificates and the switch's client for it, both on
// 127.0.0.1 with random ports, closed in the test's teardown.
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { PartnerClient, type PartnerLog } from '../../adapters/partner-client.js';
import { buildPartnerTransaction, type PartnerTransactionInput } from '../../adapters/partner-transaction.js';
import type { PartnerTransaction } from '../../adapters/partner-types.js';
import type { SimConfig } from '../../simulators/partner/config.js';
import { startPartnerSimulator, type RunningPartnerSim } from '../../simulators/partner/server.js';
import type { Pki } from './pki.js';

interface Teardown { teardown(fn: () => unknown): void }

/** A clock the test moves by hand (breaker probe intervals, log rate limits). */
export class ManualClock {
  ms = 1_000_000;
  now = (): number => this.ms;
  advance(ms: number): void { this.ms += ms; }
}

export async function startSim(t: Teardown, pki: Pki | null, config: Partial<SimConfig> = {}, extra: { server?: 'auto' | 'uws' | 'node'; snapshotFile?: string } = {}): Promise<RunningPartnerSim> {
  const sim = await startPartnerSimulator({
    tls: pki === null ? null : { cert: pki.path('server.pem'), key: pki.path('server.key'), ca: pki.path('ca.pem') },
    config: { seed: 1, ...config }, server: extra.server ?? 'auto', snapshotFile: extra.snapshotFile ?? null,
  });
  t.teardown(() => sim.close());
  return sim;
}

export interface ClientSetup {
  client: PartnerClient;
  registry: Registry;
  clock: ManualClock;
  logs: { level: string; msg: string; fields?: Record<string, unknown> }[];
}

export function makeClient(
  t: Teardown, baseUrl: string, pki: Pki | null,
  o: { timeoutMs?: number; failuresToOpen?: number; probeIntervalMs?: number; notificationsUrl?: string; clientCert?: 'client' | 'rogue' } = {},
): ClientSetup {
  const registry = new Registry();
  const clock = new ManualClock();
  const logs: ClientSetup['logs'] = [];
  const log: PartnerLog = (level, msg, fields) => { logs.push({ level, msg, ...(fields === undefined ? {} : { fields }) }); };
  const leaf = o.clientCert ?? 'client';
  const client = new PartnerClient({
    partner: {
      baseUrl, timeoutMs: o.timeoutMs ?? 1500,
      ...(pki === null ? {} : { cert: pki.path(`${leaf}.pem`), key: pki.path(`${leaf}.key`), ca: pki.path('ca.pem') }),
      ...(o.notificationsUrl === undefined ? {} : { notificationsUrl: o.notificationsUrl }),
    },
    name: '0019167984', registry, log,
    breaker: { now: clock.now, failuresToOpen: o.failuresToOpen ?? 5, probeIntervalMs: o.probeIntervalMs ?? 1000 },
  });
  t.teardown(() => client.close());
  return { client, registry, clock, logs };
}

/** A transaction object with test defaults (a POS debit of 10.00 EUR, status AUTHORIZED). */
export function tx(over: Partial<PartnerTransactionInput> = {}): PartnerTransaction {
  return buildPartnerTransaction({
    balanceId: over.balanceId ?? 'b-1', resourceId: 'card-1', transactionId: over.transactionId ?? randomUUID(),
    type: 'pos', amountMinor: 1000, currency: 'EUR', status: 'AUTHORIZED', description: 'Book store',
    transactionData: { mcc: '5942', lastFourDigits: '1234', retrievalReferenceNumber: '749248185012' },
    ...over,
  });
}

export const key = (): string => randomUUID();

/**
 * Waits until `seen()` holds or `pending` settles, whichever comes first, then returns `pending`'s
 * value: lets a test see a call arrive at the simulator before the client gives up on it, without
 * assuming how long the trip takes.
 */
export async function whenSeen<T>(pending: Promise<T>, seen: () => boolean): Promise<T> {
  let settled = false;
  void pending.then(() => { settled = true; }, () => { settled = true; });
  while (!settled && !seen()) await new Promise((r) => setTimeout(r, 5));
  return pending;
}

// A whole switch in this process on random ports, against a real redis-server of its own and a
// database of its own on the test file's PostgreSQL (test/helpers/pg.ts).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../app/config.js';
import { startSwitch, type Placement, type RunningSwitch } from '../../app/start.js';
import { derive } from '../../stores/secrets.js';
import { startTestRedis, type TestRedis } from './redis.js';
import { sharedTestDatabase } from './pg.js';
import { Ledger } from '../../ledger/index.js';
import { CardStore } from '../../stores/cards.js';

interface Teardown { teardown(fn: () => unknown): void }

/**
 * `varDir`: the switch's development files (card keys.json unless KEYS_FILE is set, the encryption
 * key), a temporary directory of its own; `keysFile`: the card key file in force, which a test
 * reads to build card data as a processor peer (simulators/lib/card-data.ts).
 */
export interface TestSwitch { app: RunningSwitch; redis: TestRedis; logs: string[]; varDir: string; keysFile: string }

export async function startTestSwitch(t: Teardown, o: { env?: Record<string, string>; placement?: Placement; masterSecret?: Buffer } = {}): Promise<TestSwitch> {
  const redis = await startTestRedis(t);
  const logs: string[] = [];
  const databaseUrl = o.env?.DATABASE_URL ?? await sharedTestDatabase();
  // The history copier runs on the main thread unless a test names its thread (HISTORY_COPIER in
  // o.env): each copier thread would load its code again, seconds of the suite over hundreds of switches.
  const config = loadConfig({ ISO_PORT: '0', HTTP_PORT: '0', REDIS_URL: redis.url, WORKERS: '2', HISTORY_COPIER: 'main', ...o.env, DATABASE_URL: databaseUrl });
  const varDir = mkdtempSync(join(tmpdir(), 'antaca-var-'));
  t.teardown(() => rmSync(varDir, { recursive: true, force: true }));
  const app = await startSwitch({
    config, varDir,
    // The main thread decides, as PLACEMENT=auto has it on two cores, unless a test names the
    // worker placement (o.placement, or PLACEMENT in o.env): the files about the pool do.
    placement: o.placement ?? (o.env?.PLACEMENT === 'workers' ? 'workers' : 'main'),
    secrets: derive(o.masterSecret ?? randomBytes(32), 'env'),
    log: (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); },
  });
  t.teardown(() => app.stop());
  return { app, redis, logs, varDir, keysFile: config.keysFile ?? join(varDir, 'keys.json') };
}

/**
 * A card of the demo program on the switch's Redis: a user balance topped up with `topUpMinor`,
 * and when `depositMinor` is given the program's deposit balance reloaded with it (once per Redis).
 */
export async function seedDemoCard(s: TestSwitch, o: { pan: string; cardId: string; customerId: string; topUpMinor: number; depositMinor?: number }): Promise<{ ledger: Ledger; balanceId: string; cards: CardStore }> {
  const ledger = await Ledger.open(s.redis.client);
  const bal = await ledger.createUserBalance({ customerId: o.customerId, currency: 'EUR', configId: DEMO_CONFIG_ID });
  await ledger.post({ type: 'TOPUP', idempotencyKey: `seed-${o.cardId}`, txId: `seed-${o.cardId}`, balanceId: bal.id, amountMinor: o.topUpMinor, partnerId: null });
  if (o.depositMinor !== undefined) {
    const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: DEMO_CONFIG_ID });
    await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: o.depositMinor, idempotencyKey: `dep-${o.cardId}` });
  }
  const cards = CardStore.fromSecrets(s.redis.client, s.app.secrets);
  await cards.put(o.pan, { id: o.cardId, customerId: o.customerId, balanceId: bal.id, configId: DEMO_CONFIG_ID, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
  return { ledger, balanceId: bal.id, cards };
}

const DEMO_CONFIG_ID = '0019167984';

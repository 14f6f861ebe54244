// A stand-in switch process for the outbox crash test: it opens an outbox on REDIS_URL, enqueues
// one force-credit under OUTBOX_KEY, starts sending to RECEIVER_URL, prints "enqueued" and runs
// until it is killed. The test kills it with SIGKILL while an attempt is in flight.
import { Redis } from 'ioredis';
import { Outbox } from '../../adapters/outbox.js';
import { httpSend } from './receiver.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
};

const redis = new Redis(env('REDIS_URL'), { maxRetriesPerRequest: 1 });
const outbox = await Outbox.open(redis, {
  leaseMs: Number(env('OUTBOX_LEASE_MS')), sendTimeoutMs: Number(env('OUTBOX_LEASE_MS')) - 500,
  backoffBaseMs: 5, backoffCapMs: 20, pollIntervalMs: 10,
});
const r = await outbox.enqueue({
  kind: 'force-credit', configId: '0019167984', method: 'POST', path: '/transactions/force-credit',
  body: { id: 'tx-1', amount: 2233, currency: 'EUR', status: 'REVERSED', transactionData: { lastFourDigits: '1234' } },
  idempotencyKey: env('OUTBOX_KEY'),
});
outbox.start(httpSend(env('RECEIVER_URL')));
process.stdout.write(`enqueued ${r.id}\n`);
setInterval(() => {}, 1 << 30);

// A processor (scheme) simulator: connects to a running switch as a payment processor would and
// sends a stream of authorizations, declines, reversals and echoes, printing each exchange with a
// masked PAN. `npm run sim` after `npm start` in another terminal.
//
// It seeds its own demo cards into the switch's Redis: REDIS_URL, else the switch's managed Redis
// found through var/redis; card keys come from SWITCH_SECRET, else var/secret.key, like the switch.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { Framer, frame } from '../switch/net/framer.js';
import { IsoCodec, type IsoMessage } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { maskPan } from '../iso/mask.js';
import { loadSecrets } from '../stores/secrets.js';
import { CardStore, luhnCheckDigit } from '../stores/cards.js';
import { Ledger } from '../ledger/index.js';
import { managedRedisUrl } from '../ledger/redis-server.js';
import { envOptionLines, parseCommandLine } from '../scripts/cli.js';

const DEMO = '0019167984';
const CARDS = Number(process.env.SIM_CARDS ?? 5);
const RATE_PER_SECOND = Number(process.env.SIM_RATE ?? 2);
const COUNT = Number(process.env.SIM_COUNT ?? 40);
const ISO_PORT = Number(process.env.ISO_PORT ?? 8583);
const ISO_HOST = process.env.ISO_HOST ?? '127.0.0.1';

interface SimCard { pan: string; expiry: string }

async function seedCards(): Promise<SimCard[]> {
  const url = process.env.REDIS_URL || managedRedisUrl(resolve(process.env.REDIS_DIR ?? 'var/redis'));
  if (!url) throw new Error('no Redis found: start the switch (npm start) or set REDIS_URL');
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const secrets = loadSecrets(process.env, resolve('var/secret.key'));
    const ledger = await Ledger.open(redis, { balanceHistory: false }); // as the switch opens it
    const cards = CardStore.fromSecrets(redis, secrets);
    const out: SimCard[] = [];
    for (let i = 0; i < CARDS; i++) {
      const body = '5557709' + String(i).padStart(8, '0');
      const pan = body + luhnCheckDigit(body);
      const bal = await ledger.createUserBalance({ customerId: `sim-${i}`, currency: 'EUR', configId: DEMO, idempotencyKey: `sim-balance-${i}` });
      await ledger.post({ type: 'TOPUP', idempotencyKey: `sim-topup-${i}`, txId: `sim-topup-${i}`, balanceId: bal.id, amountMinor: 50_000, partnerId: null });
      await cards.put(pan, { id: `sim-card-${i}`, customerId: `sim-${i}`, balanceId: bal.id, configId: DEMO, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
      out.push({ pan, expiry: '3012' });
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

function now10(): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  return p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds());
}

/** The n-th message of the scenario: mostly purchases, some too large, reversals of earlier ones, echoes. */
function nextMessage(n: number, cards: SimCard[], approved: IsoMessage[]): IsoMessage {
  const stan = String(n % 1_000_000).padStart(6, '0');
  if (n % 10 === 9) return { mti: '0800', fields: new Map([[7, now10()], [11, stan], [70, '301']]) };
  const last = approved[approved.length - 1];
  if (n % 7 === 6 && last !== undefined) {
    approved.pop();
    const f = last.fields;
    const f90 = '0100' + String(f.get(11)) + String(f.get(7)) + String(f.get(32)).padStart(11, '0') + '0'.repeat(11);
    return { mti: '0400', fields: new Map([...f, [11, stan], [7, now10()], [90, f90]]) };
  }
  const card = cards[n % cards.length] as SimCard;
  const amount = n % 8 === 5 ? 9_000_000 : 100 + ((n * 7919) % 5000);
  return {
    mti: '0100',
    fields: new Map([
      [2, card.pan], [3, '000000'], [4, String(amount).padStart(12, '0')], [7, now10()], [11, stan],
      [14, card.expiry], [18, '5411'], [22, '051'], [32, '123456'], [37, String(100000000000 + n)],
      [41, 'SIMTERM1'], [42, 'SIMMERCHANT0001'], [49, '978'],
    ]),
  };
}

function usage(): string {
  return ['usage: npm run sim', '',
    'A processor simulator: seeds demo cards into the running switch\'s Redis and sends it a stream of',
    'authorizations, declines, reversals and echoes, printing each exchange with a masked PAN.', '',
    'Options (environment variables):', ...envOptionLines([
      ['SIM_CARDS', '5', 'demo cards seeded and used'],
      ['SIM_RATE', '2', 'messages per second'],
      ['SIM_COUNT', '40', 'messages in all'],
      ['ISO_HOST', '127.0.0.1', 'the switch\'s ISO 8583 listener'],
      ['ISO_PORT', '8583', 'its port'],
      ['REDIS_URL', '', 'the switch\'s Redis; unset: the managed one found through REDIS_DIR'],
      ['REDIS_DIR', 'var/redis', 'data dir of the switch\'s managed Redis'],
      ['SWITCH_SECRET', '', 'the switch\'s master secret; unset: var/secret.key, like the switch'],
    ])].join('\n');
}

async function main(): Promise<void> {
  parseCommandLine('sim', process.argv.slice(2), usage);
  const cards = await seedCards();
  const codec = new IsoCodec(DIALECT_1987);
  const sent = new Map<string, { m: IsoMessage; t0: number }>();
  const approved: IsoMessage[] = [];
  const socket: Socket = await new Promise((res, rej) => {
    const s = connect({ host: ISO_HOST, port: ISO_PORT, noDelay: true }, () => res(s));
    s.once('error', rej);
  });
  let answered = 0;
  const done = new Promise<void>((res) => {
    const framer = new Framer({
      frame(body) {
        const r = codec.unpack(body);
        if (!r.ok) { console.log('undecodable answer'); return; }
        const f = r.msg.fields;
        const req = sent.get(String(f.get(11)));
        if (req === undefined) return;
        sent.delete(String(f.get(11)));
        const ms = (performance.now() - req.t0).toFixed(1);
        const pan = f.get(2);
        const amount = f.get(4);
        console.log(`${req.m.mti} → ${r.msg.mti}  ${typeof pan === 'string' ? maskPan(pan) : '-'.padEnd(16)}  ${typeof amount === 'string' ? (Number(amount) / 100).toFixed(2).padStart(10) + ' EUR' : ''.padStart(14)}  39=${String(f.get(39))}${f.has(38) ? '  38=' + String(f.get(38)) : ''}  ${ms} ms`);
        if (req.m.mti === '0100' && f.get(39) === '00') approved.push(req.m);
        if (++answered === COUNT) res();
      },
      keepAlive() { /* none */ },
      oversize() { socket.destroy(); },
    });
    socket.on('data', (d: Buffer) => framer.push(d));
  });
  console.log(`sending ${COUNT} messages at ${RATE_PER_SECOND}/s to ${ISO_HOST}:${ISO_PORT} over ${cards.length} demo cards`);
  for (let n = 1; n <= COUNT; n++) {
    const m = nextMessage(n, cards, approved);
    sent.set(String(m.fields.get(11)), { m, t0: performance.now() });
    socket.write(frame(codec.pack(m)));
    await new Promise((r) => setTimeout(r, 1000 / RATE_PER_SECOND));
  }
  await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  socket.destroy();
}

main().catch((e: unknown) => { console.error(`simulator: ${(e as Error).message}`); process.exit(1); });

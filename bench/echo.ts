// A trivial ISO 8583 peer for checking the load generator (BENCH_TARGET=echo): it answers every
// request at once with a copy whose MTI is the response MTI and whose field 39 is `00`, using the
// same codec and framing as the switch, and touches nothing else. A generator that measures a
// sub-millisecond p99 against it adds no latency of its own worth speaking of.
//
// With ECHO_REDIS_URL set (a redis:// URL, or ECHO_REDIS_SOCKET a Unix socket path) it is the
// floor of `npm run bench:switch` instead: each answer waits for one EVALSHA of the ceiling's
// minimal hold script (bench/lua/ceiling-hold-6.lua) against that Redis, so it shows the latency
// that one durable Redis round trip per message costs on this machine, with next to no work of
// its own around it. Field 39 is `00` when the script held (or replayed) and `51` when it declined.
// With ECHO_REDIS_SCRIPT=prototype the script is bench/lua/prototype-approval-9.lua instead: an
// approval written the way the planned redesign would write it (transaction hash = record +
// idempotency record + cached answer), with a record and a cached answer of the switch's sizes.
//
// `node dist/bench/echo.js` listens on ECHO_PORT (default: a free port) and prints
// `echo listening <port>` on stdout; startEchoServer() runs it inside the calling process.
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { projectRoot } from '../ledger/scripts.js';
import { Framer, frame } from '../switch/net/framer.js';
import { IsoCodec } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { encodeRecord } from '../stores/record-codec.js';
import type { TransactionObject } from '../stores/records.js';

export interface EchoServer { port: number; close(): Promise<void> }

/** One hold per call, resolving to field 39 of the answer. */
/** One approval against the peer's Redis: '00' held, '51' declined. */
export type Hold = () => Promise<string>;

function serve(socket: Socket, codec: IsoCodec, hold: Hold | null): void {
  socket.setNoDelay(true);
  const framer = new Framer({
    frame(body) {
      const r = codec.unpack(body);
      if (!r.ok) return;
      const m = r.msg;
      // Pack walks the bitmap, so field 39 added last still goes out in field order.
      m.mti = m.mti.slice(0, 2) + String(Number(m.mti[2]) + 1) + m.mti[3];
      if (hold === null) {
        m.fields.set(39, '00');
        socket.write(frame(codec.pack(m)));
        return;
      }
      hold().then((rc) => {
        m.fields.set(39, rc);
        if (!socket.destroyed) socket.write(frame(codec.pack(m)));
      }, () => socket.destroy());
    },
    keepAlive() { /* nothing to answer */ },
    oversize() { socket.destroy(); },
  });
  // Answers to one chunk's requests leave in one write.
  socket.on('data', (chunk: Buffer) => { socket.cork(); framer.push(chunk); socket.uncork(); });
  socket.on('error', () => socket.destroy());
}

/** Balances far larger than any run can spend: the floor never declines for funds. */
const FLOOR_FUNDS_MINOR = 1e15;
const FLOOR_AMOUNT_MINOR = 100;
const FLOOR_IDEMPOTENCY_TTL_MS = 691_200_000;

/**
 * The floor's hold: the ceiling script with the switch's shapes (one hash tag, fresh transaction
 * and idempotency ids per call, enableAutoPipelining like the switch's client).
 */
export async function floorHold(redis: Redis): Promise<{ hold: Hold; close(): void }> {
  const lua = readFileSync(join(projectRoot(), 'bench', 'lua', 'ceiling-hold-6.lua'), 'utf8');
  const sha = await redis.script('LOAD', lua) as string;
  const p = '{g00}:';
  await redis.hset(p + 'ub:floor', 'a', FLOOR_FUNDS_MINOR, 'b', 0);
  await redis.hset(p + 'pbt:floor', 'a', FLOOR_FUNDS_MINOR, 'b', 0);
  let n = 0;
  const hold: Hold = async () => {
    const id = `${process.pid}.${++n}`;
    const now = Date.now();
    const r = await redis.evalsha(sha, 6, p + 'idem:' + id, p + 'tx:floor:' + id, p + 'ub:floor', p + 'pbt:floor', p + 'jnl', p + 'exp',
      FLOOR_AMOUNT_MINOR, id, now + 86_400_000, now, FLOOR_IDEMPOTENCY_TTL_MS);
    // 1 held; 0 declined for funds; anything else (a repeat, a changed card) is no approval either.
    return r === 1 ? '00' : '51';
  };
  return { hold, close: () => redis.disconnect() };
}

/**
 * The k-th approval's transaction id, as switch/process/request.ts names an 0100's (card, MTI
 * class, field 7, STAN, acquirer, terminal) for card `bc1`: the sizes the switch writes.
 */
export function benchTxId(k: number, acquirer: string): string {
  return `bc1.010.1130010612.${String(k % 1_000_000).padStart(6, '0')}.${acquirer}.TERM${String(k).padStart(8, '0')}`;
}

/** An approved 0100's record for card `bc1`, of the shape and size switch/process/render.ts renders. */
export function benchRecord(id: string, balanceId: string, txId: string, amountMinor: number, nowMs: number): TransactionObject {
  return {
    id, balanceId, resourceId: 'bc1', resource: 'card', cardId: 'bc1', externalTransactionId: txId, referenceExternalTransactionId: null,
    type: 'POS', category: 'DEBIT', amount: amountMinor, currency: 'EUR', originalAmount: null, originalCurrency: null,
    status: 'AUTHORIZED', description: 'MERCHANT 0001', date: new Date(nowMs).toISOString(), referenceExternalTransactionDate: null,
    transactionData: {
      mcc: '5411', merchantIdentifier: 'MERCHANT0000001', merchantName: 'MERCHANT 0001', merchantCity: 'WARSAW', captureMode: 'CHIP',
      lastFourDigits: '0001', acquirerCountry: 'POL', retrievalReferenceNumber: `RRN${txId.slice(-9)}`,
    },
    processingStatus: 'SUCCESS', reason: 'APPROVED', responseCode: '00', mti: '0100', feeMinor: 0, fxFeeMinor: 0,
  };
}

/** bench/lua/prototype-approval-9.lua with the switch's key and argument sizes. */
export async function prototypeHold(redis: Redis): Promise<{ hold: Hold; close(): void }> {
  const lua = readFileSync(join(projectRoot(), 'bench', 'lua', 'prototype-approval-9.lua'), 'utf8');
  const sha = await redis.script('LOAD', lua) as string;
  const p = '{g00}:';
  const balanceId = 'f6b3a4c2-6a93-4235-9135-1452f8016426';
  await redis.hset(p + 'ub:' + balanceId, 'a', FLOOR_FUNDS_MINOR, 'b', 0);
  await redis.hset(p + 'pbt:pb-DEPOSIT-EUR-0019167984', 'a', FLOOR_FUNDS_MINOR, 'b', 0);
  await redis.hset(p + 'card:bc1', 'v', '1');
  // A cached answer of the switch's size: the framed 0110 without field 2, with its code prefix.
  const answer = Buffer.alloc(240, 0x30);
  let n = 0;
  const hold: Hold = async () => {
    const k = ++n;
    const now = Date.now();
    const txId = benchTxId(k, String(process.pid).padStart(11, '0'));
    const recordId = `e44d176c-7234-4adb-beb7-${String(k).padStart(12, '0')}`;
    const r = await redis.evalsha(sha, 9,
      `${p}tx:${balanceId}:${txId}`, p + 'ub:' + balanceId, p + 'pbt:pb-DEPOSIT-EUR-0019167984', p + 'jnl', p + 'exp', p + 'card:bc1',
      `${p}dup:${recordId.slice(-24)}`, `${p}rrn:bc1:${String(k).padStart(12, '0')}`, `${p}oid:${txId.slice(0, txId.lastIndexOf('.'))}`,
      FLOOR_AMOUNT_MINOR, balanceId, txId, now + 86_400_000, now, encodeRecord(benchRecord(recordId, balanceId, txId, FLOOR_AMOUNT_MINOR, now)), answer, '1', 172_800_000, 3_888_000_000);
    // 1 held; 0 declined for funds; anything else (a repeat, a changed card) is no approval either.
    return r === 1 ? '00' : '51';
  };
  return { hold, close: () => redis.disconnect() };
}

export async function startEchoServer(port = 0, host = '127.0.0.1', redisTarget: { url?: string; socketPath?: string; script?: 'ceiling' | 'prototype' } = {}): Promise<EchoServer> {
  const codec = new IsoCodec(DIALECT_1987);
  const redis = redisTarget.socketPath !== undefined ? new Redis({ path: redisTarget.socketPath, enableAutoPipelining: true })
    : redisTarget.url !== undefined ? new Redis(redisTarget.url, { enableAutoPipelining: true }) : null;
  const floor = redis === null ? null : redisTarget.script === 'prototype' ? await prototypeHold(redis) : await floorHold(redis);
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => { sockets.add(s); s.once('close', () => sockets.delete(s)); serve(s, codec, floor?.hold ?? null); });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr !== null ? addr.port : 0,
        close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => { floor?.close(); r(); }); }),
      });
    });
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const script = process.env.ECHO_REDIS_SCRIPT === 'prototype' ? 'prototype' as const : 'ceiling' as const;
  const redisTarget = process.env.ECHO_REDIS_SOCKET ? { socketPath: process.env.ECHO_REDIS_SOCKET, script } : process.env.ECHO_REDIS_URL ? { url: process.env.ECHO_REDIS_URL, script } : {};
  startEchoServer(Number(process.env.ECHO_PORT ?? 0), '127.0.0.1', redisTarget).then((s) => {
    process.stdout.write(`echo listening ${s.port}\n`);
    process.on('SIGTERM', () => { void s.close().then(() => process.exit(0)); });
  }, (e: unknown) => { process.stderr.write(`echo: ${(e as Error).message}\n`); process.exit(1); });
}

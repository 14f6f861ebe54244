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

export interface EchoServer { port: number; close(): Promise<void> }

/** One hold per call, resolving to field 39 of the answer. */
type Hold = () => Promise<string>;

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
async function floorHold(redis: Redis): Promise<{ hold: Hold; close(): void }> {
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
    return r === 0 ? '51' : '00';
  };
  return { hold, close: () => redis.disconnect() };
}

export async function startEchoServer(port = 0, host = '127.0.0.1', redisTarget: { url?: string; socketPath?: string } = {}): Promise<EchoServer> {
  const codec = new IsoCodec(DIALECT_1987);
  const redis = redisTarget.socketPath !== undefined ? new Redis({ path: redisTarget.socketPath, enableAutoPipelining: true })
    : redisTarget.url !== undefined ? new Redis(redisTarget.url, { enableAutoPipelining: true }) : null;
  const floor = redis === null ? null : await floorHold(redis);
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
  const redisTarget = process.env.ECHO_REDIS_SOCKET ? { socketPath: process.env.ECHO_REDIS_SOCKET } : process.env.ECHO_REDIS_URL ? { url: process.env.ECHO_REDIS_URL } : {};
  startEchoServer(Number(process.env.ECHO_PORT ?? 0), '127.0.0.1', redisTarget).then((s) => {
    process.stdout.write(`echo listening ${s.port}\n`);
    process.on('SIGTERM', () => { void s.close().then(() => process.exit(0)); });
  }, (e: unknown) => { process.stderr.write(`echo: ${(e as Error).message}\n`); process.exit(1); });
}

// A trivial ISO 8583 peer for checking the load generator (BENCH_TARGET=echo): it answers every
// request at once with a copy whose MTI is the response MTI and whose field 39 is `00`, using the
// same codec and framing as the switch, and touches nothing else. A generator that measures a
// sub-millisecond p99 against it adds no latency of its own worth speaking of.
//
// `node dist/bench/echo.js` listens on ECHO_PORT (default: a free port) and prints
// `echo listening <port>` on stdout; startEchoServer() runs it inside the calling process.
import { createServer, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Framer, frame } from '../switch/net/framer.js';
import { IsoCodec } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';

export interface EchoServer { port: number; close(): Promise<void> }

function serve(socket: Socket, codec: IsoCodec): void {
  socket.setNoDelay(true);
  const framer = new Framer({
    frame(body) {
      const r = codec.unpack(body);
      if (!r.ok) return;
      const m = r.msg;
      // Pack walks the bitmap, so field 39 added last still goes out in field order.
      m.mti = m.mti.slice(0, 2) + String(Number(m.mti[2]) + 1) + m.mti[3];
      m.fields.set(39, '00');
      socket.write(frame(codec.pack(m)));
    },
    keepAlive() { /* nothing to answer */ },
    oversize() { socket.destroy(); },
  });
  // Answers to one chunk's requests leave in one write.
  socket.on('data', (chunk: Buffer) => { socket.cork(); framer.push(chunk); socket.uncork(); });
  socket.on('error', () => socket.destroy());
}

export function startEchoServer(port = 0, host = '127.0.0.1'): Promise<EchoServer> {
  const codec = new IsoCodec(DIALECT_1987);
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => { sockets.add(s); s.once('close', () => sockets.delete(s)); serve(s, codec); });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === 'object' && addr !== null ? addr.port : 0,
        close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
      });
    });
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  startEchoServer(Number(process.env.ECHO_PORT ?? 0)).then((s) => {
    process.stdout.write(`echo listening ${s.port}\n`);
    process.on('SIGTERM', () => { void s.close().then(() => process.exit(0)); });
  }, (e: unknown) => { process.stderr.write(`echo: ${(e as Error).message}\n`); process.exit(1); });
}

// An open-loop ISO 8583 load generator: requests leave at their scheduled times whether or not
// earlier ones were answered, and latency is measured from the scheduled time, so a stalled
// switch shows up as latency instead of silently lowering the offered rate (no coordinated omission).
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Framer, frame } from '../switch/net/framer.js';
import { IsoCodec, type IsoMessage } from '../switch/iso/codec.js';
import { DIALECT_1987 } from '../switch/iso/dialect.js';

export interface LoadOptions {
  host?: string;
  port: number;
  ratePerSecond: number;
  durationSeconds: number;
  connections: number;
  /** Builds request i; field 11 is overwritten with a STAN unique among requests in flight. */
  makeRequest(i: number): IsoMessage;
  /** Stop waiting for stragglers this long after the last send. */
  drainMs?: number;
}

export interface LoadReport {
  offered: number;
  answered: number;
  unanswered: number;
  seconds: number;
  throughputPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
  codes: Record<string, number>;
}

interface Conn { socket: Socket; inflight: Map<string, number> }

export async function runOpenLoop(o: LoadOptions): Promise<LoadReport> {
  const codec = new IsoCodec(DIALECT_1987);
  const latencies: number[] = [];
  const codes: Record<string, number> = {};
  const conns: Conn[] = await Promise.all(Array.from({ length: o.connections }, () => openConn(o, codec, latencies, codes)));
  const total = Math.round(o.ratePerSecond * o.durationSeconds);
  const intervalMs = 1000 / o.ratePerSecond;
  const start = performance.now();
  let sent = 0;
  let stan = 0;
  // Send in ticks of about 1 ms: every request whose scheduled time has come goes out, stamped
  // with its scheduled time.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
      const batches = new Map<Conn, Buffer[]>();
      while (sent < due) {
        const conn = conns[sent % conns.length] as Conn;
        const m = o.makeRequest(sent);
        stan = stan >= 999_999 ? 1 : stan + 1;
        const s = String(stan).padStart(6, '0');
        m.fields.set(11, s);
        conn.inflight.set(s, start + sent * intervalMs);
        const framed = frame(codec.pack(m));
        const list = batches.get(conn) ?? [];
        list.push(framed);
        batches.set(conn, list);
        sent++;
      }
      for (const [c, list] of batches) c.socket.write(list.length === 1 ? list[0] as Buffer : Buffer.concat(list));
      if (sent >= total) resolve(); else setTimeout(tick, 1);
    };
    tick();
  });
  const sendEnd = performance.now();
  const drainUntil = sendEnd + (o.drainMs ?? 5000);
  while (performance.now() < drainUntil && conns.some((c) => c.inflight.size > 0)) await new Promise((r) => setTimeout(r, 5));
  const seconds = (performance.now() - start) / 1000;
  const unanswered = conns.reduce((n, c) => n + c.inflight.size, 0);
  for (const c of conns) c.socket.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies.length === 0 ? NaN : latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] as number;
  return {
    offered: total, answered: latencies.length, unanswered, seconds,
    throughputPerSecond: latencies.length / ((sendEnd - start) / 1000),
    latencyMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: latencies[latencies.length - 1] ?? NaN },
    codes,
  };
}

function openConn(o: LoadOptions, codec: IsoCodec, latencies: number[], codes: Record<string, number>): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: o.host ?? '127.0.0.1', port: o.port, noDelay: true });
    const conn: Conn = { socket, inflight: new Map() };
    const framer = new Framer({
      frame(body) {
        const now = performance.now();
        const r = codec.unpack(body);
        const fields = r.ok ? r.msg.fields : r.partial.fields;
        const s = fields.get(11);
        const code = fields.get(39);
        if (typeof s !== 'string') return;
        const t0 = conn.inflight.get(s);
        if (t0 === undefined) return;
        conn.inflight.delete(s);
        latencies.push(now - t0);
        const c = typeof code === 'string' ? code : '??';
        codes[c] = (codes[c] ?? 0) + 1;
      },
      keepAlive() { /* none expected */ },
      oversize() { socket.destroy(); },
    });
    socket.on('data', (d: Buffer) => framer.push(d));
    socket.once('connect', () => resolve(conn));
    socket.once('error', reject);
  });
}

export function formatReport(name: string, r: LoadReport): string {
  const l = r.latencyMs;
  return `${name.padEnd(28)} offered ${r.offered} answered ${r.answered} (${r.throughputPerSecond.toFixed(0)}/s)  p50 ${l.p50.toFixed(2)} ms  p99 ${l.p99.toFixed(2)} ms  p99.9 ${l.p999.toFixed(2)} ms  max ${l.max.toFixed(1)} ms  codes ${JSON.stringify(r.codes)}`;
}

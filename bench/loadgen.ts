// An open-loop ISO 8583 load generator. Requests are packed before a run starts; during the run
// they leave on a fixed schedule (request i at start + i/rate) whether or not earlier ones were
// answered, so a stalled switch shows up as latency instead of silently lowering the offered rate.
//
// The schedule is driven by a 1 ms timer: each tick writes every request whose time has come.
// Nothing spins: on a 2-core machine a busy-waiting generator would take a core from the switch.
// Two figures are recorded per request, in microseconds, each in its own HDR histogram:
//   latency   from the request's write to the read of its answer (what the switch costs);
//   lateness  from the request's scheduled time to its write (what the generator's timer costs).
// A run whose lateness is high did not offer the load it claims; both are printed side by side.
//
// Answers are matched by STAN (field 11) and counted by response code (field 39), both found by
// walking the answer's bitmap over the raw bytes (FieldScanner); nothing else is decoded.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { Framer } from '../switch/net/framer.js';
import type { IsoDialect } from '../iso/dialect.js';

/** STANs are 6 digits: a request's STAN indexes its write time in one flat array. */
export const STAN_LIMIT = 1_000_000;
/** Histograms track up to 10 minutes (in µs) at 3 significant digits. */
const HISTOGRAM_MAX_US = 600_000_000;

/** Requests packed before a run: frames[i] (2-byte length included) carries STAN stans[i]. */
export interface RequestPlan {
  frames: Buffer[];
  stans: Uint32Array;
}

export interface OpenLoopOptions {
  host?: string;
  port: number;
  connections: number;
  ratePerSecond: number;
  plan: RequestPlan;
  dialect: IsoDialect;
  /** Timer period of the schedule, default 1 ms. */
  tickMs?: number;
  /** Stop waiting for unanswered requests this long after the last write, default 5000 ms. */
  drainMs?: number;
}

export interface Percentiles { count: number; p50: number; p99: number; p999: number; max: number; mean: number }

export interface LoadReport {
  offeredPerSecond: number;
  sent: number;
  answered: number;
  /** Answers whose STAN matched nothing in flight (a duplicate or foreign answer). */
  unmatched: number;
  /** From the first scheduled write to the last write. */
  sendSeconds: number;
  /** From the first scheduled write to the last answer read (or the drain deadline). */
  seconds: number;
  answersPerSecond: number;
  latencyUs: Percentiles;
  latenessUs: Percentiles;
  codes: Record<string, number>;
  /** CPU time of the generator's process (user + system) per request sent: its own cost, whatever the machine's load. */
  generatorCpuUsPerRequest: number;
  /** Answers whose latency passed 3 ms, and 5 ms. */
  over3ms: number;
  over5ms: number;
}

export type Histogram = hdr.Histogram;

/** A latency histogram in µs: 1 µs to 600 s at 3 significant digits. */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HISTOGRAM_MAX_US, numberOfSignificantValueDigits: 3 });
}

/** The percentiles a report quotes, read from `h` (its unit: µs). */
export function percentiles(h: Histogram): Percentiles {
  return {
    count: h.totalCount, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99),
    p999: h.getValueAtPercentile(99.9), max: h.maxValue, mean: Math.round(h.mean),
  };
}

/** Records a latency given in ms as whole µs, clamped to the histogram's range. */
export function recordUs(h: Histogram, ms: number): void {
  const us = Math.round(ms * 1000);
  h.recordValue(us < 0 ? 0 : us > HISTOGRAM_MAX_US ? HISTOGRAM_MAX_US : us);
}

/**
 * Finds one field in a packed message by walking the bitmap and skipping the fields before it:
 * fixed fields by their width, variable ones by their ASCII length prefix. No value is decoded,
 * so matching an answer costs a few bitmap bytes and two short digit reads.
 */
export class FieldScanner {
  /** Per field: > 0 fixed width in bytes, < 0 minus the digits of the length prefix, 0 undefined. */
  private readonly widths = new Int32Array(129);
  private readonly mtiBytes: number;
  /** Byte length of the field found by the last find(). */
  length = 0;

  constructor(dialect: IsoDialect) {
    for (let f = 2; f <= 128; f++) {
      const spec = dialect.fields[f];
      if (spec === undefined) continue;
      const prefix = { fixed: 0, llvar: 2, lllvar: 3, llllllvar: 6 }[spec.lengthType];
      this.widths[f] = prefix === 0 ? spec.maxLength : -prefix;
    }
    this.mtiBytes = dialect.fields[0]?.maxLength ?? 4;
  }

  /** Offset of the field's value in body, or -1 when it is absent or the message is malformed. */
  find(body: Buffer, field: number): number {
    const bitmapAt = this.mtiBytes;
    if (body.length < bitmapAt + 8) return -1;
    const bitmapBytes = (body[bitmapAt]! & 0x80) !== 0 ? 16 : 8;
    if (field > bitmapBytes * 8) return -1;
    let pos = bitmapAt + bitmapBytes;
    for (let f = 2; f <= field; f++) {
      if ((body[bitmapAt + ((f - 1) >>> 3)]! & (0x80 >>> ((f - 1) & 7))) === 0) continue;
      const w = this.widths[f]!;
      let length = w;
      if (w < 0) {
        length = 0;
        for (let i = 0; i < -w; i++) length = length * 10 + (body[pos + i]! - 0x30);
        pos += -w;
      } else if (w === 0) {
        return -1;
      }
      if (f === field) {
        if (pos + length > body.length) return -1;
        this.length = length;
        return pos;
      }
      pos += length;
    }
    return -1;
  }
}

/** The value of `width` ASCII digits at offset, or -1 when one is not a digit. */
export function readDigits(buf: Buffer, offset: number, width: number): number {
  let n = 0;
  for (let i = 0; i < width; i++) {
    const d = buf[offset + i]! - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** Writes value as `width` zero-padded ASCII digits at offset. */
export function writeDigits(buf: Buffer, offset: number, width: number, value: number): void {
  for (let i = width - 1; i >= 0; i--) {
    buf[offset + i] = 0x30 + (value % 10);
    value = Math.floor(value / 10);
  }
}

/** What every connection of one run shares: write times by STAN, histograms, code counts. */
class RunState {
  /** Write time (performance.now() ms) of the request in flight with that STAN, 0 when none. */
  readonly writtenAt = new Float64Array(STAN_LIMIT);
  readonly latency = newHistogram();
  /** Answers slower than 3 ms and than 5 ms (the latency targets' bounds), counted exactly. */
  over3ms = 0;
  over5ms = 0;
  readonly lateness = newHistogram();
  /** Response code as two bytes (b0 * 256 + b1), or -1 for an answer without field 39. */
  readonly codes = new Map<number, number>();
  answered = 0;
  unmatched = 0;
  lastReadAt = 0;
  private readonly scanner: FieldScanner;
  onAnswer: () => void = () => {};

  constructor(dialect: IsoDialect) {
    this.scanner = new FieldScanner(dialect);
  }

  answer(body: Buffer, readAt: number): void {
    const s = this.scanner;
    const at11 = s.find(body, 11);
    const stan = at11 < 0 || s.length !== 6 ? -1 : readDigits(body, at11, 6);
    const t0 = stan < 0 ? 0 : this.writtenAt[stan]!;
    if (t0 === 0) { this.unmatched++; return; }
    this.writtenAt[stan] = 0;
    recordUs(this.latency, readAt - t0);
    if (readAt - t0 > 3) { this.over3ms++; if (readAt - t0 > 5) this.over5ms++; }
    const at39 = s.find(body, 39);
    const code = at39 < 0 || s.length < 2 ? -1 : body[at39]! * 256 + body[at39 + 1]!;
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1);
    this.answered++;
    this.lastReadAt = readAt;
    this.onAnswer();
  }

  codeCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, n] of [...this.codes].sort((a, b) => a[0] - b[0])) out[k < 0 ? 'none' : String.fromCharCode(k >> 8, k & 255)] = n;
    return out;
  }
}

function openConnection(host: string, port: number, state: RunState): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    // One read time per chunk: every answer in it arrived in the same read.
    let readAt = 0;
    const framer = new Framer({
      frame(body) { state.answer(body, readAt); },
      keepAlive() { /* none expected */ },
      oversize() { socket.destroy(); },
    });
    socket.on('data', (chunk: Buffer) => { readAt = performance.now(); framer.push(chunk); });
    socket.once('connect', () => { socket.off('error', reject); socket.on('error', () => {}); resolve(socket); });
    socket.once('error', reject);
  });
}

async function openConnections(host: string, port: number, n: number, state: RunState): Promise<Socket[]> {
  return Promise.all(Array.from({ length: n }, () => openConnection(host, port, state)));
}

/** Resolves when every sent request is answered or drainMs after the call, whichever is first. */
function drained(state: RunState, sent: number, drainMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (state.answered >= sent) { resolve(); return; }
    const timer = setTimeout(() => { state.onAnswer = () => {}; resolve(); }, drainMs);
    state.onAnswer = () => {
      if (state.answered < sent) return;
      clearTimeout(timer);
      state.onAnswer = () => {};
      resolve();
    };
  });
}

function report(state: RunState, sent: number, start: number, lastWrite: number, end: number, rate: number, cpu: NodeJS.CpuUsage): LoadReport {
  return {
    generatorCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, sent),
    offeredPerSecond: rate, sent, answered: state.answered, unmatched: state.unmatched,
    sendSeconds: (lastWrite - start) / 1000, seconds: (end - start) / 1000,
    answersPerSecond: state.answered / Math.max(1e-9, (end - start) / 1000),
    latencyUs: percentiles(state.latency), latenessUs: percentiles(state.lateness), codes: state.codeCounts(),
    over3ms: state.over3ms, over5ms: state.over5ms,
  };
}

/** Offers plan.frames at ratePerSecond over `connections` sockets (request i on socket i mod n). */
export async function runOpenLoop(o: OpenLoopOptions): Promise<LoadReport> {
  const state = new RunState(o.dialect);
  const sockets = await openConnections(o.host ?? '127.0.0.1', o.port, o.connections, state);
  const cpu0 = process.cpuUsage();
  const { frames, stans } = o.plan;
  const total = frames.length;
  const intervalMs = 1000 / o.ratePerSecond;
  const n = sockets.length;
  let sent = 0;
  let lastWrite = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / intervalMs) + 1);
      if (due <= sent) return;
      // The write time of each request is taken at its own write call; when a tick has several,
      // they leave together on uncork, one writev per socket.
      const cork = due - sent > 1;
      if (cork) for (const s of sockets) s.cork();
      for (; sent < due; sent++) {
        const at = performance.now();
        state.writtenAt[stans[sent]!] = at;
        recordUs(state.lateness, at - (start + sent * intervalMs));
        sockets[sent % n]!.write(frames[sent]!);
      }
      if (cork) for (const s of sockets) s.uncork();
      lastWrite = performance.now();
      if (sent >= total) { clearInterval(timer); resolve(); }
    };
    const timer = setInterval(tick, o.tickMs ?? 1);
    tick();
  });
  await drained(state, sent, o.drainMs ?? 5000);
  const end = state.answered >= sent ? state.lastReadAt : performance.now();
  for (const s of sockets) s.destroy();
  return report(state, sent, start, lastWrite, end, o.ratePerSecond, process.cpuUsage(cpu0));
}

export interface BurstOptions {
  host?: string;
  port: number;
  connections: number;
  plan: RequestPlan;
  dialect: IsoDialect;
  /** Frames per corked write, default 64. */
  chunk?: number;
  drainMs?: number;
}

/**
 * Writes every frame of the plan as fast as the sockets take them (a socket whose buffer is full
 * waits for 'drain'), spread over the connections, and waits for the answers. Latency here is
 * queueing by construction; the figures that matter are the total time and the codes.
 */
export async function runBurst(o: BurstOptions): Promise<LoadReport> {
  const state = new RunState(o.dialect);
  const sockets = await openConnections(o.host ?? '127.0.0.1', o.port, o.connections, state);
  const { frames, stans } = o.plan;
  const chunk = o.chunk ?? 64;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let lastWrite = start;
  await Promise.all(sockets.map(async (socket, c) => {
    for (let i = c; i < frames.length;) {
      socket.cork();
      let room = true;
      for (let k = 0; k < chunk && i < frames.length; k++, i += sockets.length) {
        state.writtenAt[stans[i]!] = performance.now();
        room = socket.write(frames[i]!);
      }
      socket.uncork();
      if (!room) await new Promise<void>((r) => socket.once('drain', r));
    }
    lastWrite = Math.max(lastWrite, performance.now());
  }));
  await drained(state, frames.length, o.drainMs ?? 30_000);
  const end = state.answered >= frames.length ? state.lastReadAt : performance.now();
  for (const s of sockets) s.destroy();
  return report(state, frames.length, start, lastWrite, end, 0, process.cpuUsage(cpu0));
}

/** One line: latency and lateness percentiles in ms, the shares over 3 and 5 ms, answered/sent, codes. */
export function formatReport(name: string, r: LoadReport): string {
  const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 2 : 0);
  const l = r.latencyUs;
  const late = r.latenessUs;
  const share = (n: number) => `${((100 * n) / Math.max(1, r.answered)).toFixed(2)}%`;
  return `${name.padEnd(24)} answered ${r.answered}/${r.sent}  latency p50 ${ms(l.p50)} p99 ${ms(l.p99)} p99.9 ${ms(l.p999)} max ${ms(l.max)} ms` +
    ` (over 3 ms ${share(r.over3ms)}, over 5 ms ${share(r.over5ms)})` +
    `  | lateness p50 ${ms(late.p50)} p99 ${ms(late.p99)} max ${ms(late.max)} ms  | generator ${r.generatorCpuUsPerRequest.toFixed(0)} µs CPU/request  codes ${JSON.stringify(r.codes)}`;
}

// A processor-side test client built on the npm package iso_8583 (an independent implementation
// of the default dialect): it packs requests, frames them, and matches answers by STAN.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import iso8583 from 'iso_8583';
import { Framer, frame } from '../../switch/net/framer.js';

export type IsoJson = Record<string, string>;

interface Waiter { resolve(m: IsoJson): void; reject(e: Error): void; timer: NodeJS.Timeout }

export class IsoClient {
  private readonly waiters = new Map<string, Waiter[]>();
  readonly frames: Buffer[] = [];
  private frameWaiters: Array<(b: Buffer) => void> = [];
  closed = false;
  private readonly closedP: Promise<void>;

  private constructor(readonly socket: Socket, private readonly customFormats?: Record<string, unknown>) {
    const framer = new Framer({
      frame: (body) => this.onFrame(Buffer.from(body)),
      keepAlive: () => undefined,
      oversize: () => socket.destroy(),
    });
    socket.on('data', (c: Buffer) => framer.push(c));
    this.closedP = new Promise((r) => socket.once('close', () => { this.closed = true; r(); }));
    socket.on('error', () => undefined);
  }

  static connect(port: number, customFormats?: Record<string, unknown>): Promise<IsoClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(new IsoClient(s, customFormats)));
      s.once('error', reject);
    });
  }

  /** Over TLS (ISO_TLS_*): resolves once the handshake is done; `tls` carries ca, cert and key. */
  static connectTls(port: number, tls: ConnectionOptions, customFormats?: Record<string, unknown>): Promise<IsoClient> {
    return new Promise((resolve, reject) => {
      const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ...tls }, () => { s.setNoDelay(true); resolve(new IsoClient(s, customFormats)); });
      s.once('error', reject);
    });
  }

  /** Packs with iso_8583 (length prefix included). */
  pack(fields: IsoJson): Buffer {
    const m = new iso8583(fields, this.customFormats);
    const b = m.getBufferMessage();
    if (!Buffer.isBuffer(b)) throw new Error(`iso_8583 could not pack: ${JSON.stringify(b)}`);
    return b;
  }

  unpack(body: Buffer): IsoJson {
    return new iso8583(undefined, this.customFormats).getIsoJSON(frame(body)) as IsoJson;
  }

  /** Sends one request and resolves with the answer carrying the same STAN. */
  request(fields: IsoJson, timeoutMs = 10_000): Promise<IsoJson> {
    const p = this.expect(fields['11'] ?? '', timeoutMs);
    this.socket.write(this.pack(fields));
    return p;
  }

  expect(stan: string, timeoutMs = 10_000): Promise<IsoJson> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer for STAN ${stan} within ${timeoutMs} ms`)), timeoutMs);
      const list = this.waiters.get(stan) ?? [];
      list.push({ resolve, reject, timer });
      this.waiters.set(stan, list);
    });
  }

  writeRaw(b: Buffer): void { this.socket.write(b); }

  nextFrame(timeoutMs = 5000): Promise<Buffer> {
    const have = this.frames.shift();
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const waiter = (b: Buffer): void => { clearTimeout(timer); resolve(b); };
      // A wait that times out is withdrawn, or it would take the next caller's frame.
      const timer = setTimeout(() => { this.frameWaiters = this.frameWaiters.filter((w) => w !== waiter); reject(new Error(`no frame within ${timeoutMs} ms`)); }, timeoutMs);
      this.frameWaiters.push(waiter);
    });
  }

  whenClosed(): Promise<void> { return this.closedP; }

  close(): void {
    this.socket.destroy();
    // Pending waits are dropped with their timers: nothing is owed after close.
    for (const list of this.waiters.values()) for (const w of list) clearTimeout(w.timer);
    this.waiters.clear();
  }

  private onFrame(body: Buffer): void {
    let m: IsoJson | null = null;
    try { m = this.unpack(body); } catch { m = null; }
    const stan = m?.['11'];
    const list = stan !== undefined ? this.waiters.get(stan) : undefined;
    const w = list?.shift();
    if (w && m) {
      clearTimeout(w.timer);
      if (list?.length === 0) this.waiters.delete(stan as string);
      w.resolve(m);
      return;
    }
    const fw = this.frameWaiters.shift();
    if (fw) fw(body); else this.frames.push(body);
  }
}

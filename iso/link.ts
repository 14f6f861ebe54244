// One processor-side ISO 8583 connection to the switch, plain TCP or TLS with a client
// certificate, speaking the link's framing (2-byte big-endian length, iso/frame.ts). Used by the
// management API's sandbox (api/sandbox.ts), which reaches its own switch the way a processor
// does, and by the processor-side tools and simulators (simulators/). The frames are split by the
// listener's own Framer (switch/net/framer.ts), so both ends of the link read it the same way.
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Framer } from '../switch/net/framer.js';
import { frame } from './frame.js';

/** Client certificate, its key and the CA the switch's certificate chains to (PEM contents). */
export interface LinkTls { cert: Buffer; key: Buffer; ca: Buffer }

export interface LinkOptions {
  host: string;
  port: number;
  /** null or absent: plain TCP. */
  tls?: LinkTls | null;
}

/** A connected link: write message bodies, receive answer bodies through `onFrame`. */
export class IsoLink {
  /** Called once per answer frame with its body (the 2-byte length removed). */
  onFrame: (body: Buffer) => void = () => undefined;
  /** Called once when the connection closes, with the error if one closed it. */
  onClose: (error: Error | null) => void = () => undefined;
  private closedByUs = false;

  private constructor(private readonly socket: Socket) {
    const framer = new Framer({
      frame: (body) => this.onFrame(Buffer.from(body)),
      keepAlive: () => undefined,
      oversize: () => socket.destroy(new Error('the switch sent a frame above 8 KiB')),
    });
    let failure: Error | null = null;
    socket.on('data', (chunk: Buffer) => framer.push(chunk));
    socket.on('error', (e) => { failure = e; });
    socket.once('close', () => { if (!this.closedByUs) this.onClose(failure ?? new Error('the switch closed the connection')); else this.onClose(null); });
  }

  /** Connects (and completes the TLS handshake when `tls` is given). Rejects with the socket's error. */
  static open(o: LinkOptions): Promise<IsoLink> {
    return new Promise((resolve, reject) => {
      const fail = (e: Error): void => reject(new Error(`cannot connect to ${o.host}:${o.port}: ${e.message}`));
      const s: Socket = o.tls
        ? tlsConnect({ host: o.host, port: o.port, servername: o.host === '127.0.0.1' ? 'localhost' : o.host, ...o.tls }, () => ready())
        : connect({ host: o.host, port: o.port }, () => ready());
      const ready = (): void => { s.setNoDelay(true); s.off('error', fail); resolve(new IsoLink(s)); };
      s.once('error', fail);
    });
  }

  /** Writes one message body, framed. */
  send(body: Buffer): void { this.socket.write(frame(body)); }

  /** Writes bytes exactly as given (already framed, or deliberately broken). */
  sendRaw(bytes: Buffer): void { this.socket.write(bytes); }

  /** Closes the connection; the switch answers nothing more on it. */
  close(): void { this.closedByUs = true; this.socket.destroy(); }
}

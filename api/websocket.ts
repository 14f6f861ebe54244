// A minimal RFC 6455 server side for node:http, enough for the live feed: the handshake, text
// frames from server to client, and the control frames a client sends (close, ping). Frames the
// client sends otherwise are read and ignored. uWS has its own implementation; this one exists so
// that HTTP_SERVER=node (and TLS) serve the feed too, without a dependency.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TextSocket } from './http.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** A client frame (the feed expects none but close and ping) may carry at most this much. */
const MAX_CLIENT_PAYLOAD_BYTES = 4096;
const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_PROTOCOL_ERROR = 1002;
const CLOSE_TOO_BIG = 1009;

/** The handshake answer's Sec-WebSocket-Accept value for a client's Sec-WebSocket-Key. */
export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** Why an upgrade request is not a valid WebSocket handshake, or null when it is. */
export function handshakeProblem(req: IncomingMessage): string | null {
  if (req.method !== 'GET') return 'a WebSocket handshake is a GET';
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') return 'Upgrade: websocket is required';
  if (req.headers['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version: 13 is required';
  const key = req.headers['sec-websocket-key'];
  if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) return 'Sec-WebSocket-Key must be 16 bytes, base64';
  return null;
}

export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(2) : n < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  head[0] = 0x80 | opcode;
  if (n < 126) head[1] = n;
  else if (n < 65536) { head[1] = 126; head.writeUInt16BE(n, 2); }
  else { head[1] = 127; head.writeBigUInt64BE(BigInt(n), 2); }
  return Buffer.concat([head, payload]);
}

function closePayload(code: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code, 0);
  return b;
}

/** Completes the handshake on `socket` and returns the open channel. Call only when handshakeProblem is null. */
export function upgradeToWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, onClose: () => void): TextSocket {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + `Sec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\n\r\n`);
  (socket as { setNoDelay?: (b: boolean) => void }).setNoDelay?.(true);
  let closed = false;
  let pending: Buffer = head.length > 0 ? Buffer.from(head) : Buffer.alloc(0);
  const writable = () => !closed && !socket.destroyed && socket.writable;
  const closeWith = (code: number) => {
    if (writable()) socket.end(encodeFrame(OP_CLOSE, closePayload(code)));
    closed = true;
  };
  const onData = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      const f = readClientFrame(pending);
      if (f === 'incomplete') return;
      if (f === 'too-big') { closeWith(CLOSE_TOO_BIG); return; }
      if (f === 'unmasked') { closeWith(CLOSE_PROTOCOL_ERROR); return; }
      pending = pending.subarray(f.size);
      if (f.opcode === OP_CLOSE) { closeWith(f.payload.length >= 2 ? f.payload.readUInt16BE(0) : CLOSE_GOING_AWAY); return; }
      if (f.opcode === OP_PING && writable()) socket.write(encodeFrame(OP_PONG, f.payload));
    }
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
  let notified = false;
  socket.once('close', () => { closed = true; if (!notified) { notified = true; onClose(); } });
  return {
    send(text) { if (writable()) socket.write(encodeFrame(OP_TEXT, Buffer.from(text, 'utf8'))); },
    bufferedBytes() { return socket.writableLength; },
    close() {
      // A client that is not reading would keep a graceful close waiting behind its backlog.
      if (socket.writableLength > 0) { closed = true; socket.destroy(); return; }
      closeWith(CLOSE_GOING_AWAY);
    },
  };
}

type ClientFrame = { opcode: number; payload: Buffer; size: number };

function readClientFrame(b: Buffer): ClientFrame | 'incomplete' | 'too-big' | 'unmasked' {
  if (b.length < 2) return 'incomplete';
  const opcode = (b[0] as number) & 0x0f;
  const masked = ((b[1] as number) & 0x80) !== 0;
  let len = (b[1] as number) & 0x7f;
  let at = 2;
  if (len === 126) { if (b.length < 4) return 'incomplete'; len = b.readUInt16BE(2); at = 4; }
  else if (len === 127) { if (b.length < 10) return 'incomplete'; const big = b.readBigUInt64BE(2); if (big > BigInt(MAX_CLIENT_PAYLOAD_BYTES)) return 'too-big'; len = Number(big); at = 10; }
  if (len > MAX_CLIENT_PAYLOAD_BYTES) return 'too-big';
  if (!masked) return 'unmasked';
  if (b.length < at + 4 + len) return 'incomplete';
  const mask = b.subarray(at, at + 4);
  const payload = Buffer.alloc(len);
  for (let i = 0; i < len; i++) payload[i] = (b[at + 4 + i] as number) ^ (mask[i & 3] as number);
  return { opcode, payload, size: at + 4 + len };
}

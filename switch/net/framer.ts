// Incremental splitter for the SPEC §2.1 framing: a 2-byte big-endian length that does not count
// itself, then the message. Zero-length frames are keep-alives. Frames above the limit are a
// protocol violation: the caller closes that connection.

export const MAX_FRAME_BYTES = 8192;

export interface FrameSink {
  frame(body: Buffer): void;
  keepAlive(): void;
  oversize(length: number): void;
}

/**
 * Feeds socket chunks, emits whole frames. A frame that lies entirely inside one chunk is passed
 * as a view of that chunk (no copy); only frames split across chunks are assembled in a buffer
 * sized to the frame (at most MAX_FRAME_BYTES + 2).
 */
export class Framer {
  private pending: Buffer | null = null; // bytes of an incomplete frame (header included)
  private pendingLength = 0;
  private failed = false;

  constructor(private readonly sink: FrameSink, private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    let offset = 0;
    if (this.pending !== null) {
      offset = this.completePending(chunk);
      if (offset < 0 || this.failed) return;
    }
    const end = chunk.length;
    while (end - offset >= 2) {
      const length = chunk.readUInt16BE(offset);
      if (length === 0) { offset += 2; this.sink.keepAlive(); continue; }
      if (length > this.maxFrameBytes) { this.fail(length); return; }
      if (end - offset - 2 < length) break;
      this.sink.frame(chunk.subarray(offset + 2, offset + 2 + length));
      offset += 2 + length;
    }
    if (offset < end) this.stash(chunk, offset);
  }

  /** Returns the offset in chunk after the completed pending frame, or -1 when still incomplete. */
  private completePending(chunk: Buffer): number {
    const pending = this.pending as Buffer;
    let have = this.pendingLength;
    let used = 0;
    if (have < 2) {
      const need = 2 - have;
      const take = Math.min(need, chunk.length);
      chunk.copy(pending, have, 0, take);
      have += take; used += take;
      this.pendingLength = have;
      if (have < 2) return -1;
      const length = pending.readUInt16BE(0);
      if (length === 0) { this.pending = null; this.pendingLength = 0; this.sink.keepAlive(); return used; }
      if (length > this.maxFrameBytes) { this.fail(length); return -1; }
      if (pending.length < length + 2) {
        const grown = Buffer.allocUnsafe(length + 2);
        pending.copy(grown, 0, 0, 2);
        this.pending = grown;
      }
    }
    const buf = this.pending as Buffer;
    const total = buf.readUInt16BE(0) + 2;
    const take = Math.min(total - have, chunk.length - used);
    chunk.copy(buf, have, used, used + take);
    this.pendingLength = have + take;
    used += take;
    if (this.pendingLength < total) return -1;
    this.pending = null;
    this.pendingLength = 0;
    this.sink.frame(buf.subarray(2, total));
    return used;
  }

  private stash(chunk: Buffer, offset: number): void {
    const rest = chunk.length - offset;
    // One or two header bytes: reserve room for the header only; the body size is known later.
    const size = rest >= 2 ? chunk.readUInt16BE(offset) + 2 : 2;
    const buf = Buffer.allocUnsafe(Math.max(size, rest));
    chunk.copy(buf, 0, offset);
    this.pending = buf;
    this.pendingLength = rest;
  }

  private fail(length: number): void {
    this.failed = true;
    this.pending = null;
    this.sink.oversize(length);
  }
}


export { frame } from '../../iso/frame.js';

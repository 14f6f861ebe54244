// A batch crosses the thread boundary as one byte array plus offsets: one copy, one transfer,
// no per-frame structured clone.

export interface PackedFrames {
  data: Uint8Array;
  /** For frame i: start at offsets[2i], end at offsets[2i+1]; start -1 means "no frame" (null). */
  offsets: Int32Array;
}

export function packFrames(frames: ReadonlyArray<Buffer | null>): PackedFrames {
  let total = 0;
  for (const f of frames) if (f !== null) total += f.length;
  // Not Buffer.allocUnsafe: small allocations come from a shared pool that must not be transferred.
  const data = new Uint8Array(total);
  const offsets = new Int32Array(frames.length * 2);
  let pos = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    if (f === null || f === undefined) { offsets[2 * i] = -1; offsets[2 * i + 1] = -1; continue; }
    data.set(f, pos);
    offsets[2 * i] = pos;
    pos += f.length;
    offsets[2 * i + 1] = pos;
  }
  return { data, offsets };
}

export function unpackFrames(p: PackedFrames): Array<Buffer | null> {
  const n = p.offsets.length / 2;
  const buf = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
  const out: Array<Buffer | null> = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = p.offsets[2 * i] as number;
    out[i] = s < 0 ? null : buf.subarray(s, p.offsets[2 * i + 1] as number);
  }
  return out;
}

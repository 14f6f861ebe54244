// The link's framing (SPEC §2.1): each message is preceded by a 2-byte big-endian length that does
// not count itself. Shared by the listener (switch/net), the deciding code, tools and simulators.

/** Largest body a 2-byte length can frame; the listener's own limit (8 KiB) is lower. */
export const FRAME_BODY_BYTES_MAX = 0xffff;

/** `body` with its 2-byte big-endian length in front. Throws RangeError above FRAME_BODY_BYTES_MAX. */
export function frame(body: Buffer): Buffer {
  if (body.length > FRAME_BODY_BYTES_MAX) throw new RangeError(`a frame body is at most ${FRAME_BODY_BYTES_MAX} bytes, got ${body.length}`);
  const out = Buffer.allocUnsafe(body.length + 2);
  out.writeUInt16BE(body.length, 0);
  body.copy(out, 2);
  return out;
}

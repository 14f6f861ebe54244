// The duplicate-answer cache (SPEC §2.3) without card data at rest (SPEC §6): an answer is cached
// with field 2 left out, and a repeat's answer is the cached one with the repeat's own field 2 put
// back (a repeat has the same PAN by definition of a duplicate), packed again: byte for byte the
// first answer, since packing is deterministic. The cost, one more pack per recorded answer and an
// unpack + pack per repeat, buys a Redis (memory, AOF, RDB) that never holds a PAN in clear.
import type { IsoCodec, IsoMessage } from '../../iso/codec.js';
import { frame } from '../../iso/frame.js';

/** The cached entry starts with field 39, space-padded to this many bytes (for the metrics of a repeat). */
const CODE_PREFIX_BYTES = 4;

/** What the cache keeps of an answer: its response code and its body packed without field 2. */
export function cacheableAnswer(codec: IsoCodec, res: IsoMessage, rc: string): Buffer {
  let body: Buffer;
  if (res.fields.has(2)) {
    const fields = new Map(res.fields);
    fields.delete(2);
    body = codec.pack({ mti: res.mti, fields });
  } else {
    body = codec.pack(res);
  }
  return Buffer.concat([Buffer.from(rc.padEnd(CODE_PREFIX_BYTES), 'latin1'), body]);
}

/** A repeat's answer from a cache entry: the framed first answer (field 2 from the repeat itself) and its field 39. */
export function replayAnswer(codec: IsoCodec, cached: Buffer, request: IsoMessage): { framed: Buffer | null; code: string } {
  const rc = cached.subarray(0, CODE_PREFIX_BYTES).toString('latin1').trim();
  const body = cached.subarray(CODE_PREFIX_BYTES);
  const pan = request.fields.get(2);
  if (pan === undefined) return { framed: frame(body), code: rc };
  const decoded = codec.unpack(body);
  if (!decoded.ok) return { framed: null, code: rc };
  // Field order is the bitmap's, so setting field 2 last changes nothing in the packed bytes.
  decoded.msg.fields.set(2, pan);
  return { framed: frame(codec.pack(decoded.msg)), code: rc };
}

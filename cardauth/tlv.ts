// BER-TLV as EMV uses it (EMV 4.3 Book 3, Annex B): a tag of one to three bytes (the low five
// bits of the first byte all set means more bytes follow while their high bit is set), a length
// in short form (< 0x80) or long form (0x81 n, 0x82 n n), then the value. Field 55 carries a flat
// list of primitive data objects; a constructed one is kept whole (its value not descended into).
// Zero bytes between objects are padding and skipped.

/** At most this many data objects in one field 55: a real ICC request carries about 20. */
export const TLV_OBJECTS_MAX = 64;
const TAG_BYTES_MAX = 3;

/** Tag (upper-case hex) → value; or why the bytes are not BER-TLV (never quoting them). */
export type TlvResult = { readonly ok: true; readonly tags: ReadonlyMap<string, Buffer> } | { readonly ok: false; readonly reason: string };

export function parseTlv(b: Buffer): TlvResult {
  const tags = new Map<string, Buffer>();
  let i = 0;
  while (i < b.length) {
    if (b[i] === 0x00) { i++; continue; }
    const tagStart = i;
    const first = b[i++]!;
    if ((first & 0x1f) === 0x1f) {
      for (;;) {
        if (i >= b.length) return fail(`a tag at byte ${tagStart} is cut short`);
        const next = b[i++]!;
        if (i - tagStart > TAG_BYTES_MAX) return fail(`a tag at byte ${tagStart} is longer than ${TAG_BYTES_MAX} bytes`);
        if ((next & 0x80) === 0) break;
      }
    }
    const tag = b.toString('hex', tagStart, i).toUpperCase();
    if (i >= b.length) return fail(`tag ${tag} has no length`);
    let len = b[i++]!;
    if (len === 0x81 || len === 0x82) {
      const n = len - 0x80;
      if (i + n > b.length) return fail(`the length of tag ${tag} is cut short`);
      len = n === 1 ? b[i]! : b.readUInt16BE(i);
      i += n;
    } else if (len > 0x80) {
      return fail(`tag ${tag} has an unsupported length form`);
    }
    if (i + len > b.length) return fail(`the value of tag ${tag} runs past the end`);
    if (tags.has(tag)) return fail(`tag ${tag} appears twice`);
    if (tags.size >= TLV_OBJECTS_MAX) return fail(`more than ${TLV_OBJECTS_MAX} data objects`);
    tags.set(tag, b.subarray(i, i + len));
    i += len;
  }
  return { ok: true, tags };
}

function fail(reason: string): TlvResult {
  return { ok: false, reason };
}

/** One primitive data object: tag (hex) ‖ length ‖ value, as bytes (lengths up to 255). */
export function tlv(tagHex: string, value: Buffer): Buffer {
  const tag = Buffer.from(tagHex, 'hex');
  if (value.length > 0xff) throw new RangeError('a value longer than 255 bytes');
  const len = value.length < 0x80 ? Buffer.from([value.length]) : Buffer.from([0x81, value.length]);
  return Buffer.concat([tag, len, value]);
}

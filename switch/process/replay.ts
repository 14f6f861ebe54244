// The duplicate-answer cache (SPEC §2.3) without card data at rest (SPEC §6): an answer is cached
// with field 2 left out, and a repeat's answer is the cached one with the repeat's own field 2 put
// back (a repeat has the same PAN by definition of a duplicate), packed again: byte for byte the
// first answer, since packing is deterministic. The cost, one more pack per recorded answer and an
// unpack + pack per repeat, buys a Redis (memory, AOF, RDB) that never holds a PAN in clear.
//
// Field 55 (the ARPC of a verified chip read) is a cryptogram: it is left out the same way, and the
// entry is marked with the program whose keys made it. A repeat's field 55 is computed again from
// the repeat's own ICC data (the same ARQC, verified again, with the cached answer's ARC), so the
// repeat gets the first answer's bytes; a "repeat" whose ARQC does not verify gets no field 55.
//
// Field 54 of an approval whose hold writes its record (HoldArgs.record) is not known until the
// hold has run: the entry is cached without it, marked with the balance's currency, and the hold
// appends the user balance after it as two numbers (`|available|blocked`, minor units). A repeat's
// field 54 is built from those, as the first answer's was (render.ts): the ledger stores numbers,
// never ISO fields.
import type { IsoCodec, IsoMessage } from '../../iso/codec.js';
import { frame } from '../../iso/frame.js';
import { cardDataOf, isFieldError, messagePan } from '../../cardauth/fields.js';
import type { KeyStore } from '../../cardauth/keys.js';
import { issuerAuthenticationData } from './render.js';
import { balancesField54 } from '../../iso/wire.js';

/** The cached entry starts with field 39, space-padded to this many bytes (for the metrics of a repeat). */
const CODE_PREFIX_BYTES = 4;
/** An entry whose answer carried field 55 starts with this byte, then the configId's length (2 digits) and the configId. */
const ISSUER_AUTH_MARK = 0x23; // '#', never the first character of a response code
/** An entry whose field 54 the ledger's balances complete: this byte and the currency (ISO 4217 n3), after any '#' mark; the entry ends `|available|blocked`. */
const BALANCES_MARK = 0x24; // '$'

/**
 * What the cache keeps of an answer: its response code and its body packed without fields 2 and
 * 55. `issuerAuthConfigId`: the program whose keys verified the message's ARQC (the answer carries
 * field 55), else null. `balancesN3`: the answer's field 54 is the user balance (render.ts) that
 * the hold writing this entry appends as numbers (HoldArgs.record.appendBalances), in this
 * currency (ISO 4217 n3): the body leaves field 54 out too; null: the body is the answer's.
 */
export function cacheableAnswer(codec: IsoCodec, res: IsoMessage, rc: string, issuerAuthConfigId: string | null = null, balancesN3: string | null = null): Buffer {
  let body: Buffer;
  if (res.fields.has(2) || res.fields.has(55) || balancesN3 !== null) {
    const fields = new Map(res.fields);
    fields.delete(2);
    fields.delete(55);
    if (balancesN3 !== null) fields.delete(54);
    body = codec.pack({ mti: res.mti, fields });
  } else {
    body = codec.pack(res);
  }
  const parts: Buffer[] = [];
  const id = issuerAuthConfigId === null ? null : Buffer.from(issuerAuthConfigId, 'latin1');
  // A configId longer than the mark's two length digits can say is not marked: its repeats go without field 55.
  if (id !== null && id.length <= 99) parts.push(Buffer.from(String.fromCharCode(ISSUER_AUTH_MARK) + String(id.length).padStart(2, '0'), 'latin1'), id);
  if (balancesN3 !== null) parts.push(Buffer.from(String.fromCharCode(BALANCES_MARK) + balancesN3, 'latin1'));
  parts.push(Buffer.from(rc.padEnd(CODE_PREFIX_BYTES), 'latin1'), body);
  return Buffer.concat(parts);
}

/**
 * A repeat's answer from a cache entry: the framed first answer (fields 2 and 55 from the repeat
 * itself, 54 from the balances the hold appended) and its field 39. Never throws for a key store
 * that fails: the answer then goes without field 55. An entry that does not parse answers null
 * (the repeat is then dropped and counted, as an undecodable one).
 */
export async function replayAnswer(codec: IsoCodec, cached: Buffer, request: IsoMessage, keys?: KeyStore): Promise<{ framed: Buffer | null; code: string }> {
  let at = 0;
  let end = cached.length;
  let configId: string | null = null;
  if (cached[at] === ISSUER_AUTH_MARK) {
    const n = Number(cached.toString('latin1', at + 1, at + 3));
    configId = cached.toString('latin1', at + 3, at + 3 + n);
    at += 3 + n;
  }
  let f54: string | null = null;
  if (cached[at] === BALANCES_MARK) {
    const n3 = cached.toString('latin1', at + 1, at + 4);
    at += 4;
    const blockedBar = cached.lastIndexOf(0x7c);
    const availableBar = blockedBar > at ? cached.lastIndexOf(0x7c, blockedBar - 1) : -1;
    if (availableBar < at) return { framed: null, code: cached.subarray(at, at + CODE_PREFIX_BYTES).toString('latin1').trim() };
    const available = Number(cached.toString('latin1', availableBar + 1, blockedBar));
    const blocked = Number(cached.toString('latin1', blockedBar + 1));
    f54 = balancesField54(n3, available, blocked);
    end = availableBar;
  }
  const rc = cached.subarray(at, at + CODE_PREFIX_BYTES).toString('latin1').trim();
  const body = cached.subarray(at + CODE_PREFIX_BYTES, end);
  const pan = request.fields.get(2);
  const f55 = configId === null || keys === undefined ? null : await issuerAuthOfRepeat(keys, configId, request, rc);
  if (pan === undefined && f55 === null && f54 === null) return { framed: frame(body), code: rc };
  const decoded = codec.unpack(body);
  if (!decoded.ok) return { framed: null, code: rc };
  // Field order is the bitmap's, so setting fields 2, 54 and 55 last changes nothing in the packed bytes.
  if (pan !== undefined) decoded.msg.fields.set(2, pan);
  if (f54 !== null) decoded.msg.fields.set(54, f54);
  if (f55 !== null) decoded.msg.fields.set(55, f55);
  return { framed: frame(codec.pack(decoded.msg)), code: rc };
}

/** Field 55 for a repeat: its own ARQC verified again under the program's keys, and its ARPC with the first answer's ARC; null when it does not verify. */
async function issuerAuthOfRepeat(keys: KeyStore, configId: string, request: IsoMessage, rc: string): Promise<string | null> {
  try {
    const data = cardDataOf(request.fields);
    const pan = messagePan(request.fields);
    if (isFieldError(data) || data.arqc === null || pan === undefined || !keys.hasKeys(configId)) return null;
    if (!await keys.verifyArqc(configId, pan, data.panSequence, data.arqc)) return null;
    return await issuerAuthenticationData(keys, { configId, pan, panSequence: data.panSequence, atc: data.arqc.atc, arqc: data.arqc.arqc }, rc);
  } catch {
    return null;
  }
}

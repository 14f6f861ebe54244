// One batch of frames: decode, route by MTI, decide, encode. Every frame gets exactly one answer
// slot; the ledger calls of a batch run concurrently, so ioredis sends them in one pipeline.
import type { IsoMessage, UnpackResult } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import { responseCode } from '../reasons.js';
import { answer, ECHO_FIELDS, responseMti } from './respond.js';
import { authorize } from './authorize.js';
import { reverse } from './reverse.js';
import { financial } from './financial.js';
import { authorizationAdvice, financialAdvice } from './advice.js';
import { networkManagement } from './network.js';
import { frame } from '../net/framer.js';
import { maskPan, maskPansIn } from '../iso/mask.js';
import { newOutcome, type Inbound } from './outcome.js';
import { BatchDeadlines } from './deadline.js';
import { isRecorded, transactionObject } from './record.js';
import { duplicateKey, recordIdOf, type RecordWrite } from '../records.js';
import { acquirer11, text } from './wire.js';

export interface BatchCounters {
  malformedDropped: number;
}

/** One decided money message, for the live feed and the metrics (no PAN: masked first 6 / last 4). */
export interface ProcessedEvent {
  timeMs: number;
  mti: string;
  responseCode: string;
  reason: string;
  maskedPan: string | null;
  amountMinor: number | null;
  currency: string | null;
  txId: string | null;
  /** Seconds the hold / debit script took as seen by the worker (null: no such call). */
  scriptSeconds: number | null;
}

export interface BatchOutput {
  /** Framed answers, null where a frame is dropped. */
  frames: Array<Buffer | null>;
  /** Field 39 of each answer ('' where dropped): the main thread labels its metrics with it. */
  codes: string[];
  /** The money messages decided in this batch (duplicates answered from the cache are not repeated). */
  events: ProcessedEvent[];
}

type Handler = (ctx: ProcessContext, m: Inbound, mti: string) => Promise<IsoMessage> | IsoMessage;

/** Request MTI (repeats included) → handler. Anything else is answered 12 (SPEC §2.2). */
const ROUTES = new Map<string, Handler>([
  ['0100', authorize], ['0101', authorize],
  ['0120', authorizationAdvice], ['0121', authorizationAdvice],
  ['0200', financial], ['0201', financial],
  ['0220', financialAdvice], ['0221', financialAdvice],
  ['0400', reverse], ['0401', reverse], ['0420', reverse], ['0421', reverse],
  ['0800', networkManagement], ['0801', networkManagement],
]);

/** A routed message waiting for its decision. */
interface Work { m: Inbound; mti: string; handler: Handler; i: number; dk: Buffer | null }

/** What one batch collects while it decides: answers, codes, feed events, records to write. */
interface BatchState { out: Array<Buffer | null>; codes: string[]; events: ProcessedEvent[]; writes: RecordWrite[] }

export async function processBatch(ctx: ProcessContext, frames: readonly Buffer[], counters: BatchCounters): Promise<BatchOutput> {
  const st: BatchState = { out: new Array(frames.length).fill(null), codes: new Array(frames.length).fill(''), events: [], writes: [] };
  const takenMs = ctx.now();
  const deadlines = new BatchDeadlines(takenMs, ctx.now);
  const work: Work[] = [];
  for (let i = 0; i < frames.length; i++) {
    const decoded = ctx.codec.unpack(frames[i] as Buffer);
    if (!decoded.ok) {
      const res = formatError(ctx, decoded);
      if (res === null) counters.malformedDropped++;
      else { st.out[i] = encode(ctx, res); st.codes[i] = code(res); }
      continue;
    }
    const m = decoded.msg as Inbound;
    m.o = newOutcome(text(m.fields, 3));
    m.takenMs = takenMs;
    m.deadlines = deadlines;
    m.cardLookup = null;
    const mti = responseMti(m.mti);
    const handler = ROUTES.get(m.mti);
    if (mti === null) { counters.malformedDropped++; continue; }
    if (handler === undefined) {
      const res = answer(m.fields, mti, ECHO_FIELDS, responseCode('UNKNOWN_TRANSACTION_TYPE', ctx.dialect));
      st.out[i] = encode(ctx, res);
      st.codes[i] = code(res);
      continue;
    }
    work.push({ m, mti, handler, i, dk: dedupKey(ctx, m) });
  }
  if (work.length === 0) return { frames: st.out, codes: st.codes, events: st.events };

  // SPEC §2.3: a repeat (same MTI class, fields 2, 11, 7, 32, 41) within 48 hours gets the first
  // answer byte for byte. The batch's duplicate lookups (one MGET) and card lookups go out in one
  // round trip; the ledger's idempotency keys make a repeat that overtakes the first answer's
  // caching (two copies in one batch) move no money either.
  for (const w of work) {
    const pan = w.m.fields.get(2);
    if (typeof pan === 'string' && w.m.mti.charCodeAt(1) !== 56) w.m.cardLookup = ctx.cards.findByPan(pan);
  }
  let cached: Array<Buffer | null>;
  try {
    cached = await ctx.records.cachedAnswers(work.map((w) => w.dk));
  } catch (err) {
    // Redis unreachable: each message meets the outage in its own ledger calls and gets 96.
    logError(err);
    cached = work.map(() => null);
  }

  const pending: Array<Promise<void>> = [];
  let byCard: Map<string, Promise<void>> | undefined;
  work.forEach((w, k) => {
    const hit = cached[k];
    if (hit !== null && hit !== undefined) {
      w.m.cardLookup?.catch(() => { /* not needed: the first answer stands */ });
      st.out[w.i] = hit.subarray(CODE_PREFIX_BYTES);
      st.codes[w.i] = hit.subarray(0, CODE_PREFIX_BYTES).toString('latin1').trim();
      return;
    }
    // Messages about one card run in the order they were read: an original and its reversal or
    // clearing pipelined into the same batch must reach the ledger in that order, or the second
    // would find no original and the first would then hold money that was already settled.
    const pan = w.m.fields.get(2);
    const before = typeof pan === 'string' ? byCard?.get(pan) : undefined;
    const run = before === undefined ? settle(ctx, w, st) : before.then(() => settle(ctx, w, st));
    if (typeof pan === 'string') (byCard ??= new Map()).set(pan, run);
    pending.push(run);
  });
  if (pending.length > 0) await Promise.all(pending);
  deadlines.clear();
  // Records and duplicate answers: one script call for the batch, written after the answers and
  // not awaited, so the write joins the pipeline of the next batch's calls.
  if (st.writes.length > 0) ctx.records.writeMany(st.writes).catch(logError);
  return { frames: st.out, codes: st.codes, events: st.events };
}

function code(m: IsoMessage): string {
  const c = m.fields.get(39);
  return typeof c === 'string' ? c : '';
}

async function settle(ctx: ProcessContext, w: Work, st: BatchState): Promise<void> {
  const { m, mti, handler, i, dk } = w;
  let res: IsoMessage;
  try {
    res = await handler(ctx, m, mti);
  } catch (err) {
    // Redis unreachable or a script error: the processor gets a system error, never silence, and
    // nothing is cached or recorded (the ledger's idempotency key lets a repeat find what was, or
    // was not, done).
    logError(err);
    res = answer(m.fields, mti, ECHO_FIELDS, responseCode('UNKNOWN_ERROR', ctx.dialect));
    st.out[i] = encode(ctx, res);
    st.codes[i] = code(res);
    return;
  }
  const framed = encode(ctx, res);
  const rc = code(res);
  st.out[i] = framed;
  st.codes[i] = rc;
  if (dk === null || framed === null) return;
  const nowMs = ctx.now();
  const rec = isRecorded(m.mti) ? transactionObject(m, recordIdOf(dk), rc, nowMs) : null;
  const approvedOriginal = rec !== null && m.o.processing === 'SUCCESS' && m.o.status !== 'REVERSED' && m.o.referenceTxId === null && m.o.category === 'DEBIT';
  st.writes.push({ dk, rec, answer: Buffer.concat([Buffer.from(rc.padEnd(CODE_PREFIX_BYTES), 'latin1'), framed]), nowMs, indexRrn: approvedOriginal });
  if (rec !== null) {
    const pan = text(m.fields, 2);
    st.events.push({
      timeMs: nowMs, mti: m.mti, responseCode: rc, reason: m.o.reason, maskedPan: pan === undefined ? null : maskPan(pan),
      amountMinor: m.o.amountMinor, currency: rec.currency, txId: m.o.txId, scriptSeconds: m.o.scriptSeconds,
    });
  }
}

/** The cached answer starts with field 39, space-padded to 4 bytes (for the metrics of a repeat). */
const CODE_PREFIX_BYTES = 4;

/** The duplicate key of a money message (network management is never a duplicate), or null when its fields cannot form one. */
function dedupKey(ctx: ProcessContext, m: Inbound): Buffer | null {
  if (!isRecorded(m.mti)) return null;
  const stan = text(m.fields, 11);
  const f7 = text(m.fields, 7);
  if (stan === undefined || f7 === undefined) return null;
  return duplicateKey(ctx.duplicateKeyHmac, m.mti.slice(0, 3), text(m.fields, 2) ?? '', stan, f7, acquirer11(text(m.fields, 32)), text(m.fields, 41) ?? '');
}

/** A body that did not decode: answered 30 when MTI and STAN could be read, else dropped (SPEC §2.2). */
function formatError(ctx: ProcessContext, r: Extract<UnpackResult, { ok: false }>): IsoMessage | null {
  const mti = r.partial.mti === undefined ? null : responseMti(r.partial.mti);
  if (mti === null || !r.partial.fields.has(11)) return null;
  return answer(r.partial.fields, mti, ECHO_FIELDS, responseCode('FORMAT_ERROR', ctx.dialect));
}

function encode(ctx: ProcessContext, m: IsoMessage): Buffer | null {
  let body: Buffer;
  try {
    body = ctx.codec.pack(m);
  } catch (err) {
    // An answer that cannot be packed is a bug in the deciding code, not the peer's fault: it is
    // logged (the error names the field, never its value) and the request is left unanswered.
    logError(err);
    return null;
  }
  return frame(body);
}

let lastErrorLogMs = 0;
function logError(err: unknown): void {
  // At most one line a second: a Redis outage must not turn into a log flood.
  const now = Date.now();
  if (now - lastErrorLogMs < 1000) return;
  lastErrorLogMs = now;
  const e = err as { code?: string; message?: string };
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'message processing failed', code: e.code ?? 'SW_ERR_PROCESSING', error: maskPansIn(String(e.message ?? err).slice(0, 200)) }) + '\n');
}

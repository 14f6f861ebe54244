// One batch of frames: decode, route by the message-class table, decide (each handler returns a
// Decision value), render (render.ts), encode. Every frame gets exactly one answer slot; the
// ledger calls of a batch run concurrently, so ioredis sends them in one pipeline.
import { log } from '../../log/index.js';
import type { IsoMessage, UnpackResult } from '../../iso/codec.js';
import type { ProcessContext } from './context.js';
import { responseCode } from '../../iso/reasons.js';
import { decide, type Decision, type Request } from './decision.js';
import { BatchDeadlines } from './deadline.js';
import { MESSAGE_CLASSES, responseMti, type MessageClass } from './messages.js';
import { processingCodeOf, type ProcessingCode } from '../../iso/processing.js';
import { PreconditionFailedError } from '../../ledger/index.js';
import type { SeenCard } from '../../stores/cards.js';
import { answer, ECHO_FIELDS, issuerAuthenticationData, renderAnswer, renderEvent, renderRecord, type ProcessedEvent } from './render.js';
import { messagePan } from '../../cardauth/fields.js';
import { duplicateKey, recordIdOf, type RecordWrite, type TransactionObject } from '../../stores/records.js';
import { acquirer11, text } from '../../iso/wire.js';
import type { ApprovalRecord } from '../../ledger/index.js';
import { compensate } from './compensation.js';
import { frame } from '../../iso/frame.js';
import { cacheableAnswer, replayAnswer } from './replay.js';
import { notifyTransaction } from './partner.js';

export type { ProcessedEvent } from './render.js';

export interface BatchCounters {
  malformedDropped: number;
}

export interface BatchOutput {
  /** Framed answers, null where a frame is dropped. */
  frames: Array<Buffer | null>;
  /** Field 39 of each answer ('' where dropped): the main thread labels its metrics with it. */
  codes: string[];
  /** Why a frame got no answer (safe to log: never quotes content), null where it was answered. */
  dropped: Array<string | null>;
  /** The money messages decided in this batch (duplicates answered from the cache are not repeated). */
  events: ProcessedEvent[];
}

/**
 * A routed message waiting for its decision. `approval`: the record its hold carried
 * (Request.recordApproval), as rendered then; set once the hold's arguments were built.
 */
interface Work { req: Request; i: number; dk: Buffer | null; approval?: { rec: TransactionObject; nowMs: number; bytes: string } }

/** What one batch collects while it decides: answers, codes, feed events, records to write. */
interface BatchState { out: Array<Buffer | null>; codes: string[]; events: ProcessedEvent[]; writes: RecordWrite[] }

export async function processBatch(ctx: ProcessContext, frames: readonly Buffer[], counters: BatchCounters): Promise<BatchOutput> {
  const n = frames.length;
  const st: BatchState = { out: new Array(n).fill(null), codes: new Array(n).fill(''), events: [], writes: [] };
  const dropped: Array<string | null> = new Array(n).fill(null);
  const takenMs = ctx.now();
  const deadlines = new BatchDeadlines(takenMs, ctx.now);
  const work: Work[] = [];
  for (let i = 0; i < n; i++) {
    const decoded = ctx.codec.unpack(frames[i] as Buffer);
    if (!decoded.ok) {
      const res = formatError(ctx, decoded);
      if (res === null) { counters.malformedDropped++; dropped[i] = dropReason(decoded); }
      else { st.out[i] = encode(ctx, res); st.codes[i] = code(res); }
      continue;
    }
    const msg = decoded.msg;
    const cls = MESSAGE_CLASSES.get(msg.mti);
    if (cls === undefined) {
      const mti = responseMti(msg.mti);
      if (mti === null) { counters.malformedDropped++; dropped[i] = `MTI ${safeMti(msg.mti)} is not a request`; continue; }
      const res = answer(msg.fields, mti, ECHO_FIELDS, responseCode('UNKNOWN_TRANSACTION_TYPE', ctx.dialect));
      st.out[i] = encode(ctx, res);
      st.codes[i] = code(res);
      continue;
    }
    const pan = cls.kind === 'NETWORK' ? undefined : messagePan(msg.fields);
    const pc = processingCodeOf(text(msg.fields, 3));
    const dk = cls.recorded ? dedupKey(ctx, msg) : null;
    // The PAN's index (an HMAC) once, for the remembered card and the card read alike.
    const index = pan === undefined || dk === null || !guardedKind(ctx, cls, pc) ? undefined : ctx.cards.panIndex(pan);
    const seen = index === undefined ? undefined : guardable(ctx, index);
    if (seen !== undefined) {
      // One round trip: the card as this thread last read it, re-checked with the duplicate
      // lookup inside the hold's own script (Request.guard).
      const g = seen.guard;
      const guard = { hashKey: g.hashKey, fields: g.fields, expected: g.expected, absentKey: ctx.records.duplicateAnswerKey(dk!) };
      const w: Work = { req: undefined as unknown as Request, i, dk };
      w.req = { msg, cls, pc, takenMs, deadlines, card: Promise.resolve(seen.card), guard, recordApproval: (d) => recordApproval(ctx, w, d) };
      work.push(w);
      continue;
    }
    work.push({ req: { msg, cls, pc, takenMs, deadlines, card: pan === undefined ? null : ctx.cards.findByPan(pan, index) }, i, dk });
  }
  if (work.length === 0) return { frames: st.out, codes: st.codes, dropped, events: st.events };

  // SPEC §2.3: a repeat (same MTI class, fields 2, 11, 7, 32, 41) within 48 hours gets the first
  // answer byte for byte. The batch's duplicate lookups (one MGET) and card lookups go out in one
  // round trip; the ledger's idempotency keys make a repeat that overtakes the first answer's
  // caching (two copies in one batch) move no money either.
  let cached: Array<Buffer | null>;
  try {
    cached = await ctx.records.cachedAnswers(work.map((w) => (w.req.guard === undefined ? w.dk : null)));
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
      w.req.card?.catch(() => { /* not needed: the first answer stands */ });
      pending.push(replayInto(ctx, st, w, hit));
      return;
    }
    // Messages about one card run in the order they were read: an original and its reversal or
    // clearing pipelined into the same batch must reach the ledger in that order, or the second
    // would find no original and the first would then hold money that was already settled.
    const pan = messagePan(w.req.msg.fields);
    const before = pan === undefined ? undefined : byCard?.get(pan);
    const run = before === undefined ? settle(ctx, w, st) : before.then(() => settle(ctx, w, st));
    if (pan !== undefined) (byCard ??= new Map()).set(pan, run);
    pending.push(run);
  });
  if (pending.length > 0) await Promise.all(pending);
  deadlines.clear();
  // Records and duplicate answers: written after the answers and not awaited; the batches that
  // finish in one event-loop turn share one script call.
  if (st.writes.length > 0) ctx.records.queue(st.writes, logError);
  return { frames: st.out, codes: st.codes, dropped, events: st.events };
}

function code(m: IsoMessage): string {
  const c = m.fields.get(39);
  return typeof c === 'string' ? c : '';
}

/** A repeat answered from the duplicate-answer cache (its field 55, if any, made again from its own ICC data). */
async function replayInto(ctx: ProcessContext, st: BatchState, w: Work, hit: Buffer): Promise<void> {
  const replay = await replayAnswer(ctx.codec, hit, w.req.msg, ctx.keys);
  st.out[w.i] = replay.framed;
  st.codes[w.i] = replay.code;
}

/** Decides one message and renders its answer, record and feed event. */
async function settle(ctx: ProcessContext, w: Work, st: BatchState): Promise<void> {
  const { req, i, dk } = w;
  let d: Decision;
  try {
    const got = await decideGuarded(ctx, w, st);
    if (got === REPLAYED) return;
    d = got;
  } catch (err) {
    // Redis unreachable or a script error: the processor gets a system error, never silence, and
    // nothing is cached or recorded (the ledger's idempotency key lets a repeat find what was, or
    // was not, done). A hold that carried its approval's record may have landed with it: the
    // hold is undone (deadline.ts), and the record and cached answer are forgotten.
    logError(err);
    const a = w.approval;
    if (a !== undefined && dk !== null && a.rec.balanceId !== null) {
      const balanceId = a.rec.balanceId;
      compensate(() => ctx.records.forgetApproval(dk, balanceId, a.rec.id));
    }
    const res = renderAnswer(ctx.dialect, req, decide(req, { reason: 'UNKNOWN_ERROR', acknowledged: false }));
    st.out[i] = encode(ctx, res);
    st.codes[i] = code(res);
    return;
  }
  const res = renderAnswer(ctx.dialect, req, d);
  const rc = code(res);
  // A verified ARQC: the answer carries the ARPC of its response code (field 55, tag 91), never cached.
  if (d.issuerAuth !== null) res.fields.set(55, await issuerAuthenticationData(ctx.keys, d.issuerAuth, rc));
  const framed = encode(ctx, res);
  st.out[i] = framed;
  st.codes[i] = rc;
  if (dk === null || framed === null) return;
  // Written by the hold with the approval (Request.recordApproval): the record as rendered then.
  const l = d.ledger;
  const held = l.op === 'HOLD' || l.op === 'POST' ? l : null;
  const recorded = held !== null && held.recorded === true ? w.approval : undefined;
  const nowMs = recorded?.nowMs ?? ctx.now();
  const rec = recorded?.rec ?? renderRecord(req, d, recordIdOf(dk), rc, nowMs);
  const program = d.card === null ? undefined : ctx.programs.byId(d.card.configId);
  if (program !== undefined && program.partner !== null) {
    // A program with a partner is told of every message, through the outbox, before the answer leaves.
    try { await notifyTransaction(ctx, program, rec, d); } catch (err) { logError(err); }
  }
  if (recorded === undefined) {
    // A stand-in answer replaces what a hold that carried its approval's record may have written
    // on landing after the deadline (its call went out first on this connection, so lands first),
    // and only that: the record of an earlier answer to the same message stands.
    const replaces = w.approval !== undefined && held !== null && held.standIn ? w.approval.bytes : undefined;
    const write: RecordWrite = { dk, rec, answer: cacheableAnswer(ctx.codec, res, rc, d.issuerAuth?.configId ?? null), nowMs, indexRrn: d.original, replaces };
    // That replacement is retried like the undo it goes with (compensation.ts): a record written
    // after the answer may be lost to a failure, a cached 00 for a hold that was undone may not.
    if (replaces === undefined) st.writes.push(write);
    else compensate(() => ctx.records.writeMany([write]));
  }
  st.events.push(renderEvent(req, d, rec, rc, nowMs));
}

/**
 * Request.recordApproval of a message decided with a remembered card: its answer and record as
 * the approval `d` (field 54 with zero balances), for the hold to write with the approval. The
 * hold fills field 54 in: it ends the cached answer, being the highest field an answer carries
 * (the ledger refuses an answer that does not end so). When the cached answer lives in another
 * slot group, undefined: the record is then written after the answer, as for any message.
 */
function recordApproval(ctx: ProcessContext, w: Work, d: Decision): ApprovalRecord | undefined {
  const b = d.balance;
  if (w.dk === null || b === null) return undefined;
  const res = renderAnswer(ctx.dialect, w.req, d);
  const rc = code(res);
  const answer = cacheableAnswer(ctx.codec, res, rc, d.issuerAuth?.configId ?? null);
  const nowMs = ctx.now();
  const rec = renderRecord(w.req, d, recordIdOf(w.dk), rc, nowMs);
  const record = ctx.records.approvalRecord(w.dk, rec, answer, nowMs, b.currencyN3);
  if (record === null) return undefined;
  w.approval = { rec, nowMs, bytes: record.args[0] as string };
  return record;
}

/**
 * Decided by the handler. A message decided with a remembered card (Request.guard) stands only
 * when its guarded ledger call ran: a failed guard, or a refusal before the ledger (made on
 * memory alone, e.g. a lock since lifted), decides it again the usual way: duplicate lookup,
 * card read, handler.
 */
async function decideGuarded(ctx: ProcessContext, w: Work, st: BatchState): Promise<Decision | typeof REPLAYED> {
  const { req } = w;
  if (req.guard === undefined) return req.cls.handler(ctx, req);
  try {
    const d = await req.cls.handler(ctx, req);
    if (d.ledger.op !== 'NONE') return d;
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
  }
  // The guarded hold did nothing (its guard failed) or never went out: no record of its to forget
  // or replace, whatever comes of deciding again.
  w.approval = undefined;
  const pan = messagePan(req.msg.fields)!;
  const [hit] = await ctx.records.cachedAnswers([w.dk]);
  if (hit !== null && hit !== undefined) {
    const replay = await replayAnswer(ctx.codec, hit, req.msg, ctx.keys);
    st.out[w.i] = replay.framed;
    st.codes[w.i] = replay.code;
    return REPLAYED;
  }
  ctx.cards.forget(pan);
  const { guard: _, recordApproval: _r, ...unguarded } = req;
  return req.cls.handler(ctx, { ...unguarded, card: ctx.cards.findByPan(pan) });
}

const REPLAYED = Symbol('replayed');

/**
 * The remembered card to decide an 0100/0200 debit with in one round trip (Request.guard), or
 * undefined: the card was not read on this thread yet, or its program has a partner (whose calls
 * come before the hold, and must not be repeated on a second decision).
 */
function guardable(ctx: ProcessContext, panIndex: string): SeenCard | undefined {
  const seen = ctx.cards.seenByIndex(panIndex);
  if (seen === undefined) return undefined;
  const program = ctx.programs.byId(seen.card.configId);
  return program === undefined || program.partner !== null ? undefined : seen;
}

/** An 0100/0200 debit, on a Redis where guarded holds are used (ProcessContext.guardedHolds). */
function guardedKind(ctx: ProcessContext, cls: MessageClass, pc: ProcessingCode | undefined): boolean {
  return ctx.guardedHolds && pc !== undefined && pc.kind === 'DEBIT' && (cls.kind === 'AUTHORIZATION' || cls.kind === 'FINANCIAL');
}

/** The duplicate key of a money message (network management is never a duplicate), or null when its fields cannot form one. */
function dedupKey(ctx: ProcessContext, msg: IsoMessage): Buffer | null {
  const f = msg.fields;
  const stan = text(f, 11);
  const f7 = text(f, 7);
  if (stan === undefined || f7 === undefined) return null;
  return duplicateKey(ctx.duplicateKeyHmac, msg.mti.slice(0, 3), messagePan(f) ?? '', stan, f7, acquirer11(text(f, 32)), text(f, 41) ?? '');
}

/** A body that did not decode: answered 30 when MTI and STAN could be read, else dropped (SPEC §2.2). */
function formatError(ctx: ProcessContext, r: Extract<UnpackResult, { ok: false }>): IsoMessage | null {
  const mti = responseMti(r.partial.mti);
  if (mti === null || !r.partial.fields.has(11)) return null;
  return answer(r.partial.fields, mti, ECHO_FIELDS, responseCode('FORMAT_ERROR', ctx.dialect));
}

/** Why an undecodable frame gets no answer: the codec's first error (it names the field and offsets, never content). */
function dropReason(r: Extract<UnpackResult, { ok: false }>): string {
  const e = r.errors[0];
  const first = e === undefined ? 'undecodable' : `${e.code}: field ${e.field}: ${e.reason}`;
  return r.partial.mti === undefined || responseMti(r.partial.mti) === null ? `no request MTI; ${first}` : `no STAN (field 11); ${first}`;
}

function safeMti(mti: string): string {
  return /^\d{4}$/.test(mti) ? mti : '(not digits)';
}

function encode(ctx: ProcessContext, m: IsoMessage): Buffer | null {
  try {
    return frame(ctx.codec.pack(m));
  } catch (err) {
    // An answer that cannot be packed is a bug in the deciding code, not the peer's fault: it is
    // logged (the error names the field, never its value) and the request is left unanswered.
    logError(err);
    return null;
  }
}

let lastErrorLogMs = 0;
function logError(err: unknown): void {
  // At most one line a second: a Redis outage must not turn into a log flood.
  const now = Date.now();
  if (now - lastErrorLogMs < 1000) return;
  lastErrorLogMs = now;
  const e = err as { code?: string; message?: string };
  log('error', 'message processing failed', { code: e.code ?? 'SW_ERR_PROCESSING', error: String(e.message ?? err).slice(0, 200) });
}

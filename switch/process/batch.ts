// One batch of frames, the imperative shell around the planners: decode and route each frame by
// the message-class table, answer repeats from the duplicate cache, decide each message (facts,
// plan, effects: run/run.ts), render its answer, record and feed event (render.ts), make every
// record durable, then hand the framed answers back. Every frame gets exactly one answer slot; the
// ledger calls of a batch run concurrently, so ioredis sends them in one pipeline.
import { log } from '../../log/index.js';
import type { IsoMessage, UnpackResult } from '../../iso/codec.js';
import { frame } from '../../iso/frame.js';
import { responseCode } from '../../iso/reasons.js';
import { processingCodeOf, type ProcessingCode } from '../../iso/processing.js';
import { text } from '../../iso/wire.js';
import type { SeenCard } from '../../stores/cards.js';
import { messageDuplicateKey, recordIdOf, type RecordWrite } from '../../stores/records.js';
import type { ProcessContext } from './run/context.js';
import { decide as decideDefaults, type Decision, type FieldFault, type MessageClass } from './decision.js';
import { MESSAGE_CLASSES, responseMti } from './messages.js';
import { answer, ECHO_FIELDS, issuerAuthenticationData, renderAnswer, renderEvent, renderRecord, type ProcessedEvent } from './render.js';
import { cacheableAnswer, replayAnswer } from './replay.js';
import { messagePan } from '../../cardauth/fields.js';
import { BatchDeadlines } from './run/budget.js';
import { compensate, undoRequest, undoTransaction } from './run/compensation.js';
import { enqueueAll } from './run/partner.js';
import { decide, partnerUndo, type Work } from './run/run.js';
import { transactionNotification } from './plan/partner-calls.js';

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
  /** Where a frame was answered 30 (format error): the field at fault and the problem, else null. */
  faults: Array<FieldFault | null>;
}

/** Decides one batch of frames (message bodies, length prefix stripped): one answer slot per frame. */
export async function processBatch(ctx: ProcessContext, frames: readonly Buffer[], counters: BatchCounters): Promise<BatchOutput> {
  const b = new BatchAnswers(frames.length);
  const takenMs = ctx.now();
  const work = route(ctx, frames, takenMs, b, counters);
  if (work.length > 0) {
    const deadlines = new BatchDeadlines(takenMs, ctx.now);
    try {
      const todo = await answerRepeats(ctx, work, b);
      await inCardOrder(todo, (w) => settle(ctx, w, b, deadlines));
    } finally {
      deadlines.clear();
    }
    await persist(ctx, b);
  }
  return b.output();
}

/** A decided message whose record must be durable before its answer leaves. */
interface PendingRecord { readonly write: RecordWrite; readonly w: Work; readonly d: Decision; readonly event: ProcessedEvent }

/** What one batch collects while it decides: answers, codes, drop reasons, records to write, feed events. */
class BatchAnswers {
  readonly frames: Array<Buffer | null>;
  readonly codes: string[];
  readonly dropped: Array<string | null>;
  readonly events: ProcessedEvent[] = [];
  readonly records: PendingRecord[] = [];
  readonly faults: Array<FieldFault | null>;
  constructor(n: number) {
    this.frames = new Array<Buffer | null>(n).fill(null);
    this.codes = new Array<string>(n).fill('');
    this.dropped = new Array<string | null>(n).fill(null);
    this.faults = new Array<FieldFault | null>(n).fill(null);
  }
  answer(i: number, framed: Buffer | null, code: string): void { this.frames[i] = framed; this.codes[i] = code; }
  drop(i: number, why: string): void { this.frames[i] = null; this.codes[i] = ''; this.dropped[i] = why; }
  output(): BatchOutput { return { frames: this.frames, codes: this.codes, dropped: this.dropped, events: this.events, faults: this.faults }; }
}

/**
 * Decodes each frame and routes it by the message-class table: a body that does not decode is
 * answered 30 when its MTI and STAN can be read (else dropped), an unknown MTI 12; the rest become
 * work, with their duplicate key and card lookup started (the card this thread remembers, when it
 * may decide the message in one round trip).
 */
function route(ctx: ProcessContext, frames: readonly Buffer[], takenMs: number, b: BatchAnswers, counters: BatchCounters): Work[] {
  const work: Work[] = [];
  for (let i = 0; i < frames.length; i++) {
    const decoded = ctx.codec.unpack(frames[i] as Buffer);
    if (!decoded.ok) {
      const res = formatError(ctx, decoded);
      if (res === null) { counters.malformedDropped++; b.drop(i, dropReason(decoded)); continue; }
      b.answer(i, encode(ctx, res), code(res));
      const e = decoded.errors[0];
      b.faults[i] = e === undefined ? null : { field: e.field, problem: `${e.code}: ${e.reason}` };
      continue;
    }
    const msg = decoded.msg;
    const cls = MESSAGE_CLASSES.get(msg.mti);
    if (cls === undefined) {
      const mti = responseMti(msg.mti);
      if (mti === null) { counters.malformedDropped++; b.drop(i, `MTI ${safeMti(msg.mti)} is not a request`); continue; }
      const res = answer(msg.fields, mti, ECHO_FIELDS, responseCode('UNKNOWN_TRANSACTION_TYPE', ctx.dialect));
      b.answer(i, encode(ctx, res), code(res));
      continue;
    }
    const pan = cls.kind === 'NETWORK' ? undefined : messagePan(msg.fields);
    const pc = processingCodeOf(text(msg.fields, 3));
    const dk = cls.recorded ? messageDuplicateKey(ctx.panIndexKey, msg.mti, msg.fields, messagePan(msg.fields)) : null;
    // The PAN's index (an HMAC) once, for the remembered card and the card read alike.
    const index = pan === undefined || dk === null || !guardedKind(ctx, cls, pc) ? undefined : ctx.cards.panIndex(pan);
    const seen = index === undefined ? undefined : guardable(ctx, index);
    const req = { msg, cls, pc, takenMs };
    if (seen !== undefined) {
      const g = seen.guard;
      const guard = { hashKey: g.hashKey, fields: g.fields, expected: g.expected, absentKey: ctx.records.duplicateAnswerKey(dk!) };
      work.push({ req, planner: cls.plan, i, dk, card: Promise.resolve(seen.card), guard, approval: undefined, plan: undefined, issuerAuth: null });
    } else {
      work.push({ req, planner: cls.plan, i, dk, card: pan === undefined ? null : ctx.cards.findByPan(pan, index), guard: undefined, approval: undefined, plan: undefined, issuerAuth: null });
    }
  }
  return work;
}

/**
 * A repeat (same MTI class, fields 2, 11, 7, 32, 41) within the duplicate window gets the first
 * answer byte for byte. The batch's duplicate lookups (one MGET) and card lookups go out in one
 * round trip; a message decided with a remembered card has its lookup inside its hold's script.
 * Returns the work still to decide.
 */
async function answerRepeats(ctx: ProcessContext, work: Work[], b: BatchAnswers): Promise<Work[]> {
  let cached: Array<Buffer | null>;
  try {
    cached = await ctx.records.cachedAnswers(work.map((w) => (w.guard === undefined ? w.dk : null)));
  } catch (err) {
    // Redis unreachable: each message meets the outage in its own ledger calls.
    logError(err);
    return work;
  }
  const todo: Work[] = [];
  const replays: Array<Promise<void>> = [];
  work.forEach((w, k) => {
    const hit = cached[k];
    if (hit === null || hit === undefined) { todo.push(w); return; }
    w.card?.catch(() => { /* not needed: the first answer stands */ });
    // A repeat's field 55 (the ARPC of a verified chip read) is made again from its own ICC data.
    replays.push(replayAnswer(ctx.codec, hit, w.req.msg, ctx.keys).then((r) => b.answer(w.i, r.framed, r.code)));
  });
  if (replays.length > 0) await Promise.all(replays);
  return todo;
}

/**
 * Runs `settle` for every message; messages about one card run in the order they were read: an
 * original and its reversal or clearing pipelined into one batch must reach the ledger in that
 * order, or the second would find no original and the first would then hold settled money.
 */
async function inCardOrder(work: readonly Work[], settle: (w: Work) => Promise<void>): Promise<void> {
  const pending: Array<Promise<void>> = [];
  let byCard: Map<string, Promise<void>> | undefined;
  for (const w of work) {
    const pan = messagePan(w.req.msg.fields);
    const before = pan === undefined ? undefined : byCard?.get(pan);
    const run = before === undefined ? settle(w) : before.then(() => settle(w));
    if (pan !== undefined) (byCard ??= new Map()).set(pan, run);
    pending.push(run);
  }
  if (pending.length > 0) await Promise.all(pending);
}

/** Decides one message and renders its answer, and its record and feed event to be written before the answer leaves. */
async function settle(ctx: ProcessContext, w: Work, b: BatchAnswers, deadlines: BatchDeadlines): Promise<void> {
  let got: Awaited<ReturnType<typeof decide>>;
  try {
    got = await decide(ctx, w, deadlines);
  } catch (err) {
    failed(ctx, w, b, err);
    return;
  }
  if ('replayed' in got) { b.answer(w.i, got.replayed.framed, got.replayed.code); return; }
  const d = got;
  const res = renderAnswer(ctx.dialect, w.req, d);
  const rc = code(res);
  // A verified ARQC: the answer carries the ARPC of its response code (field 55, tag 91), never cached.
  if (d.issuerAuth !== null) res.fields.set(55, await issuerAuthenticationData(ctx.keys, d.issuerAuth, rc));
  const framed = encode(ctx, res);
  b.answer(w.i, framed, rc);
  b.faults[w.i] = d.fault;
  const dk = w.dk;
  if (dk === null || framed === null) return;
  // Written by the hold with the approval (HoldArgs.record): the record as rendered then.
  const l = d.ledger;
  const held = l.op === 'HOLD' || l.op === 'POST' ? l : null;
  const carried = held !== null && held.recorded === true ? w.approval : undefined;
  const nowMs = carried?.nowMs ?? ctx.now();
  const rec = carried?.rec ?? renderRecord(w.req, d, recordIdOf(dk), rc, nowMs);
  const program = d.card === null ? undefined : ctx.programs.byId(d.card.configId);
  // A program with a partner is told of every message, through the outbox, before the answer leaves.
  if (program !== undefined && program.partner !== null && ctx.partners.get(program.configId) !== undefined) {
    try { await enqueueAll(ctx, [transactionNotification(program, rec, d)]); } catch (err) { logError(err); }
  }
  const event = renderEvent(w.req, d, rec, rc, nowMs);
  if (carried !== undefined) { b.events.push(event); return; }
  // A stand-in answer replaces what a hold that carried its approval's record may have written on
  // landing after the deadline (its call went out first on this connection, so lands first), and
  // only that: the record of an earlier answer to the same message stands. That replacement is
  // retried like the undo it goes with (compensation.ts).
  const replaces = w.approval !== undefined && held !== null && held.standIn ? w.approval.bytes : undefined;
  const write: RecordWrite = { dk, rec, answer: cacheableAnswer(ctx.codec, res, rc, d.issuerAuth?.configId ?? null), nowMs, indexRrn: d.original, replaces };
  if (replaces !== undefined) { compensate(() => ctx.records.writeMany([write])); b.events.push(event); return; }
  b.records.push({ write, w, d, event });
}

/**
 * A message whose deciding failed (Redis unreachable, a script error): a request gets a system
 * error (96), never silence, and nothing is cached or recorded (the ledger's idempotency lets a
 * repeat find what was, or was not, done); an advice gets no answer, so the network sends it
 * again. A hold that carried its approval's record may have landed with it: the hold is undone
 * (budget.ts), and the record and cached answer are forgotten.
 */
function failed(ctx: ProcessContext, w: Work, b: BatchAnswers, err: unknown): void {
  logError(err);
  const a = w.approval;
  const dk = w.dk;
  if (a !== undefined && dk !== null && a.rec.balanceId !== null) {
    const balanceId = a.rec.balanceId;
    compensate(() => ctx.records.forgetApproval(dk, balanceId, a.rec.id));
  }
  if (w.req.cls.advice) { b.drop(w.i, 'not posted: the store failed; the network sends the advice again'); return; }
  // A partner that may have taken the debit or credit is sent a reversal (the ledger's own undo is budget.ts's).
  const undo = partnerUndo(w);
  if (undo.length > 0) compensate(() => enqueueAll(ctx, undo));
  const res = renderAnswer(ctx.dialect, w.req, decideDefaults(w.req, { reason: 'UNKNOWN_ERROR', acknowledged: false }));
  b.answer(w.i, encode(ctx, res), code(res));
}

/**
 * Makes the batch's records and duplicate answers durable before its answers leave (one script
 * call per slot group, shared with the batches of the same turn). When that write fails nothing
 * answered may lack its record: a request is answered 96 instead and what its approval moved is
 * undone; an advice is not answered (the network sends it again).
 */
async function persist(ctx: ProcessContext, b: BatchAnswers): Promise<void> {
  if (b.records.length === 0) return;
  try {
    await ctx.records.queue(b.records.map((p) => p.write));
    for (const p of b.records) b.events.push(p.event);
  } catch (err) {
    logError(err);
    for (const { w, d } of b.records) {
      if (w.req.cls.advice) { b.drop(w.i, 'not recorded: the store failed; the network sends the advice again'); continue; }
      const l = d.ledger;
      const moved = (l.op === 'HOLD' || l.op === 'POST' || l.op === 'CREDIT') && l.approved;
      if (moved && d.card !== null && d.txId !== null) {
        const card = d.card;
        const txId = d.txId;
        compensate(() => undoTransaction(ctx.ledger, card.balanceId, txId, card.id));
      }
      const undo = partnerUndo(w);
      if (undo.length > 0) compensate(() => enqueueAll(ctx, undo));
      const res = renderAnswer(ctx.dialect, w.req, decideDefaults(w.req, { reason: 'UNKNOWN_ERROR', acknowledged: false }));
      b.answer(w.i, encode(ctx, res), code(res));
    }
  }
}

/** What answering a failed batch needs (a worker died: the main thread answers for it). */
export type RecoveryContext = Pick<ProcessContext, 'codec' | 'dialect' | 'ledger' | 'cards' | 'records' | 'panIndexKey'>;

/**
 * The answers of a batch that failed as a whole (its worker died): each request that names its MTI
 * and STAN gets 96, and every 0100/0200 debit it may have held or posted is undone (with the
 * approval record its hold may have written), so those answers and the ledger agree.
 */
export function answerFailedBatch(ctx: RecoveryContext, frames: readonly Buffer[]): { frames: Array<Buffer | null>; codes: string[] } {
  const out: Array<Buffer | null> = [];
  const codes: string[] = [];
  const rc = responseCode('UNKNOWN_ERROR', ctx.dialect);
  for (const f of frames) {
    const r = ctx.codec.unpack(f);
    if (r.ok) compensate(() => undoRequest(ctx.ledger, ctx.cards, r.msg.mti, r.msg.fields, { store: ctx.records, panIndexKey: ctx.panIndexKey }));
    const fields = r.ok ? r.msg.fields : r.partial.fields;
    const mti = responseMti(r.ok ? r.msg.mti : r.partial.mti);
    let framed: Buffer | null = null;
    if (mti !== null && fields.has(11)) {
      try { framed = frame(ctx.codec.pack(answer(fields, mti, ECHO_FIELDS, rc))); } catch { framed = null; }
    }
    out.push(framed);
    codes.push(framed === null ? '' : rc);
  }
  return { frames: out, codes };
}

function code(m: IsoMessage): string {
  const c = m.fields.get(39);
  return typeof c === 'string' ? c : '';
}

/**
 * The remembered card to decide an 0100/0200 debit with in one round trip (Work.guard), or
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

/** A body that did not decode: answered 30 when MTI and STAN could be read, else dropped. */
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

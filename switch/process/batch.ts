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

export interface BatchCounters {
  malformedDropped: number;
}

export interface BatchOutput {
  /** Framed answers, null where a frame is dropped. */
  frames: Array<Buffer | null>;
  /** Field 39 of each answer ('' where dropped): the main thread labels its metrics with it. */
  codes: string[];
}

type Handler = (ctx: ProcessContext, m: IsoMessage, mti: string) => Promise<IsoMessage> | IsoMessage;

/** Request MTI (repeats included) → handler. Anything else is answered 12 (SPEC §2.2). */
const ROUTES = new Map<string, Handler>([
  ['0100', authorize], ['0101', authorize],
  ['0120', authorizationAdvice], ['0121', authorizationAdvice],
  ['0200', financial], ['0201', financial],
  ['0220', financialAdvice], ['0221', financialAdvice],
  ['0400', reverse], ['0401', reverse], ['0420', reverse], ['0421', reverse],
  ['0800', networkManagement], ['0801', networkManagement],
]);

export async function processBatch(ctx: ProcessContext, frames: readonly Buffer[], counters: BatchCounters): Promise<BatchOutput> {
  const out: Array<Buffer | null> = new Array(frames.length).fill(null);
  const codes: string[] = new Array(frames.length).fill('');
  const pending: Array<Promise<void>> = [];
  let byCard: Map<string, Promise<void>> | undefined;
  for (let i = 0; i < frames.length; i++) {
    const decoded = ctx.codec.unpack(frames[i] as Buffer);
    if (!decoded.ok) {
      const res = formatError(ctx, decoded);
      if (res === null) counters.malformedDropped++;
      else { out[i] = encode(ctx, res); codes[i] = code(res); }
      continue;
    }
    const m = decoded.msg;
    const mti = responseMti(m.mti);
    const handler = ROUTES.get(m.mti);
    if (mti === null) { counters.malformedDropped++; continue; }
    if (handler === undefined) {
      const res = answer(m.fields, mti, ECHO_FIELDS, responseCode('UNKNOWN_TRANSACTION_TYPE', ctx.dialect));
      out[i] = encode(ctx, res);
      codes[i] = code(res);
      continue;
    }
    // Messages about one card run in the order they were read: an original and its reversal or
    // clearing pipelined into the same batch must reach the ledger in that order, or the second
    // would find no original and the first would then hold money that was already settled.
    const pan = m.fields.get(2);
    const before = typeof pan === 'string' ? byCard?.get(pan) : undefined;
    const run = before === undefined
      ? settle(ctx, handler, m, mti, out, codes, i)
      : before.then(() => settle(ctx, handler, m, mti, out, codes, i));
    if (typeof pan === 'string') (byCard ??= new Map()).set(pan, run);
    pending.push(run);
  }
  if (pending.length > 0) await Promise.all(pending);
  return { frames: out, codes };
}

function code(m: IsoMessage): string {
  const c = m.fields.get(39);
  return typeof c === 'string' ? c : '';
}

async function settle(ctx: ProcessContext, handler: Handler, m: IsoMessage, mti: string, out: Array<Buffer | null>, codes: string[], i: number): Promise<void> {
  try {
    const res = await handler(ctx, m, mti);
    out[i] = encode(ctx, res);
    codes[i] = code(res);
  } catch (err) {
    // Redis unreachable or a script error: the processor gets a system error, never silence.
    // (The ledger's idempotency key lets a repeat of this request find what was, or was not, done.)
    logError(err);
    const res = answer(m.fields, mti, ECHO_FIELDS, responseCode('UNKNOWN_ERROR', ctx.dialect));
    out[i] = encode(ctx, res);
    codes[i] = code(res);
  }
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
  process.stderr.write(JSON.stringify({ level: 'error', msg: 'message processing failed', code: e.code ?? 'SW_ERR_PROCESSING', error: String(e.message ?? err).slice(0, 200) }) + '\n');
}

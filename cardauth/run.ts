// Runs a verification plan (verify.ts): each check through the key store, in order, the first
// failure deciding; then what a verification writes to the card, each in one script of the card
// store: a wrong PIN or CVV2 is counted (the card locked at its limit: 3 PINs → lock 6, 5 CVV2s →
// lock 7), a verified chip read consumes its ATC (checked and set atomically, so a replayed
// cryptogram is refused even when two copies race), and a correct PIN or CVV2 resets its count.
// Nothing is written when nothing needs to be: a magstripe, CVV2 or PIN success on a card whose
// counts are zero costs no Redis call, and a chip read's ATC may be left to the hold's own script
// (`atcByHold`, ledger HoldGuard.sequence), which consumes it by the same rule.
//
// A wrong PIN or CVV2 is counted only when the card was read from Redis for this very message
// (`fresh`): a decision made on a remembered card (the one-round-trip path, docs/architecture.md)
// that meets a failure returns STALE instead, and the caller decides again from a fresh read, so
// a PIN changed a moment ago is never counted against the cardholder. The failure script also
// re-checks what the check relied on (the card id, its PVV or CVV2 generation) and the card's lock:
// a card locked meanwhile answers with its lock, a changed PVV with STALE.
import type { Reason } from '../iso/reasons.js';
import { LOCK_REASONS } from '../iso/reasons.js';
import { log } from '../log/index.js';
import { maskPan } from '../iso/mask.js';
import type { IssuerAuthentication, KeyStore } from './keys.js';
import type { VerificationPlan } from './verify.js';

/** The counters a verification moves. */
export type CountedCheck = 'PIN' | 'CVV2';

/** What counting a failure found. */
export type FailureCount =
  | { readonly outcome: 'COUNTED'; readonly failures: number }
  | { readonly outcome: 'LOCKED'; readonly lock: number }
  | { readonly outcome: 'ALREADY_LOCKED'; readonly lock: number }
  | { readonly outcome: 'STALE' };

/** The card-store side of a verification (stores/cards.ts implements it; one script per call, one key). */
export interface VerificationWrites {
  /** A wrong PIN or CVV2, counted unless the card changed (`premise`: the PVV, or the CVV2 generation, checked against). */
  countFailure(pan: string, f: { readonly check: CountedCheck; readonly cardId: string; readonly premise: string }): Promise<FailureCount>;
  /**
   * The card data verified: the ATC checked and set when `atc` is given (REPLAYED when not above
   * the highest one consumed, unless `messageId` consumed it: the same message decided again),
   * then the counts named in `reset` set to zero. GONE: no such card any more.
   */
  recordSuccess(pan: string, s: { readonly cardId: string; readonly atc: number | null; readonly messageId: string; readonly reset: readonly CountedCheck[] }): Promise<'OK' | 'REPLAYED' | 'GONE'>;
}

/** What the run needs besides the plan. */
export interface RunInput {
  readonly plan: VerificationPlan;
  readonly configId: string;
  readonly cardId: string;
  readonly pan: string;
  /** The expiry the CVVs are computed with: the card's (the message's agreed with it in the card checks). */
  readonly expiry: string;
  /** Field 32, naming the acquirer's ZPK. */
  readonly acquirer: string;
  readonly panSequence: string;
  /** The card's counts as read (a reset is written only when one is above zero). */
  readonly pinFailures: number;
  readonly cvv2Failures: number;
  /** What a failure's count is conditioned on: the card's PVV, its CVV2 generation. */
  readonly pvv: string | null;
  readonly cvv2Generation: number;
  /** The message's transaction id: a message decided twice consumes its ATC once. */
  readonly messageId: string;
  /** The card was read from Redis for this message (else a failure is STALE, not counted). */
  readonly fresh: boolean;
  /**
   * The caller's hold consumes the ATC in its own script (ledger HoldGuard.sequence): a verified
   * chip read whose success writes nothing else returns its ATC (`atcToConsume`) unwritten.
   */
  readonly atcByHold?: boolean;
}

/** The verification's outcome. `issuerAuth` is set once an ARQC verified: the answer then carries an ARPC. */
export type CardholderOutcome =
  | { readonly ok: true; readonly issuerAuth: IssuerAuthentication | null; readonly atcToConsume?: number }
  | { readonly ok: false; readonly stale: false; readonly reason: Reason; readonly detail: string; readonly issuerAuth: IssuerAuthentication | null }
  | { readonly ok: false; readonly stale: true };

const STALE: CardholderOutcome = Object.freeze({ ok: false, stale: true });
const OK_PLAIN: CardholderOutcome = Object.freeze({ ok: true, issuerAuth: null });

function refusal(reason: Reason, detail: string, issuerAuth: IssuerAuthentication | null = null): CardholderOutcome {
  return { ok: false, stale: false, reason, detail, issuerAuth };
}

/** Runs the plan's checks through `keys`, then its refusal or the writes of a success through `writes`. */
export async function runVerification(keys: KeyStore, writes: VerificationWrites, i: RunInput): Promise<CardholderOutcome> {
  const { plan } = i;
  if (plan.steps.length === 0) return plan.refusal === null ? OK_PLAIN : refusal(plan.refusal.reason, plan.refusal.detail);
  if (!keys.hasKeys(i.configId)) return refusal('SECURITY_VIOLATION', 'NO_KEYS');
  let issuerAuth: IssuerAuthentication | null = null;
  let atc: number | null = null;
  const reset: CountedCheck[] = [];
  for (const s of plan.steps) {
    switch (s.check) {
      case 'CVV2':
        if (!await keys.verifyCvv(i.configId, i.pan, i.expiry, s.serviceCode, s.value)) return countFailure(writes, i, 'CVV2');
        if (i.cvv2Failures > 0) reset.push('CVV2');
        break;
      case 'CVV':
        if (!await keys.verifyCvv(i.configId, i.pan, i.expiry, s.serviceCode, s.value)) return refusal('SECURITY_VIOLATION', s.detail);
        break;
      case 'PIN': {
        const v = await keys.verifyPin(i.configId, i.acquirer, i.pan, s.pinBlock, s.pvki, s.pvv);
        if (v === 'NO_ZPK') return refusal('SECURITY_VIOLATION', 'ZPK');
        if (v === 'WRONG') return countFailure(writes, i, 'PIN');
        if (i.pinFailures > 0) reset.push('PIN');
        break;
      }
      case 'ARQC':
        if (!await keys.verifyArqc(i.configId, i.pan, i.panSequence, s.arqc)) return refusal('SECURITY_VIOLATION', 'ARQC');
        issuerAuth = { configId: i.configId, pan: i.pan, panSequence: i.panSequence, atc: s.arqc.atc, arqc: s.arqc.arqc };
        atc = s.arqc.atc.readUInt16BE(0);
        break;
    }
  }
  if (plan.refusal !== null) return refusal(plan.refusal.reason, plan.refusal.detail, issuerAuth);
  if (atc === null && reset.length === 0) return OK_PLAIN;
  if (atc !== null && reset.length === 0 && i.atcByHold === true) return { ok: true, issuerAuth, atcToConsume: atc };
  const r = await writes.recordSuccess(i.pan, { cardId: i.cardId, atc, messageId: i.messageId, reset });
  if (r === 'GONE') return STALE;
  if (r === 'REPLAYED') return refusal('SECURITY_VIOLATION', 'ATC', issuerAuth);
  return { ok: true, issuerAuth };
}

async function countFailure(writes: VerificationWrites, i: RunInput, check: CountedCheck): Promise<CardholderOutcome> {
  if (!i.fresh) return STALE;
  const premise = check === 'PIN' ? i.pvv ?? '' : String(i.cvv2Generation);
  const r = await writes.countFailure(i.pan, { check, cardId: i.cardId, premise });
  switch (r.outcome) {
    case 'STALE': return STALE;
    case 'ALREADY_LOCKED': return refusal(LOCK_REASONS[r.lock] ?? 'UNKNOWN_ERROR', check === 'PIN' ? 'PIN' : 'CVV2');
    // The third wrong PIN answers with the lock it set (75); the fifth wrong CVV2 as the others (63).
    case 'LOCKED': return check === 'PIN' ? refusal(LOCK_REASONS[r.lock] ?? 'UNKNOWN_ERROR', 'PIN') : refusal('SECURITY_VIOLATION', 'CVV2');
    case 'COUNTED': return check === 'PIN' ? refusal('INCORRECT_PIN', 'PIN') : refusal('SECURITY_VIOLATION', 'CVV2');
  }
}

/** At most this many lines a second about refused card data; the rest are counted into the next line. */
export const CARD_DATA_LOG_LINES_PER_SECOND = 50;
const logWindow = { startMs: 0, lines: 0, suppressed: 0 };

/**
 * One log line about a message refused for its card data: what failed (the detail, or a field's
 * fault), the card (id, masked PAN), the message (MTI, STAN); never the datum. Rate-limited so a
 * card-testing attack cannot flood the log: the line after a gap says how many were left out.
 */
export function logCardDataRefusal(what: { reason: Reason; detail: string; mti: string; stan: string | undefined; cardId: string | null; pan: string | undefined }): void {
  const now = Date.now();
  if (now - logWindow.startMs >= 1000) { logWindow.startMs = now; logWindow.lines = 0; }
  if (logWindow.lines >= CARD_DATA_LOG_LINES_PER_SECOND) { logWindow.suppressed++; return; }
  logWindow.lines++;
  const suppressed = logWindow.suppressed;
  logWindow.suppressed = 0;
  log(what.reason === 'FORMAT_ERROR' ? 'warn' : 'info', 'card data refused', {
    reason: what.reason, detail: what.detail, mti: what.mti, stan: what.stan ?? null, cardId: what.cardId,
    maskedPan: what.pan === undefined ? null : maskPan(what.pan), ...(suppressed > 0 ? { suppressedBefore: suppressed } : {}),
  });
}

// Spend controls (docs/messages.md "Spend controls"): a card's own and its program's rules on where
// and how much a card may spend, evaluated for every debit request before any partner call and
// before the ledger. The list rules are decided here, purely: merchant category codes allowed or
// blocked (codes and ranges), merchant countries allowed or blocked (field 19 when present, else
// field 43's last three characters), merchant ids blocked (field 42), and the TRANSACTION window
// of a velocity rule (one transaction's amount). The other velocity windows (DAY, WEEK, MONTH,
// LIFETIME) need the card's usage so far and are checked exactly inside the atomic hold (the
// ledger's counters, plan/pricing.ts). A rule in SHADOW mode is evaluated the same way and
// declines nothing: the first one that would have declined is recorded on the transaction.
import countries from 'i18n-iso-countries';
import { mccRange, velocityCounterOf, type SpendControl } from '../../../stores/controls.js';
import type { VelocityCounter } from '../../../ledger/index.js';
import type { IsoFields } from '../../../iso/codec.js';
import type { Reason } from '../../../iso/reasons.js';
import { text } from '../../../iso/wire.js';
import { merchantLocation } from '../render.js';

/** Which control declined, or would have, and with which reason. */
export interface ControlHit { readonly controlId: string; readonly reason: Reason }

/** The verdict of the list rules and per-transaction limits: the enforced decline, and the first shadow rule that would have declined. */
export interface ControlVerdict { readonly decline: ControlHit | null; readonly wouldDecline: ControlHit | null }

/** What of a debit the rules look at. */
export interface ControlSubject {
  /** Field 18. */
  readonly mcc: string | undefined;
  /** ISO 3166 alpha-3 of the merchant: field 19 when present, else field 43's last three characters. */
  readonly country: string | null;
  /** Field 42, trimmed. */
  readonly merchantId: string | undefined;
  /** PURCHASE (processing codes 00, 09) or CASH (01). */
  readonly scope: 'PURCHASE' | 'CASH';
  /** In the balance's currency, fees apart. */
  readonly amountMinor: number;
}

export const NO_VERDICT: ControlVerdict = Object.freeze({ decline: null, wouldDecline: null });

/** What a debit message shows the rules. */
export function controlSubject(f: IsoFields, processingCode: string, amountMinor: number): ControlSubject {
  return { mcc: text(f, 18), country: merchantCountry(f), merchantId: text(f, 42)?.trim(), scope: processingCode === '01' ? 'CASH' : 'PURCHASE', amountMinor };
}

/** The merchant's country, alpha-3: field 19 (ISO 3166 numeric) when present and known, else field 43's last three characters. */
export function merchantCountry(f: IsoFields): string | null {
  const f19 = text(f, 19);
  if (f19 !== undefined) {
    const a3 = countries.numericToAlpha3(f19);
    if (a3 !== undefined) return a3;
  }
  return merchantLocation(text(f, 43)).country;
}

/**
 * Evaluates the card's controls, then the program's (both apply), in order. The first ENFORCED rule
 * that refuses decides (TRANSACTION_NOT_PERMITTED for a list rule, EXCEEDS_AMOUNT_LIMIT for a
 * transaction's amount); the first SHADOW rule that would have refused is reported beside it.
 */
export function evaluateControls(card: readonly SpendControl[], program: readonly SpendControl[], s: ControlSubject): ControlVerdict {
  if (card.length === 0 && program.length === 0) return NO_VERDICT;
  let decline: ControlHit | null = null;
  let wouldDecline: ControlHit | null = null;
  for (const list of [card, program]) {
    for (const c of list) {
      const reason = refusal(c, s);
      if (reason === null) continue;
      if (c.mode === 'SHADOW') wouldDecline ??= { controlId: c.id, reason };
      else decline ??= { controlId: c.id, reason };
    }
  }
  return decline === null && wouldDecline === null ? NO_VERDICT : { decline, wouldDecline };
}

/**
 * The ledger counters of the card's and the program's VELOCITY controls over a window (DAY, WEEK,
 * MONTH, LIFETIME) that count a message of scope `scope`, for the hold to check exactly and count
 * (stores/controls.ts velocityCounterOf). Empty when there are none.
 */
export function velocityCounters(card: readonly SpendControl[], program: readonly SpendControl[], scope: 'PURCHASE' | 'CASH', nowMs: number): VelocityCounter[] {
  const out: VelocityCounter[] = [];
  for (const c of card) if (c.type === 'VELOCITY' && inScope(c.scope, scope)) { const v = velocityCounterOf(c, 'CARD', nowMs); if (v !== null) out.push(v); }
  for (const c of program) if (c.type === 'VELOCITY' && inScope(c.scope, scope)) { const v = velocityCounterOf(c, 'PROGRAM', nowMs); if (v !== null) out.push(v); }
  return out;
}

/** A control's own id from the ledger counter id of a VELOCITY control: the part after the owner (CARD or PROGRAM) and its colon. */
export function controlIdOfCounter(counterId: string): string {
  const colon = counterId.indexOf(':');
  return colon < 0 ? counterId : counterId.slice(colon + 1);
}

/** Why one rule refuses the subject, or null. Windows other than TRANSACTION are the ledger's. */
function refusal(c: SpendControl, s: ControlSubject): Reason | null {
  if (c.type === 'VELOCITY') {
    if (c.window !== 'TRANSACTION' || !inScope(c.scope, s.scope)) return null;
    return c.amount !== null && s.amountMinor > c.amount ? 'EXCEEDS_AMOUNT_LIMIT' : null;
  }
  const values = c.values;
  switch (c.type) {
    case 'MCC_ALLOW': return s.mcc !== undefined && values.some((v) => mccMatches(v, s.mcc!)) ? null : 'TRANSACTION_NOT_PERMITTED';
    case 'MCC_BLOCK': return s.mcc !== undefined && values.some((v) => mccMatches(v, s.mcc!)) ? 'TRANSACTION_NOT_PERMITTED' : null;
    case 'COUNTRY_ALLOW': return s.country !== null && values.includes(s.country) ? null : 'TRANSACTION_NOT_PERMITTED';
    case 'COUNTRY_BLOCK': return s.country !== null && values.includes(s.country) ? 'TRANSACTION_NOT_PERMITTED' : null;
    case 'MERCHANT_BLOCK': return s.merchantId !== undefined && values.includes(s.merchantId) ? 'TRANSACTION_NOT_PERMITTED' : null;
  }
}

/** A scope rule (PURCHASE, CASH, ALL) covers a message of scope `s`. */
export function inScope(rule: 'PURCHASE' | 'CASH' | 'ALL', s: 'PURCHASE' | 'CASH'): boolean {
  return rule === 'ALL' || rule === s;
}

/** An MCC rule value: one code ("5411") or an inclusive range ("5811-5814", stores/controls.ts mccRange). */
function mccMatches(value: string, mcc: string): boolean {
  if (value.indexOf('-') < 0) return value === mcc;
  const r = mccRange(value);
  const n = Number(mcc);
  return r !== null && n >= r[0] && n <= r[1];
}

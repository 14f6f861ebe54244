// Which card data a request must carry and which checks it gets: a pure function of the message's
// card data (fields.ts), the card, the program's `cardholderVerification` policy, the kind of
// transaction and the entry mode (field 22, first two digits). It reads nothing and calls nothing:
// it returns the checks to run through the key store, in order, and the refusal that follows when
// they all pass (a datum required and absent), or none. The caller runs the checks (run.ts); the
// first that fails decides, which keeps the order card found → locks → expiry → track agrees →
// CVV family → PIN → ARQC and ATC (the first three are the card checks of the switch, before this).
//
// Policies (per program, PROGRAMS_FILE `cardholderVerification`):
//   STRICT (default)  a debit (00, 01, 09) carries field 14 or a track (else 54); cash (01) a PIN
//                     block (else 55 PIN_REQUIRED); a card-not-present entry (01, 10, 81) a CVV2
//                     unless 48.10 says credential on file; a magstripe entry (02, 80, 90, 91) a
//                     track; a chip entry (05, 07) field 55 with an ARQC; a card-present entry on
//                     a virtual card is refused (63): it has no stripe and no chip. The entry-mode
//                     rules apply to debits and balance inquiries; a credit (20, 28) is only
//                     verified on what it carries.
//   RELAXED           verifies whatever the message carries and requires nothing more.
import type { TxKind } from '../iso/processing.js';
import type { CardData } from './fields.js';
import type { ArqcData } from './emv.js';

export type CardholderVerification = 'STRICT' | 'RELAXED';
export const CARDHOLDER_VERIFICATIONS: readonly CardholderVerification[] = ['STRICT', 'RELAXED'];

/** Service codes of the CVV method: CVV2 (printed) and iCVV (a chip's track-2 equivalent). */
export const SERVICE_CODE_CVV2 = '000';
export const SERVICE_CODE_ICVV = '999';
/** The service code the switch personalises a card's magnetic stripe with (international, normal authorization, PIN when the terminal can). */
export const SERVICE_CODE_STRIPE = '201';

/** Field 22 entry modes (first two digits) by how the card was read. */
export const CARD_NOT_PRESENT_ENTRY: ReadonlySet<string> = new Set(['01', '10', '81']);
export const MAGSTRIPE_ENTRY: ReadonlySet<string> = new Set(['02', '80', '90', '91']);
export const CHIP_ENTRY: ReadonlySet<string> = new Set(['05', '07']);

/** What of the card the rules read. */
export interface CardFacts {
  readonly kind: 'VIRTUAL' | 'PHYSICAL';
  /** The stripe's service code the track's CVV is computed with. */
  readonly serviceCode: string;
  /** The card's PVV and its PVKI, or null when no PIN was ever set. */
  readonly pvv: string | null;
  readonly pvki: string | null;
  /** The service code the card's current CVV2 is computed with: 000, or its reset generation (3 digits). */
  readonly cvv2ServiceCode: string;
}

export interface VerificationInput {
  readonly data: CardData;
  readonly card: CardFacts;
  readonly policy: CardholderVerification;
  readonly kind: TxKind;
  /** Field 3, first two digits. */
  readonly processingCode: string;
}

/** One check through the key store; `detail` names it in a decline. */
export type VerifyStep =
  | { readonly check: 'CVV2'; readonly detail: 'CVV2'; readonly value: string; readonly serviceCode: string }
  | { readonly check: 'CVV'; readonly detail: 'CVV' | 'iCVV'; readonly value: string; readonly serviceCode: string }
  | { readonly check: 'PIN'; readonly detail: 'PIN'; readonly pinBlock: Buffer; readonly pvki: string; readonly pvv: string }
  | { readonly check: 'ARQC'; readonly detail: 'ARQC'; readonly arqc: ArqcData };

/** A refusal the rules decide by themselves: a required datum absent, a track not the card's, no PIN set. */
export interface Refusal {
  readonly reason: 'SECURITY_VIOLATION' | 'EXPIRED_CARD' | 'PIN_REQUIRED' | 'INCORRECT_PIN';
  /** What failed, for the log line and the record (never the datum): TRACK, CVV2_MISSING, NO_PVV … */
  readonly detail: string;
}

/** The checks to run in order, then the refusal that applies when every one passes (null: approve the card). */
export interface VerificationPlan {
  readonly steps: readonly VerifyStep[];
  readonly refusal: Refusal | null;
}

const refuse = (steps: VerifyStep[], reason: Refusal['reason'], detail: string): VerificationPlan => ({ steps, refusal: { reason, detail } });

/** The plan for one request (0100/0200). Advices, reversals and network messages are never verified. */
export function planVerification(i: VerificationInput): VerificationPlan {
  const { data, card } = i;
  const strict = i.policy === 'STRICT' && (i.kind === 'DEBIT' || i.kind === 'INQUIRY');
  const entry = data.entryMode ?? '';
  const steps: VerifyStep[] = [];

  // Expiry: the card checks compared field 14 (else the track's) with the card's expiry.
  if (strict && i.kind === 'DEBIT' && data.expiry === undefined) return refuse(steps, 'EXPIRED_CARD', 'EXPIRY_MISSING');

  // Track agrees with field 2 (and field 14); a card-present read of a virtual card; a swipe without its track.
  const t = data.track;
  if (t !== null && ((data.f2 !== undefined && data.f2 !== t.pan) || (data.f14 !== undefined && data.f14 !== t.expiry))) {
    return refuse(steps, 'SECURITY_VIOLATION', 'TRACK');
  }
  if (strict && card.kind === 'VIRTUAL' && (MAGSTRIPE_ENTRY.has(entry) || CHIP_ENTRY.has(entry))) {
    return refuse(steps, 'SECURITY_VIOLATION', 'VIRTUAL_CARD_PRESENT');
  }
  if (strict && MAGSTRIPE_ENTRY.has(entry) && t === null) return refuse(steps, 'SECURITY_VIOLATION', 'TRACK_MISSING');

  // CVV family: CVV2, then the track's CVV (iCVV on a chip read's track-2 equivalent).
  const cvv2 = data.additional.cvv2;
  if (cvv2 !== null) steps.push({ check: 'CVV2', detail: 'CVV2', value: cvv2, serviceCode: card.cvv2ServiceCode });
  else if (strict && CARD_NOT_PRESENT_ENTRY.has(entry) && !data.additional.credentialOnFile) return refuse(steps, 'SECURITY_VIOLATION', 'CVV2_MISSING');
  if (t !== null) {
    steps.push(CHIP_ENTRY.has(entry)
      ? { check: 'CVV', detail: 'iCVV', value: t.cvv, serviceCode: SERVICE_CODE_ICVV }
      : { check: 'CVV', detail: 'CVV', value: t.cvv, serviceCode: card.serviceCode });
  }

  // PIN: verified whenever field 52 carries one; required for cash under STRICT.
  if (data.pinBlock !== null) {
    if (card.pvv === null || card.pvki === null) return refuse(steps, 'INCORRECT_PIN', 'NO_PVV');
    steps.push({ check: 'PIN', detail: 'PIN', pinBlock: data.pinBlock, pvki: card.pvki, pvv: card.pvv });
  } else if (strict && i.processingCode === '01') {
    return refuse(steps, 'PIN_REQUIRED', 'PIN_MISSING');
  }

  // ARQC (and its ATC, checked when the ARQC verifies): whenever field 55 carries one; required on a chip read under STRICT.
  if (data.arqc !== null) steps.push({ check: 'ARQC', detail: 'ARQC', arqc: data.arqc });
  else if (strict && CHIP_ENTRY.has(entry)) return refuse(steps, 'SECURITY_VIOLATION', 'ARQC_MISSING');

  return { steps, refusal: null };
}

/** The card facts the rules read, from a card record's fields. */
export function cardFacts(c: { kind: 'VIRTUAL' | 'PHYSICAL'; serviceCode: string | null; pvv: string | null; pvki: string | null; cvv2Generation: number }): CardFacts {
  return {
    kind: c.kind, serviceCode: c.serviceCode ?? SERVICE_CODE_STRIPE, pvv: c.pvv, pvki: c.pvki,
    cvv2ServiceCode: cvv2ServiceCode(c.cvv2Generation),
  };
}

/**
 * The service code a card's CVV2 is computed with: 000 for a card whose CVV2 was never reset,
 * else its reset generation (1-998) as three digits (docs/cards.md, "Reset CVV").
 */
export function cvv2ServiceCode(generation: number): string {
  return generation <= 0 ? SERVICE_CODE_CVV2 : String(generation).padStart(3, '0');
}

// Card and cardholder authentication of one request, as the switch calls it: the rules
// (verify.ts, pure) composed with their run (run.ts: key store, card-store scripts). A caller
// that plans before it runs may call `planVerification` and `runVerification` apart; this is
// the two in one call, for a request whose card checks (found, locks, expiry) have passed and
// before any money moves or any partner is asked.
import type { TxKind } from '../iso/processing.js';
import type { CardData } from './fields.js';
import type { KeyStore } from './keys.js';
import { runVerification, type CardholderOutcome, type VerificationWrites } from './run.js';
import { cardFacts, planVerification, type CardholderVerification } from './verify.js';

/** The card as the authorization path read it (a CardRecord has every field). */
export interface VerifiedCard {
  readonly id: string;
  readonly configId: string;
  readonly expiry: string;
  readonly kind: 'VIRTUAL' | 'PHYSICAL';
  readonly serviceCode: string | null;
  readonly pvv: string | null;
  readonly pvki: string | null;
  readonly cvv2Generation: number;
  readonly pinFailures: number;
  readonly cvv2Failures: number;
}

export interface CardholderCheck {
  /** The message's card data (fields.ts cardDataOf), its PAN known (field 2 or the track). */
  readonly data: CardData & { readonly pan: string };
  readonly card: VerifiedCard;
  readonly policy: CardholderVerification;
  readonly kind: TxKind;
  /** Field 3, first two digits. */
  readonly processingCode: string;
  /** The message's transaction id (a message decided twice consumes its ATC once). */
  readonly messageId: string;
  /** The card was read from Redis for this message, not remembered from an earlier one. */
  readonly fresh: boolean;
}

/** Verifies the request's card data (docs/cards.md, "Card authentication"); run.ts describes the outcomes. */
export function verifyCardholder(keys: KeyStore, writes: VerificationWrites, c: CardholderCheck): Promise<CardholderOutcome> {
  const plan = planVerification({ data: c.data, card: cardFacts(c.card), policy: c.policy, kind: c.kind, processingCode: c.processingCode });
  return runVerification(keys, writes, {
    plan, configId: c.card.configId, cardId: c.card.id, pan: c.data.pan, expiry: c.card.expiry,
    acquirer: c.data.acquirer ?? '', panSequence: c.data.panSequence,
    pinFailures: c.card.pinFailures, cvv2Failures: c.card.cvv2Failures, pvv: c.card.pvv, cvv2Generation: c.card.cvv2Generation,
    messageId: c.messageId, fresh: c.fresh,
  });
}

// The transaction object of the seed's Legacy Transactions Notifier, and the switch's transaction
// record built on it: types only, shared by the record store (records.ts), its codec
// (record-codec.ts), the deciding code and the management API.

export interface TransactionData {
  mcc: string | null;
  merchantIdentifier: string | null;
  merchantName: string | null;
  /** Field 43 positions 24–36. */
  merchantCity: string | null;
  captureMode: string | null;
  lastFourDigits: string | null;
  acquirerCountry: string | null;
  retrievalReferenceNumber: string | null;
}

/**
 * The transaction object of the seed's Legacy Transactions Notifier ("Transaction object"): what a
 * partner is told of every processed message (adapters/partner-types.ts, `transaction`).
 */
export interface SeedTransactionObject {
  id: string;
  balanceId: string | null;
  resourceId: string | null;
  resource: 'card' | 'balance';
  cardId: string | null;
  externalTransactionId: string | null;
  referenceExternalTransactionId: string | null;
  type: string;
  category: 'DEBIT' | 'CREDIT';
  amount: number | null;
  currency: string | null;
  originalAmount: number | null;
  originalCurrency: string | null;
  status: 'AUTHORIZED' | 'CLEARED' | 'REVERSED' | 'EXPIRED';
  description: string;
  date: string;
  referenceExternalTransactionDate: string | null;
  /** Always present; its fields may be null. */
  transactionData: TransactionData;
}

/**
 * A spend control in SHADOW mode that would have declined the transaction (stores/controls.ts):
 * its id and the decline reason it would have given (TRANSACTION_NOT_PERMITTED,
 * EXCEEDS_AMOUNT_LIMIT, LIMIT_EXCEED). The first such control, in the order they are evaluated.
 */
export interface WouldDecline {
  controlId: string;
  reason: string;
}

/** The seed's transaction object, with the processing status, reason and wire facts added: a transaction record. */
export interface TransactionObject extends SeedTransactionObject {
  /**
   * A SHADOW spend control would have declined this transaction (it declined nothing). Absent
   * (or null) when none would have; records written before spend controls never carry it.
   */
  wouldDecline?: WouldDecline | null;
  /** An approved original reversed in part: minor units given back so far (absent otherwise). */
  reversedAmount?: number;
  /** A card-data decline: what failed (CVV2, ARQC, ATC, TRACK …, never the datum); absent otherwise. */
  reasonDetail?: string;
  /** The message carried a 3-D Secure authentication value (48.43): the flag, never the value; absent otherwise. */
  threeDSecure?: true;
  processingStatus: 'SUCCESS' | 'DECLINED' | 'INVALID';
  reason: string;
  responseCode: string;
  mti: string;
  feeMinor: number;
  fxFeeMinor: number;
}

// What the switch and a partner say to each other: the request bodies, the answers and the error
// titles of the seed's chapters "Your APIs for us — External Balance", "— Shared authorization",
// "— Notifications" and "Legacy Transactions Notifier", as types and as one table of endpoints.
// The client (adapters/partner-client.ts) and the partner simulator (simulators/partner/) both
// read the table below, so the two cannot drift apart.
import type { SeedTransactionObject } from '../stores/records.js';

/** Transaction types the partner transaction object may carry (seed: "Transaction object", `type`). */
export type PartnerTransactionType =
  | 'cashback' | 'loan' | 'payment' | 'topup' | 'commission' | 'fee' | 'funding' | 'interest' | 'withdrawal'
  | 'pos' | 'atm' | 'cashback_at_pos' | 'adjustment'
  | 'POS' | 'ATM';

/** Status of the transaction in a partner call (seed: AUTHORIZED, CLEARED, REVERSED). */
export type PartnerTransactionStatus = 'AUTHORIZED' | 'CLEARED' | 'REVERSED';

/**
 * `transactionData` of the partner transaction object (seed: "TransactionData data object"). Every
 * field is optional in the seed and sent as null when unknown. Never a full PAN: `lastFourDigits`
 * and `lastFourDpan` are four digits.
 */
export interface PartnerTransactionData {
  mcc: string | null;
  merchantIdentifier: string | null;
  merchantName: string | null;
  /** magstripe, manual, emv, on behalf (EMV), nfc, ecommerce, adj. */
  captureMode: string | null;
  lastFourDigits: string | null;
  /** ISO 3166-1 alpha-3. */
  acquirerCountry: string | null;
  mdesDigitizedWalletId: string | null;
  cashbackPosCurrencyCode: string | null;
  /** Minor units. */
  cashbackPosAmount: number | null;
  lastFourDpan: string | null;
  /** e.g. REFUND, MONEY_SEND, CHARGEBACK. */
  adjustmentReasonDescription: string | null;
  /** 12 characters, field 37. */
  retrievalReferenceNumber: string | null;
  cardId: string | null;
}

/**
 * The transaction object sent as the body of every `/transactions/...` call (seed: External
 * Balance → "Transaction object"; the Shared Authorization chapter has the same one).
 * Amounts are integers in minor units; `date` is ISO 8601 UTC with `+00:00`.
 */
export interface PartnerTransaction {
  /** UUID v4, unique per call's transaction object. */
  id: string;
  balanceId: string;
  resourceId: string;
  resource: 'balance' | 'card';
  /** Same in every call about one transaction (the debit, its PUT, a later reversal's reference). Not unique across time. */
  transactionId: string;
  referenceTransactionId: string | null;
  type: PartnerTransactionType;
  amount: number;
  currency: string;
  originalAmount: number | null;
  originalCurrency: string | null;
  status: PartnerTransactionStatus;
  description: string;
  date: string;
  transactionData: PartnerTransactionData | null;
}

/** Body of `POST /users/:id/balances` (seed: "Link balance"). */
export interface LinkBalanceBody {
  /** UUID v4: the id the switch and the partner use for this balance from now on. */
  balanceId: string;
  /** ISO 4217 alpha-3. */
  currency: string;
}

/** Answer of `GET /users/:id/balances/:balanceId` (seed: "Get single user balance"). */
export interface PartnerBalance {
  currency: string;
  /** Minor units. */
  amount: number;
}

/** One item of `GET /users/:id/balances` (seed: "Get balance collection"). */
export interface PartnerBalanceItem extends PartnerBalance {
  id: string;
}

/** The transaction object of the Legacy Transactions Notifier: one definition, beside the records it is made from. */
export type NotifiedTransaction = SeedTransactionObject;

/** Body of `POST /notifications/transaction` (seed: "Legacy Transactions Notifier"). */
export interface TransactionNotification {
  status: 'SUCCESS' | 'DECLINED' | 'INVALID';
  /** ISO 8601 time the notification was made. */
  date: string;
  /** The decline reason, APPROVED when approved (the seed's "Description details"). */
  description: string;
  transaction: NotifiedTransaction;
}

/** Lock reasons of `POST /notifications/cardLocked` (seed: "API External Card Notifier for Locks"). */
export type CardLockReason =
  | 'CARD_LOST' | 'CARD_STOLEN' | 'PENDING_QUERY' | 'CARD_CONSOLIDATION' | 'CARD_INACTIVE'
  | 'PIN_TRIES_EXCEEDED' | 'SUSPECTED_FRAUD' | 'CARD_REPLACED';

/** Body of `POST /notifications/cardLocked`. `dcCardId` is the card id as a string. */
export interface CardLockedNotification { dcCardId: string; date: string; reason: CardLockReason }

/** Body of `POST /notifications/cardUnlocked`. */
export interface CardUnlockedNotification { dcCardId: string; date: string }

/** Body of `POST /notifications/transactionalLockReason{Added,Removed}` (seed: "External Transactional Lock Reason Notifier"). */
export interface TransactionalLockNotification {
  resourceType: 'corporation' | 'user';
  /** Numeric string or UUID. */
  resourceId: string;
  lockReason: string;
  timestamp: string;
}

/**
 * Body of `POST /notifications/lowBalance`: a partner DEPOSIT or CREDIT balance went below the
 * program's configured level (`lowBalanceMinor`). Not in the seed, which has no such notification;
 * named and shaped like the seed's other notifications (docs/partners.md). Sent once per crossing.
 */
export interface LowBalanceNotification {
  /** The partner balance's id (`pb-<TYPE>-<CURRENCY>-<configId>`). */
  balanceId: string;
  type: 'DEPOSIT' | 'CREDIT';
  configId: string;
  /** ISO 4217 alpha-3. */
  currency: string;
  /** Available amount when the crossing was seen, minor units. */
  amount: number;
  /** The configured level it went below, minor units. */
  level: number;
  /** ISO 8601 UTC time the crossing was seen. */
  date: string;
}

/** Each notification the switch may send, by the last segment of its path. */
export interface NotificationBodies {
  transaction: TransactionNotification;
  cardLocked: CardLockedNotification;
  cardUnlocked: CardUnlockedNotification;
  transactionalLockReasonAdded: TransactionalLockNotification;
  transactionalLockReasonRemoved: TransactionalLockNotification;
  lowBalance: LowBalanceNotification;
}
export type NotificationKind = keyof NotificationBodies;
export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  'transaction', 'cardLocked', 'cardUnlocked', 'transactionalLockReasonAdded', 'transactionalLockReasonRemoved', 'lowBalance',
];

/** Every error title a partner may answer with, across all endpoints (seed). */
export type PartnerTitle =
  | 'USER_NOT_FOUND' | 'BALANCE_NOT_FOUND' | 'FORBIDDEN' | 'INSUFFICIENT_FUNDS' | 'LIMITS_EXCEEDED'
  | 'FRAUDS_DETECTED' | 'CLIENT_ERROR' | 'TRANSACTION_NOT_FOUND';

/** The error body of every refusal: `{"title": "...", "detail": "..."}`. */
export interface PartnerProblem { title: string; detail?: string }

/** The client's names for the partner calls. */
export type PartnerEndpoint =
  | 'linkBalance' | 'getBalance' | 'listBalances' | 'deleteBalance'
  | 'debit' | 'forceDebit' | 'credit' | 'forceCredit' | 'reversal' | 'clearTransaction'
  | 'notify';

/** What a call's success answer carries: nothing (204), one balance, or a list of them. */
export type SuccessBody = 'none' | 'balance' | 'balances';

export interface EndpointContract {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path template relative to the base URL; `:id`, `:balanceId`, `:transactionId`, `:kind` are filled in. */
  path: string;
  /** Statuses that mean success. */
  ok: readonly number[];
  success: SuccessBody;
  /** The refusals the seed allows for this endpoint: `status:title`. Any other 4xx is MALFORMED. */
  refusals: readonly `${number}:${PartnerTitle}`[];
  /** The seed's API that has this endpoint. */
  apis: readonly ('EXTERNAL_BALANCE' | 'SHARED_AUTHORIZATION' | 'NOTIFICATIONS')[];
}

const BOTH = ['EXTERNAL_BALANCE', 'SHARED_AUTHORIZATION'] as const;

/**
 * The endpoint table (seed chapters named at the top of this file). A `force-*`, `reversal` and
 * notification answer has no refusals: the seed does not accept one ("we do not accept
 * transaction rejection"); notifications accept 200 and 204 ("Only responses with http code 200 &
 * 204 are allowed"). Deleting a balance that still holds money has no title in the seed; the
 * simulator answers 409 CLIENT_ERROR and the client takes it as a refusal.
 */
export const ENDPOINTS: Readonly<Record<PartnerEndpoint, EndpointContract>> = {
  linkBalance: { method: 'POST', path: '/users/:id/balances', ok: [204], success: 'none', refusals: ['404:USER_NOT_FOUND'], apis: ['EXTERNAL_BALANCE'] },
  getBalance: { method: 'GET', path: '/users/:id/balances/:balanceId', ok: [200], success: 'balance', refusals: ['404:BALANCE_NOT_FOUND', '403:FORBIDDEN'], apis: ['EXTERNAL_BALANCE'] },
  listBalances: { method: 'GET', path: '/users/:id/balances', ok: [200], success: 'balances', refusals: [], apis: ['EXTERNAL_BALANCE'] },
  deleteBalance: { method: 'DELETE', path: '/users/:id/balances/:balanceId', ok: [204], success: 'none', refusals: ['404:BALANCE_NOT_FOUND', '403:FORBIDDEN', '409:CLIENT_ERROR'], apis: ['EXTERNAL_BALANCE'] },
  debit: {
    method: 'POST', path: '/transactions/debit', ok: [204], success: 'none',
    refusals: ['422:INSUFFICIENT_FUNDS', '422:LIMITS_EXCEEDED', '422:FRAUDS_DETECTED', '404:BALANCE_NOT_FOUND', '409:CLIENT_ERROR'], apis: BOTH,
  },
  forceDebit: { method: 'POST', path: '/transactions/force-debit', ok: [204], success: 'none', refusals: [], apis: BOTH },
  credit: { method: 'POST', path: '/transactions/credit', ok: [204], success: 'none', refusals: ['404:BALANCE_NOT_FOUND', '422:FRAUDS_DETECTED'], apis: BOTH },
  forceCredit: { method: 'POST', path: '/transactions/force-credit', ok: [204], success: 'none', refusals: [], apis: BOTH },
  // "we expect not an HTTP 404 ERROR but an HTTP 2xx SUCCESS": any 2xx is success.
  reversal: { method: 'POST', path: '/transactions/reversal', ok: [200, 201, 202, 204], success: 'none', refusals: [], apis: BOTH },
  clearTransaction: { method: 'PUT', path: '/transactions/:transactionId', ok: [204], success: 'none', refusals: ['404:TRANSACTION_NOT_FOUND'], apis: ['EXTERNAL_BALANCE'] },
  notify: { method: 'POST', path: '/notifications/:kind', ok: [200, 204], success: 'none', refusals: [], apis: ['NOTIFICATIONS'] },
};

/**
 * The path of an endpoint below the partner's base URL, `:name` segments filled with URI-encoded
 * `params` (`endpointPath('clearTransaction', { transactionId })`): every caller takes paths from
 * ENDPOINTS, none writes one by hand. Throws PartnerPathError when a parameter is missing.
 */
export function endpointPath(endpoint: PartnerEndpoint, params: Readonly<Record<string, string>> = {}): string {
  return fillPath(ENDPOINTS[endpoint].path, params);
}

/** A path template's `:name` segment had no value. */
export class PartnerPathError extends Error {
  constructor(readonly parameter: string) { super(`path parameter ${parameter} is required`); }
}

/** Fills `:name` segments of a path template with URI-encoded values. */
export function fillPath(template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(/:([A-Za-z]+)/g, (_m, k: string) => {
    const v = params[k];
    if (v === undefined || v === '') throw new PartnerPathError(k);
    return encodeURIComponent(v);
  });
}

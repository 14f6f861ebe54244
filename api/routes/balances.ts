// User balances: create, read (with their cards), internal transactions (top-up & co), and the
// per-currency summary of the seed's "Balance Summary".
import { createHash, randomUUID } from 'node:crypto';
import type { UserBalance } from '../../ledger/index.js';
import type { Route } from '../router.js';
import { IDEMPOTENCY_HEADER } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json, noContent } from '../problem.js';
import { AppError, ERRORS, type ErrorCode } from '../../errors/index.js';
import type { Schema } from '../schema.js';
import { INTERNAL_TYPES, MAX_AMOUNT_MINOR, type InternalType, type Transaction } from '../../ledger/index.js';
import { DeletedBalances } from '../../stores/deleted-balances.js';
import { isIrreversibleLock } from '../../stores/cards.js';
import { isKnownCurrency } from '../../iso/currency.js';
import type { Program } from '../../stores/programs.js';
import {
  BALANCE_ID, CURRENCY, CUSTOMER_ID, VALIDATION, VALIDATION_MONEY, balanceView, cardStatus, expDate, ledgerRefusal, problem,
  requireBalance, requireCustomer, requireProgram,
} from './common.js';

const INTERNAL_TYPE_NAMES = Object.keys(INTERNAL_TYPES) as InternalType[];
/** The seed's spelling of each internal type in a transaction object. */
const SEED_TYPE: Readonly<Record<InternalType, string>> = {
  TOPUP: 'topUp', PAYMENT: 'payment', LOAN: 'loan', CASHBACK: 'cashback', FUNDING: 'funding',
  WITHDRAWAL: 'withdrawal', FEE: 'fee', COMMISSION: 'commission', INTEREST: 'interest',
};
const DESCRIPTION_MAX = 140;

export const BALANCE: Schema = {
  type: 'object', required: ['id', 'customerId', 'currency', 'configId', 'available', 'blocked', 'cards'],
  properties: {
    id: { type: 'string' }, customerId: { type: 'string' }, currency: CURRENCY, configId: { type: 'string' },
    available: { type: 'integer', description: 'minor units' }, blocked: { type: 'integer', description: 'minor units held by authorizations' },
    cards: {
      type: 'array', description: 'Cards issued on this balance',
      items: {
        type: 'object', required: ['id', 'lastFourDigits', 'exp', 'status', 'type', 'lockReason'],
        properties: {
          id: { type: 'string' }, lastFourDigits: { type: 'string' }, exp: { type: 'string', format: 'date' },
          status: { type: 'string', enum: ['ACTIVE', 'INACTIVE', 'LOCKED'] }, type: { type: 'string', enum: ['VIRTUAL', 'PHYSICAL'] },
          lockReason: { type: ['integer', 'null'], description: 'lock code 1-8 or 11 while LOCKED' } as Schema,
        },
      },
    },
  },
};

const NULLABLE_STRING: Schema = { type: ['string', 'null'] };

/**
 * The transaction object of the seed's Legacy Transactions Notifier, as the switch records it for
 * every money message (approved, declined or invalid) and every internal transaction. Every record
 * validates against this schema (test/field-faults.test.ts).
 */
export const TRANSACTION: Schema = {
  type: 'object', description: 'A transaction object, as the transaction notification carries it',
  required: ['id', 'balanceId', 'resourceId', 'resource', 'cardId', 'externalTransactionId', 'referenceExternalTransactionId', 'type', 'category',
    'amount', 'currency', 'originalAmount', 'originalCurrency', 'status', 'description', 'date', 'referenceExternalTransactionDate',
    'transactionData', 'processingStatus', 'reason', 'responseCode', 'mti', 'feeMinor', 'fxFeeMinor'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', format: 'uuid' },
    balanceId: { type: ['string', 'null'], description: 'null only for a message about a card the switch does not know' },
    resourceId: NULLABLE_STRING, resource: { type: 'string', enum: ['card', 'balance'] },
    cardId: NULLABLE_STRING,
    externalTransactionId: { type: ['string', 'null'], description: 'the ledger transaction id derived from the wire (card, MTI class, field 7, STAN, acquirer, terminal); null only when the card is unknown or field 7 / 11 is missing' },
    referenceExternalTransactionId: { type: ['string', 'null'], description: 'a reversal\'s or clearing\'s original' },
    type: { type: 'string', description: 'POS, ATM, Cashback, Refund, Payment, Balance Inquiry, ACCOUNT_VERIFICATION, Adjustment (a reversal), UNKNOWN, or an internal type (TOPUP …)' },
    category: { type: 'string', enum: ['CREDIT', 'DEBIT'] },
    amount: { type: 'integer', description: 'minor units of the balance currency: what was moved, or for a decline what was asked (field 4 when it could not be converted; 0 when absent)' },
    currency: { type: ['string', 'null'], pattern: '^[A-Z]{3}$', description: 'the balance\'s currency; for an unknown card field 49\'s, null without one' },
    originalAmount: { type: ['integer', 'null'] }, originalCurrency: NULLABLE_STRING,
    status: {
      type: 'string', enum: ['AUTHORIZED', 'CLEARED', 'REVERSED', 'EXPIRED'],
      description: 'the transaction\'s status now (read from the ledger for approved originals). For a DECLINED or INVALID message it is '
        + 'the status the message asked for (AUTHORIZED for an 0100, CLEARED for an 0200, REVERSED for a reversal), as the '
        + 'transaction notification shows a decline; processingStatus says that nothing was held or posted',
    },
    reversedAmount: { type: 'integer', description: 'an approved original partly reversed: minor units given back so far (absent otherwise)' },
    reasonDetail: { type: 'string', description: 'a card-data decline (SECURITY_VIOLATION, INCORRECT_PIN, PIN_REQUIRED, FORMAT_ERROR of fields 23/35/48/52/55): what failed, e.g. CVV2, ARQC, ATC, TRACK (never the datum); absent otherwise' },
    threeDSecure: { type: 'boolean', description: 'true when the message carried a 3-D Secure authentication value (48.43; the value itself is not kept); absent otherwise' },
    description: { type: 'string' },
    date: { type: 'string', format: 'date-time' }, referenceExternalTransactionDate: NULLABLE_STRING,
    transactionData: {
      type: 'object', additionalProperties: false,
      required: ['mcc', 'merchantIdentifier', 'merchantName', 'merchantCity', 'captureMode', 'lastFourDigits', 'acquirerCountry', 'retrievalReferenceNumber'],
      description: 'field 18, 42, 43 (name 1–22, city 24–36, country 38–40), 22 as captureMode, the PAN\'s last four digits, field 37',
      properties: {
        mcc: NULLABLE_STRING, merchantIdentifier: NULLABLE_STRING, merchantName: NULLABLE_STRING, merchantCity: NULLABLE_STRING,
        captureMode: NULLABLE_STRING, lastFourDigits: NULLABLE_STRING, acquirerCountry: NULLABLE_STRING, retrievalReferenceNumber: NULLABLE_STRING,
      },
    },
    processingStatus: { type: 'string', enum: ['SUCCESS', 'DECLINED', 'INVALID'], description: 'how the message was processed (the notifier\'s top-level status)' },
    reason: { type: 'string', description: 'the one decline reason (APPROVED when approved, ACCOUNT_VERIFIED for an account verification), as the notifier\'s description values' },
    responseCode: { type: 'string', description: 'field 39 answered on the wire (empty for internal transactions)' },
    mti: { type: 'string', description: 'request MTI (empty for internal transactions)' },
    feeMinor: { type: 'integer', description: 'channel fee held or posted with it' },
    fxFeeMinor: { type: 'integer', description: 'FX fee held or posted with it' },
    wouldDecline: {
      type: ['object', 'null'], additionalProperties: false, required: ['controlId', 'reason'],
      description: 'a spend control in SHADOW mode would have declined this transaction (it declined nothing): the first such control '
        + 'and the reason it would have given (TRANSACTION_NOT_PERMITTED, EXCEEDS_AMOUNT_LIMIT, LIMIT_EXCEED); absent or null otherwise',
      properties: { controlId: { type: 'string' }, reason: { type: 'string' } },
    },
  },
};

/**
 * An EXTERNAL_BALANCE balance as the partner holds it (seed: get balance): `available` is the
 * partner's amount, `blocked` what the switch still holds for it. Other programs: as it is here.
 */
async function atPartner(d: ApiDeps, b: UserBalance): Promise<UserBalance> {
  if (d.programs.byId(b.configId)?.mode !== 'EXTERNAL_BALANCE') return b;
  const client = d.partners?.get(b.configId);
  if (client === undefined) throw new AppError('PARTNER_UNAVAILABLE', `program ${b.configId} has no partner client in this process`);
  const r = await client.getBalance(b.customerId, b.id);
  if (r.ok) return { ...b, availableMinor: r.body.amount };
  if (r.kind === 'DECLINED') throw new AppError(r.title, `the partner answered ${r.title} for balance ${b.id}`);
  throw new AppError('PARTNER_UNAVAILABLE', `the partner did not answer the balance read (${r.kind})`);
}

/** Seed "Your APIs for us — External Balance": the partner links the balance before it exists here (SPEC §6). */
async function linkAtPartner(d: ApiDeps, configId: string, customerId: string, balanceId: string, currency: string): Promise<void> {
  const client = d.partners?.get(configId);
  if (client === undefined) throw new AppError('PARTNER_UNAVAILABLE', `program ${configId} has no partner client in this process`);
  const r = await client.linkBalance(customerId, { balanceId, currency }, `link-${balanceId}`);
  if (r.ok) return;
  if (r.kind === 'DECLINED') throw new AppError(r.title, `the partner refused to link balance ${balanceId}: ${r.title}`);
  throw new AppError('PARTNER_UNAVAILABLE', `the partner did not answer the link-balance call (${r.kind})`);
}

/** A balance of the customer's list: EXTERNAL_BALANCE ones with `available` as the partner lists it. */
export const BALANCE_ITEM: Schema = {
  ...BALANCE,
  properties: {
    ...(BALANCE.properties as Record<string, Schema>),
    partnerListed: { type: 'boolean', description: 'EXTERNAL_BALANCE only: the partner listed this balance (GET /users/{userId}/balances); when false, available is the switch\'s own record' },
  },
};

/** The partner client of an EXTERNAL_BALANCE program, or a 503 when this process has none. */
function partnerClient(d: ApiDeps, configId: string) {
  const client = d.partners?.get(configId);
  if (client === undefined) throw new AppError('PARTNER_UNAVAILABLE', `program ${configId} has no partner client in this process`);
  return client;
}

/**
 * The customer's balances (deleted ones left out), in id order. For EXTERNAL_BALANCE programs
 * one `GET /users/{userId}/balances` per program gives `available` as the partner holds it.
 */
async function listBalances(d: ApiDeps, customerId: string): Promise<object[]> {
  const ids = await d.ledger.listUserBalances(customerId);
  const deleted = await new DeletedBalances(d.redis).which(ids);
  const found = await Promise.all(ids.filter((_, i) => !deleted[i]).map((id) => d.ledger.getUserBalance(id)));
  const balances = found.filter((b): b is UserBalance => b !== null && b.customerId === customerId);
  const external = [...new Set(balances.filter((b) => d.programs.byId(b.configId)?.mode === 'EXTERNAL_BALANCE').map((b) => b.configId))];
  const listed = new Map<string, number>();
  await Promise.all(external.map(async (configId) => {
    const r = await partnerClient(d, configId).listBalances(customerId);
    if (!r.ok) throw new AppError('PARTNER_UNAVAILABLE', `the partner of program ${configId} did not list the balances (${r.kind})`);
    for (const item of r.body) listed.set(item.id, item.amount);
  }));
  return Promise.all(balances.map(async (b) => {
    const view = balanceView(b, await cardsOf(d, customerId, b.id));
    if (!external.includes(b.configId)) return view;
    const amount = listed.get(b.id);
    return { ...view, ...(amount === undefined ? {} : { available: amount }), partnerListed: amount !== undefined };
  }));
}

/**
 * Deletes a balance with no money on it (seed "Delete balance": only at zero). Refused with 409
 * BALANCE_NOT_EMPTY while it holds money or holds (EXTERNAL_BALANCE: the partner's amount, read
 * first), and 409 BALANCE_HAS_CARDS while a card on it could still be used (not locked for good:
 * lost, stolen, inactive, replaced). EXTERNAL_BALANCE: the partner's `DELETE` then; its refusals
 * answer with its status and title (a 409 CLIENT_ERROR, money found on it meanwhile, as
 * BALANCE_NOT_EMPTY), no answer 503. The ledger keeps the balance and its history; the API
 * treats it as gone from then on.
 */
async function deleteBalance(d: ApiDeps, customerId: string, balanceId: string): Promise<void> {
  const b = await requireBalance(d, customerId, balanceId);
  const external = d.programs.byId(b.configId)?.mode === 'EXTERNAL_BALANCE';
  if (b.blockedMinor !== 0 || (!external && b.availableMinor !== 0)) {
    throw new AppError('BALANCE_NOT_EMPTY', `balance ${balanceId} holds ${b.availableMinor} available and ${b.blockedMinor} blocked; it can be deleted at zero only`);
  }
  const ids = await d.customers.cardIds(customerId);
  const cards = await Promise.all(ids.map((id) => d.cards.get(id)));
  if (cards.some((c) => c !== null && c.balanceId === balanceId && !isIrreversibleLock(c.lock))) {
    throw new AppError('BALANCE_HAS_CARDS', `a card on balance ${balanceId} can still be used; lock it for good (lost, stolen, inactive or replaced) first`);
  }
  if (external) {
    const client = partnerClient(d, b.configId);
    const now = await client.getBalance(customerId, balanceId);
    if (!now.ok) throw partnerProblem(now, `read balance ${balanceId}`);
    if (now.body.amount !== 0) throw new AppError('BALANCE_NOT_EMPTY', `the partner holds ${now.body.amount} on balance ${balanceId}; it can be deleted at zero only`);
    // A fresh key per request: a delete refused earlier may succeed once the balance is empty.
    const r = await client.deleteBalance(customerId, balanceId, `delete-${balanceId}-${randomUUID()}`);
    if (!r.ok && r.kind === 'DECLINED' && r.title === 'CLIENT_ERROR') throw new AppError('BALANCE_NOT_EMPTY', `the partner refused to delete balance ${balanceId} (CLIENT_ERROR): money on it`);
    if (!r.ok) throw partnerProblem(r, `delete balance ${balanceId}`);
  }
  await new DeletedBalances(d.redis).mark(balanceId, Date.now());
}

/** A partner's refusal with its status and title; no answer: 503 PARTNER_UNAVAILABLE. */
function partnerProblem(r: { kind: string; title?: string }, what: string): AppError {
  if (r.kind === 'DECLINED' && r.title !== undefined && r.title in ERRORS) return new AppError(r.title as ErrorCode, `the partner refused to ${what}: ${r.title}`);
  return new AppError('PARTNER_UNAVAILABLE', `the partner did not answer (${r.kind}) when asked to ${what}`);
}

export function balanceRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'GET', path: '/secure/customers/{customerId}/balances', operationId: 'listBalances', tag: 'balances',
      summary: 'The customer\'s balances with their cards',
      description: 'Deleted balances are left out. For EXTERNAL_BALANCE programs the partner\'s balance list (GET /users/{userId}/balances, '
        + 'one call per program) gives available as the partner holds it; a partner that does not answer: 503 PARTNER_UNAVAILABLE.',
      params: { customerId: CUSTOMER_ID },
      responses: {
        200: { description: 'The balances', schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: BALANCE_ITEM } } } },
        400: VALIDATION,
        404: problem('No such customer', 'CUSTOMER_NOT_FOUND'),
        503: problem('The partner did not answer (EXTERNAL_BALANCE)', 'PARTNER_UNAVAILABLE'),
      },
      async handle(req) {
        const customerId = req.params.customerId as string;
        await requireCustomer(d, customerId);
        return json(200, { items: await listBalances(d, customerId) });
      },
    },
    {
      method: 'DELETE', path: '/secure/customers/{customerId}/balances/{balanceId}', operationId: 'deleteBalance', tag: 'balances',
      summary: 'Deletes a balance with no money on it (EXTERNAL_BALANCE: at the partner too)',
      description: 'Only at zero: no money and no holds on it (EXTERNAL_BALANCE: the partner\'s amount, read first), and no card on it that '
        + 'could still be used (every card locked as lost, stolen, inactive or replaced). In an EXTERNAL_BALANCE program the partner\'s '
        + 'DELETE /users/{userId}/balances/{balanceId} comes next; its refusal answers with its status and title, no answer 503. '
        + 'Afterwards the balance answers 404 everywhere in this API; the ledger keeps its history.',
      params: { customerId: CUSTOMER_ID, balanceId: BALANCE_ID },
      responses: {
        204: { description: 'Deleted' },
        400: VALIDATION,
        403: problem('The partner says the balance belongs to another user (EXTERNAL_BALANCE)', 'FORBIDDEN'),
        404: problem('No such balance for this customer (or the partner does not know it)', 'BALANCE_NOT_FOUND'),
        409: problem('Money or holds on it, or a card that can still be used', 'BALANCE_NOT_EMPTY', 'BALANCE_HAS_CARDS'),
        503: problem('The partner did not answer (EXTERNAL_BALANCE)', 'PARTNER_UNAVAILABLE'),
      },
      async handle(req) {
        await deleteBalance(d, req.params.customerId as string, req.params.balanceId as string);
        return noContent();
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/balances', operationId: 'createBalance', tag: 'balances',
      summary: 'Opens a user balance in a currency under a program',
      description: 'configId may be left out: then the only program, or else the demo program. The customer needs kyc SUCCESS. '
        + 'In an EXTERNAL_BALANCE program the partner\'s link-balance call comes first (POST /users/{userId}/balances); a partner '
        + 'refusal fails the creation with the partner\'s title, a partner that does not answer with 503 PARTNER_UNAVAILABLE, and '
        + 'nothing is created either way.',
      params: { customerId: CUSTOMER_ID },
      headers: { 'X-Idempotency-Key': IDEMPOTENCY_HEADER },
      idempotent: true,
      body: { type: 'object', additionalProperties: false, required: ['currency'], properties: { currency: CURRENCY, configId: { type: 'string', minLength: 1, maxLength: 64 } } },
      responses: {
        201: { description: 'Created', schema: BALANCE },
        400: VALIDATION,
        404: problem('No such customer or program; or the partner does not know the user (EXTERNAL_BALANCE)', 'CUSTOMER_NOT_FOUND', 'PROGRAM_NOT_FOUND', 'USER_NOT_FOUND'),
        409: problem('KYC not passed', 'KYC_REQUIRED', 'IDEMPOTENCY_KEY_REUSED'),
        503: problem('The partner did not answer the link-balance call', 'PARTNER_UNAVAILABLE'),
      },
      async handle(req) {
        const customerId = req.params.customerId as string;
        const body = req.json as { currency: string; configId?: string };
        const customer = await requireCustomer(d, customerId);
        if (customer.kyc !== 'SUCCESS') throw new AppError('KYC_REQUIRED', `customer ${customerId} has kyc ${customer.kyc}; a balance needs SUCCESS`);
        if (!isKnownCurrency(body.currency)) throw new AppError('VALIDATION_ERROR', `currency ${body.currency} is not supported`);
        const program = defaultProgram(d, body.configId);
        // A retried creation (same X-Idempotency-Key) names the same balance, at the partner and here.
        const balanceId = d.ledger.balanceIdFor(customerId, req.idempotencyKey ?? undefined);
        if (program.mode === 'EXTERNAL_BALANCE') await linkAtPartner(d, program.configId, customerId, balanceId, body.currency);
        const b = await d.ledger.createUserBalance({
          customerId, currency: body.currency, configId: program.configId, balanceId,
          ...(req.idempotencyKey === null ? {} : { idempotencyKey: `api-bal:${customerId}:${req.idempotencyKey}` }),
        });
        return json(201, balanceView(b, []));
      },
    },
    {
      method: 'GET', path: '/secure/customers/{customerId}/balances/{balanceId}', operationId: 'getBalance', tag: 'balances',
      summary: 'A user balance with the cards issued on it',
      params: { customerId: CUSTOMER_ID, balanceId: BALANCE_ID },
      responses: { 200: { description: 'The balance (EXTERNAL_BALANCE: available as the partner holds it)', schema: BALANCE }, 400: VALIDATION, 404: problem('No such balance for this customer', 'BALANCE_NOT_FOUND'), 503: problem('The partner did not answer (EXTERNAL_BALANCE)', 'PARTNER_UNAVAILABLE') },
      async handle(req) {
        const customerId = req.params.customerId as string;
        const b = await requireBalance(d, customerId, req.params.balanceId as string);
        return json(200, balanceView(await atPartner(d, b), await cardsOf(d, customerId, b.id)));
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/balances/{balanceId}/transactions', operationId: 'postTransaction', tag: 'balances',
      summary: 'Posts an internal transaction (TOPUP, PAYMENT, LOAN, CASHBACK, FUNDING, WITHDRAWAL, FEE, COMMISSION, INTEREST)',
      description: 'Posted at once (status CLEARED) with its automatic partner postings: TOPUP, PAYMENT, LOAN and CASHBACK '
        + 'debit the program\'s CREDIT partner balance (refused above its funds; a program with creditRequired false and no credit '
        + 'balance takes the money from outside), FUNDING credits it, FEE credits the COMPANY balance.',
      params: { customerId: CUSTOMER_ID, balanceId: BALANCE_ID },
      headers: { 'X-Idempotency-Key': IDEMPOTENCY_HEADER },
      idempotent: true,
      body: {
        type: 'object', additionalProperties: false, required: ['type', 'amount', 'currency'],
        properties: {
          type: { type: 'string', enum: INTERNAL_TYPE_NAMES }, amount: { type: 'integer', minimum: 1, maximum: MAX_AMOUNT_MINOR, 'x-amount': true, description: 'minor units' },
          currency: CURRENCY, description: { type: 'string', maxLength: DESCRIPTION_MAX },
        },
      },
      responses: {
        201: { description: 'Posted', schema: TRANSACTION },
        400: VALIDATION_MONEY,
        404: problem('No such balance, or a partner balance the type needs is missing', 'BALANCE_NOT_FOUND', 'COLLATERAL_BALANCE_NOT_FOUND', 'COMPANY_BALANCE_NOT_FOUND'),
        409: problem('Refused by the ledger', 'INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE', 'CURRENCY_MISMATCH', 'IDEMPOTENCY_KEY_REUSED'),
      },
      async handle(req) {
        return postInternal(d, req.params.customerId as string, req.params.balanceId as string, req.json as InternalBody, req.idempotencyKey);
      },
    },
    {
      method: 'GET', path: '/secure/summary', operationId: 'getSummary', tag: 'balances',
      summary: 'Per currency: the sum of user balances, of partner balances, and of both (wallet)',
      description: 'Amounts are available + blocked, in minor units. users + partners = wallet.',
      responses: {
        200: {
          description: 'Summary',
          schema: {
            type: 'object', required: ['currencies'],
            properties: {
              currencies: {
                type: 'array',
                items: { type: 'object', required: ['currency', 'users', 'partners', 'wallet'], properties: { currency: CURRENCY, users: SUM, partners: SUM, wallet: SUM } },
              },
            },
          },
        },
      },
      async handle() {
        const s = await d.ledger.summary();
        const currencies = Object.keys(s).sort().map((c) => ({ currency: c, users: s[c]!.usersMinor, partners: s[c]!.partnersMinor, wallet: s[c]!.walletMinor }));
        return json(200, { currencies });
      },
    },
  ];
}

/** configId given: that program. Left out: the only program, else the demo program (SPEC §6). */
function defaultProgram(d: ApiDeps, configId: string | undefined): Program {
  if (configId !== undefined) return requireProgram(d, configId);
  const all = d.programs.programs;
  if (all.length === 1) return all[0] as Program;
  return requireProgram(d, '0019167984');
}

async function cardsOf(d: ApiDeps, customerId: string, balanceId: string): Promise<object[]> {
  const ids = await d.customers.cardIds(customerId);
  const cards = await Promise.all(ids.map((id) => d.cards.get(id)));
  return cards
    .filter((c) => c !== null && c.balanceId === balanceId)
    .map((c) => c!)
    .sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id))
    .map((c) => ({ id: c.id, lastFourDigits: c.panLast4, exp: expDate(c.expiry), status: cardStatus(c), type: c.kind, lockReason: c.lock === 0 ? null : c.lock }));
}

/** An exact sum of minor units: an integer, or its decimal string beyond 2^53 - 1 (ledger summary()). */
const SUM: Schema = { oneOf: [{ type: 'integer' }, { type: 'string', pattern: '^-?[0-9]+$' }] };

interface InternalBody { type: InternalType; amount: number; currency: string; description?: string }

async function postInternal(d: ApiDeps, customerId: string, balanceId: string, body: InternalBody, key: string | null) {
  const balance = await requireBalance(d, customerId, balanceId);
  if (body.currency !== balance.currency) throw new AppError('CURRENCY_MISMATCH', `balance ${balanceId} is in ${balance.currency}, not ${body.currency}`);
  const partnerId = await partnerFor(d, body.type, balance.configId, balance.currency);
  // The transaction id follows from the idempotency key, so a replay names the same transaction.
  const txId = key === null ? randomUUID() : uuidFrom(`api-tx|${balanceId}|${key}`);
  const description = body.description ?? SEED_TYPE[body.type];
  const r = await d.ledger.post({
    type: body.type, idempotencyKey: `api-tx:${txId}`, txId, balanceId, amountMinor: body.amount, partnerId,
    meta: { desc: description, src: 'api' },
  });
  const category = INTERNAL_TYPES[body.type].dir === '+' ? 'CREDIT' : 'DEBIT';
  const record = { balanceId, txId, type: SEED_TYPE[body.type], category, amountMinor: body.amount, currency: balance.currency, description } as const;
  if (!r.ok) {
    // A refusal is history too: it is recorded (DECLINED, with the reason) before it is answered.
    await d.records?.recordInternal({ ...record, ok: false, reason: r.reason, nowMs: Date.now() });
    throw ledgerRefusal(r.reason, `${body.type} of ${body.amount} on balance ${balanceId}`);
  }
  const tx = await d.ledger.getTransaction(balanceId, txId);
  if (tx === null) throw new Error(`transaction ${txId} vanished after posting`);
  if (d.records === null) return json(201, internalTransaction(tx, body.type, description));
  return json(201, await d.records.recordInternal({ ...record, amountMinor: tx.amountMinor, ok: true, reason: 'APPROVED', nowMs: tx.createdAtMs }));
}

async function partnerFor(d: ApiDeps, type: InternalType, configId: string, currency: string): Promise<string | null> {
  const rule = INTERNAL_TYPES[type];
  if (rule.partner === null) return null;
  const found = await d.ledger.findPartnerBalance(configId, rule.partner, currency);
  if (found !== null) return found.id;
  const creditRequired = d.programs.byId(configId)?.creditRequired ?? true;
  if (rule.partner === 'CREDIT' && creditRequired) {
    throw new AppError('COLLATERAL_BALANCE_NOT_FOUND', `program ${configId} has no CREDIT partner balance in ${currency}`);
  }
  return null;
}

/** The seed's transaction object for an internal transaction, when no transaction records are kept. */
export function internalTransaction(tx: Transaction, type: InternalType, description: string): Record<string, unknown> {
  return {
    id: tx.txId, balanceId: tx.balanceId, resourceId: tx.balanceId, resource: 'balance', cardId: null,
    externalTransactionId: null, referenceExternalTransactionId: null, type: SEED_TYPE[type],
    category: INTERNAL_TYPES[type].dir === '+' ? 'CREDIT' : 'DEBIT', amount: tx.amountMinor, currency: tx.currency,
    originalAmount: tx.amountMinor, originalCurrency: tx.currency, status: tx.status === 'NONE' ? 'CLEARED' : tx.status,
    description, date: new Date(tx.createdAtMs).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    referenceExternalTransactionDate: null, transactionData: {},
  };
}

/** A UUID (version 4 layout) derived from a string, for ids that must be the same on a replay. */
function uuidFrom(s: string): string {
  const h = createHash('sha256').update(s).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x40;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

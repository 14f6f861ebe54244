// Sandbox simulation routes (docs/configuration.md, SANDBOX): an authorization, clearing, reversal or advice for a card
// of this switch, built as an acquirer would build it and sent through the switch's own ISO 8583
// listener (api/sandbox.ts). The answer shows both messages field by field (PAN masked), the
// response code and reason, and the transaction record the switch wrote for the message.
import type { Route } from '../router.js';
import type { ApiDeps, SandboxTarget } from '../deps.js';
import { json } from '../problem.js';
import { AppError, type ErrorCode } from '../../errors/index.js';
import type { Schema } from '../schema.js';
import type { HttpResponse } from '../http.js';
import type { IsoFields, IsoMessage } from '../../iso/codec.js';
import type { CardRecord } from '../../stores/cards.js';
import type { TransactionObject } from '../../stores/records.js';
import { currencyNumeric } from '../../iso/currency.js';
import { PROCESSING_CODES } from '../../iso/processing.js';
import { acquirer11, authorizationId } from '../../iso/wire.js';
import { originalDataElements, reasonsFor, replacementAmounts } from '../../iso/acquirer.js';
import { SANDBOX_ACQUIRER, SandboxLink, commonFields, fieldsByName } from '../sandbox.js';
import { cardFieldsForCodec } from '../../cardauth/card-data.js';
import { CARD_ID, CURRENCY, VALIDATION_MONEY, problem } from './common.js';
import { TRANSACTION } from './balances.js';

/** How long a simulation waits for the switch's record of its message (written just after the answer). */
const RECORD_WAIT_MS = 2_000;
const RECORD_POLL_MS = 20;
const AMOUNT_MAX_MINOR = 999_999_999_999;

const AMOUNT: Schema = { type: 'integer', minimum: 0, maximum: AMOUNT_MAX_MINOR, 'x-amount': true, description: 'minor units (field 4)' };
const TRANSACTION_ID: Schema = {
  type: 'string', pattern: '^[A-Za-z0-9:._ -]{1,200}$',
  description: 'the original\'s record id, or its externalTransactionId (the ledger transaction id)',
};

/** What an authorization or advice may set; cardId and amount are required. */
const MESSAGE_PROPERTIES: Record<string, Schema> = {
  cardId: CARD_ID.schema,
  amount: AMOUNT,
  currency: { ...CURRENCY, description: 'field 49; default the card\'s balance currency' },
  processingCode: { type: 'string', enum: [...PROCESSING_CODES.keys()], description: 'field 3, first two digits: 00 purchase (default), 01 ATM, 09 cashback, 20 refund, 28 payment credit, 30 balance inquiry' },
  mcc: { type: 'string', pattern: '^\\d{4}$', description: 'field 18; default 5411' },
  merchantName: { type: 'string', minLength: 1, maxLength: 22, description: 'field 43 positions 1-22' },
  merchantCity: { type: 'string', minLength: 1, maxLength: 13, description: 'field 43 positions 24-36' },
  merchantCountry: { type: 'string', pattern: '^[A-Z]{3}$', description: 'field 43 positions 38-40, ISO 3166 alpha-3' },
  cardData: {
    type: 'object', additionalProperties: false, required: ['method'],
    description: 'Card data as a terminal reads it, made with the switch\'s own keys (the sandbox plays the card and the acquirer): '
      + 'ECOMMERCE (entry 81, field 14, CVV2 in 48.92), SWIPE (entry 90, track 2), CHIP (entry 05, field 23, the iCVV track-2 equivalent, '
      + 'field 55 with a valid ARQC). Absent: what a terminal reads from this card — a virtual card ECOMMERCE, a physical card CHIP — when '
      + 'the sandbox has the program\'s keys; else field 2, field 14 and the sandbox\'s default entry mode (05) without card data. The attacks: a wrong `cvv2`, '
      + 'a wrong `pin`, an `atc` used before (a replayed cryptogram).',
    properties: {
      method: { type: 'string', enum: ['ECOMMERCE', 'SWIPE', 'CHIP'] },
      cvv2: { type: 'string', pattern: '^\\d{3}$', description: 'ECOMMERCE: send this CVV2 instead of the card\'s' },
      pin: { type: 'string', pattern: '^\\d{4,12}$', description: 'adds a PIN block (ISO 9564 format 0) under the sandbox acquirer\'s ZPK' },
      atc: { type: 'integer', minimum: 0, maximum: 65_535, description: 'CHIP: the ATC; default one above the last the sandbox used for the card' },
      withoutField2: { type: 'boolean', description: 'SWIPE or CHIP: leave fields 2 and 14 out, as a swipe may (the PAN and expiry are then the track\'s)' },
    },
  },
};

const AUTHORIZATION_BODY: Schema = {
  type: 'object', additionalProperties: false, required: ['cardId', 'amount'],
  properties: { ...MESSAGE_PROPERTIES, mti: { type: 'string', enum: ['0100', '0200'], description: '0100 authorization (default) or 0200 financial request' } },
};
const ADVICE_BODY: Schema = {
  type: 'object', additionalProperties: false, required: ['cardId', 'amount', 'mti'],
  properties: { ...MESSAGE_PROPERTIES, mti: { type: 'string', enum: ['0120', '0220'], description: '0120 authorization advice or 0220 financial advice' } },
};
const CLEARING_BODY: Schema = {
  type: 'object', additionalProperties: false, required: ['transactionId'],
  properties: { transactionId: TRANSACTION_ID, amount: { ...AMOUNT, description: 'minor units to clear; default the authorized amount' } },
};
const REVERSAL_BODY: Schema = {
  type: 'object', additionalProperties: false, required: ['transactionId'],
  properties: {
    transactionId: TRANSACTION_ID,
    finalAmount: { ...AMOUNT, description: 'a partial reversal: the amount that stays (field 95); absent: the whole amount is reversed' },
    advice: { type: 'boolean', description: 'send an 0420 reversal advice instead of an 0400' },
  },
};

const MESSAGE_VIEW: Schema = {
  type: 'object', required: ['mti', 'fields'],
  properties: {
    mti: { type: 'string', pattern: '^\\d{4}$' },
    fields: { type: 'object', additionalProperties: { type: 'string' }, description: 'field number and ISO name → value as on the wire; PAN masked, secret fields withheld, binary fields in hex' },
  },
};

export const SIMULATION: Schema = {
  type: 'object', required: ['request', 'response', 'responseCode', 'reason', 'record'],
  properties: {
    request: MESSAGE_VIEW, response: MESSAGE_VIEW,
    responseCode: { type: 'string', description: 'field 39 of the answer' },
    reason: { type: 'string', description: 'the reason the switch recorded (docs/messages.md)' },
    record: { oneOf: [TRANSACTION, { type: 'null' }], description: 'the transaction record the switch wrote for the message; null if it was not there within 2 s' },
  },
};

const SIMULATION_RESPONSES = (notFound: ErrorCode) => ({
  200: { description: 'The switch answered; its answer, whatever the response code, and its record', schema: SIMULATION },
  400: VALIDATION_MONEY,
  403: problem('TLS configured and no verified client certificate', 'CLIENT_CERTIFICATE_REQUIRED'),
  404: problem('No such card or transaction; or the sandbox is off', notFound, 'NOT_FOUND'),
  502: problem('The switch\'s ISO listener cannot be reached, or its answer does not decode', 'SANDBOX_LINK_DOWN', 'SANDBOX_BAD_ANSWER'),
  503: problem('Too many simulated messages waiting for the switch', 'SANDBOX_BUSY'),
  504: problem('The switch did not answer in time', 'SANDBOX_TIMEOUT'),
});

const DESCRIPTION = 'Only when the sandbox is on: by default in the development setup (HTTP on a loopback address, no SWITCH_SECRET), '
  + 'or with SANDBOX=1; otherwise 404 NOT_FOUND. The message goes through the switch\'s own ISO 8583 listener over one reused TCP '
  + 'connection, as an acquirer\'s would, and moves real money on the ledger.';

/** The detail of the 404 a sandbox route answers when the sandbox is off. */
const SANDBOX_OFF = 'the sandbox is off in this switch: SANDBOX=1 turns it on (it is on by default only with HTTP on a loopback address and no SWITCH_SECRET)';

interface CardDataBody { method: 'ECOMMERCE' | 'SWIPE' | 'CHIP'; cvv2?: string; pin?: string; atc?: number; withoutField2?: boolean }

interface MessageBody {
  cardId: string; amount: number; currency?: string; processingCode?: string; mti?: string;
  mcc?: string; merchantName?: string; merchantCity?: string; merchantCountry?: string; cardData?: CardDataBody;
}

/** The ATC the sandbox last used per card (CHIP without an `atc`): at most this many cards remembered. */
const ATC_REMEMBERED_MAX = 10_000;

export function sandboxRoutes(d: ApiDeps): Route[] {
  let link: SandboxLink | null = null;
  const linkOf = (): SandboxLink => (link ??= new SandboxLink(target(d)));
  const disabled = (): string | null => (d.sandbox === undefined || d.sandbox === null ? SANDBOX_OFF : null);
  const atcs = new Map<string, number>();
  return [
    {
      method: 'POST', path: '/sandbox/simulate/authorization', operationId: 'simulateAuthorization', tag: 'sandbox',
      summary: 'Send an 0100 authorization (or 0200 financial request) for a card through the ISO listener',
      description: DESCRIPTION, disabled, body: AUTHORIZATION_BODY, responses: SIMULATION_RESPONSES('CARD_NOT_FOUND'),
      handle: async (req) => {
        const b = req.json as MessageBody;
        return simulateNew(d, linkOf(), b, b.mti ?? '0100', atcs);
      },
    },
    {
      method: 'POST', path: '/sandbox/simulate/clearing', operationId: 'simulateClearing', tag: 'sandbox',
      summary: 'Send an 0220 clearing of an approved authorization',
      description: DESCRIPTION, disabled, body: CLEARING_BODY, responses: { ...SIMULATION_RESPONSES('TRANSACTION_NOT_FOUND'), 409: problem('The transaction is not an approved authorization', 'SANDBOX_NOT_AN_AUTHORIZATION') },
      handle: async (req) => {
        const b = req.json as { transactionId: string; amount?: number };
        const o = await approvedOriginal(d, b.transactionId);
        if (!o.rec.mti.startsWith('010')) throw new AppError('SANDBOX_NOT_AN_AUTHORIZATION', `transaction ${b.transactionId} is a ${o.rec.mti}, not an approved 0100`);
        const l = linkOf();
        const fields = followUpFields(o, l.nextStan());
        if (b.amount !== undefined) fields.set(4, String(b.amount).padStart(12, '0'));
        fields.set(38, authorizationId(o.txId));
        return simulate(d, l, { mti: '0220', fields: sorted(fields) }, o.pan);
      },
    },
    {
      method: 'POST', path: '/sandbox/simulate/reversal', operationId: 'simulateReversal', tag: 'sandbox',
      summary: 'Send an 0400 reversal (or 0420 advice) of an approved original, in full or in part',
      description: DESCRIPTION, disabled, body: REVERSAL_BODY, responses: { ...SIMULATION_RESPONSES('TRANSACTION_NOT_FOUND'), 409: problem('The transaction is not an approved original', 'SANDBOX_NOT_AN_AUTHORIZATION') },
      handle: async (req) => {
        const b = req.json as { transactionId: string; finalAmount?: number; advice?: boolean };
        const o = await approvedOriginal(d, b.transactionId);
        const l = linkOf();
        const fields = followUpFields(o, l.nextStan());
        if (b.finalAmount !== undefined) fields.set(95, replacementAmounts(b.finalAmount));
        return simulate(d, l, { mti: b.advice === true ? '0420' : '0400', fields: sorted(fields) }, o.pan);
      },
    },
    {
      method: 'POST', path: '/sandbox/simulate/advice', operationId: 'simulateAdvice', tag: 'sandbox',
      summary: 'Send an 0120 authorization advice or 0220 financial advice (stand-in) for a card',
      description: DESCRIPTION, disabled, body: ADVICE_BODY, responses: SIMULATION_RESPONSES('CARD_NOT_FOUND'),
      handle: async (req) => {
        const b = req.json as MessageBody;
        return simulateNew(d, linkOf(), b, b.mti as string, atcs);
      },
    },
  ];
}

function target(d: ApiDeps): SandboxTarget {
  if (d.sandbox === undefined || d.sandbox === null) throw new AppError('NOT_FOUND', SANDBOX_OFF);
  return d.sandbox;
}

/** A message that names no original: an authorization, financial request or advice. */
async function simulateNew(d: ApiDeps, link: SandboxLink, b: MessageBody, mti: string, atcs: Map<string, number>): Promise<HttpResponse> {
  const card = await d.cards.get(b.cardId);
  const pan = card === null ? null : await d.cards.revealPan(card.id);
  if (card === null || pan === null) throw new AppError('CARD_NOT_FOUND', `no card ${b.cardId}`);
  const alpha = b.currency ?? card.currency;
  const numeric = currencyNumeric(alpha);
  if (numeric === undefined) throw new AppError('VALIDATION_ERROR', `currency ${alpha} is not a currency the switch knows`);
  const fields = commonFields({
    now: new Date(), stan: link.nextStan(), numericCurrency: numeric, mcc: b.mcc,
    merchantName: b.merchantName, merchantCity: b.merchantCity, merchantCountry: b.merchantCountry,
  });
  fields.set(2, pan);
  fields.set(3, (b.processingCode ?? '00') + '0000');
  fields.set(4, String(b.amount).padStart(12, '0'));
  const cardData = b.cardData ?? terminalDefault(d, card, b);
  if (cardData !== null) addCardData(d, fields, card, pan, cardData, atcs);
  else fields.set(14, card.expiry);
  return simulate(d, link, { mti, fields: sorted(fields) }, pan);
}

/**
 * The card data a message without `cardData` carries: what a terminal reads from this card, so that
 * a program under `STRICT` cardholder verification approves it as a real one — a virtual card's
 * e-commerce payment with its CVV2, a physical card's chip read. Null when the sandbox has no keys
 * for the card's program (it then sends fields 2 and 14 only), and for a credit (20, 28), which
 * requires nothing. Cash under `STRICT` also needs a PIN: `cardData.pin`.
 */
function terminalDefault(d: ApiDeps, card: CardRecord, b: MessageBody): CardDataBody | null {
  const cd = target(d).cardData;
  if (cd === undefined || !cd.has(card.configId)) return null;
  const pc = b.processingCode ?? '00';
  if (pc === '20' || pc === '28') return null;
  return { method: card.kind === 'PHYSICAL' ? 'CHIP' : 'ECOMMERCE' };
}

/** The card data of a simulated message (SANDBOX=1): made with the switch's keys, as the card and the acquirer would. */
function addCardData(d: ApiDeps, fields: IsoFields, card: CardRecord, pan: string, c: CardDataBody, atcs: Map<string, number>): void {
  const cd = target(d).cardData;
  if (cd === undefined || !cd.has(card.configId)) throw new AppError('VALIDATION_ERROR', `program ${card.configId} has no card keys: the sandbox cannot make its card data`);
  const ref = { configId: card.configId, pan, expiry: card.expiry, cvv2Generation: card.cvv2Generation };
  const acquirer = SANDBOX_ACQUIRER.acquirer;
  let made: Record<number, string>;
  try {
    if (c.method === 'ECOMMERCE') {
      made = cd.ecommerce(ref, c.cvv2 === undefined ? {} : { cvv2: c.cvv2 });
    } else if (c.method === 'SWIPE') {
      made = { ...cd.swipe(ref, { acquirer }), 14: card.expiry };
    } else {
      const atc = c.atc ?? nextAtc(atcs, card.id);
      atcs.set(card.id, atc);
      const amount = Number(fields.get(4) ?? 0);
      made = { ...cd.chipRead(ref, { atc, amountMinor: amount, currencyN3: String(fields.get(49) ?? '978'), countryN3: '616' }, { acquirer }), 14: card.expiry };
    }
    if (c.pin !== undefined) made[52] = cd.pinBlock(ref, acquirer, c.pin);
  } catch (e) {
    throw new AppError('VALIDATION_ERROR', `the sandbox cannot make this card data: ${(e as Error).message}`);
  }
  for (const [k, v] of cardFieldsForCodec(made)) fields.set(k, v);
  if (c.withoutField2 === true && c.method !== 'ECOMMERCE') { fields.delete(2); fields.delete(14); }
}

/** One above the ATC the sandbox last used for the card; at first one from the clock, so a restarted sandbox does not replay. */
function nextAtc(atcs: Map<string, number>, cardId: string): number {
  const last = atcs.get(cardId);
  if (last === undefined && atcs.size >= ATC_REMEMBERED_MAX) atcs.delete(atcs.keys().next().value as string);
  return last === undefined ? 1 + (Math.floor(Date.now() / 60_000) % 60_000) : Math.min(last + 1, 65_535);
}

/** An approved original as a follow-up needs it: its record, card, PAN and the parts of its transaction id. */
interface Original {
  rec: TransactionObject; card: CardRecord; pan: string; txId: string;
  ref: { mti: string; f7: string; stan: string; acquirer11: string; terminal: string | undefined };
}

/**
 * The original a clearing or reversal names, by record id or ledger transaction id. The
 * transaction id holds what field 90 needs (card, MTI class, field 7, STAN, acquirer, terminal:
 * iso/wire.ts transactionId); a record id leads to it through the record.
 */
async function approvedOriginal(d: ApiDeps, id: string): Promise<Original> {
  const notFound = (): AppError => new AppError('TRANSACTION_NOT_FOUND', `no card transaction ${id}`);
  if (d.records === null) throw notFound();
  let rec = /^[0-9a-f-]{36}$/.test(id) ? (await d.records.get(id)) as TransactionObject | null : null;
  const txId = rec?.externalTransactionId ?? id;
  const parts = parseTransactionId(txId);
  if (parts === null) throw notFound();
  const card = await d.cards.get(parts.cardId);
  const pan = card === null ? null : await d.cards.revealPan(card.id);
  if (card === null || pan === null) throw notFound();
  if (rec === null) {
    const recordId = target(d).recordId(parts.mtiClass, pan, parts.stan, parts.f7, parts.acquirer11, parts.terminal ?? '');
    rec = (await d.records.get(recordId)) as TransactionObject | null;
  }
  if (rec === null || rec.externalTransactionId !== txId) throw notFound();
  if (rec.processingStatus !== 'SUCCESS' || rec.referenceExternalTransactionId !== null || rec.mti.startsWith('04')) {
    throw new AppError('SANDBOX_NOT_AN_AUTHORIZATION', `transaction ${id} is not an approved original (${rec.mti} ${rec.processingStatus})`);
  }
  return { rec, card, pan, txId, ref: { mti: rec.mti, f7: parts.f7, stan: parts.stan, acquirer11: parts.acquirer11, terminal: parts.terminal } };
}

/** `<cardId>.<MTI class>.<field 7>.<STAN>.<acquirer n11>.<terminal>`, the terminal as iso/wire.ts writes it. */
function parseTransactionId(txId: string): { cardId: string; mtiClass: string; f7: string; stan: string; acquirer11: string; terminal: string | undefined } | null {
  const m = /^([A-Za-z0-9_-]{1,64})\.(\d{3})\.(\d{10})\.(\d{6})\.(\d{11})\.([A-Za-z0-9_]*)$/.exec(txId);
  if (m === null) return null;
  const t = m[6] as string;
  const terminal = t === '' ? undefined : /^x(?:[0-9a-f]{2})+$/.test(t) ? Buffer.from(t.slice(1), 'hex').toString('latin1') : t.replace(/_/g, ' ');
  return { cardId: m[1] as string, mtiClass: m[2] as string, f7: m[3] as string, stan: m[4] as string, acquirer11: m[5] as string, terminal };
}

/** The fields of a clearing or reversal: the original's amount, currency, terminal and reference, and field 90. */
function followUpFields(o: Original, stan: string): IsoFields {
  const r = o.rec;
  const currency = currencyNumeric(r.originalCurrency ?? r.currency ?? '') ?? '978';
  const fields = commonFields({
    now: new Date(), stan, numericCurrency: currency, mcc: r.transactionData.mcc ?? undefined,
    terminal: o.ref.terminal, rrn: r.transactionData.retrievalReferenceNumber ?? undefined,
  });
  if (o.ref.terminal === undefined) fields.delete(41);
  fields.set(2, o.pan);
  const proc = [...PROCESSING_CODES.values()].find((p) => p.type === r.type)?.code ?? '00';
  fields.set(3, proc + '0000');
  fields.set(4, String(r.originalAmount ?? r.amount ?? 0).padStart(12, '0'));
  fields.set(32, o.ref.acquirer11);
  fields.set(90, originalDataElements({ mti: o.ref.mti, stan: o.ref.stan, f7: o.ref.f7, acquirer: o.ref.acquirer11 }));
  return fields;
}

function sorted(fields: IsoFields): IsoFields {
  return new Map([...fields].sort((a, b) => a[0] - b[0]));
}

const str = (f: IsoFields, n: number): string => { const v = f.get(n); return typeof v === 'string' ? v : ''; };

/** Sends the message, waits for its answer and record, and renders the simulation's answer. */
async function simulate(d: ApiDeps, link: SandboxLink, msg: IsoMessage, pan: string): Promise<HttpResponse> {
  const answer = await link.exchange(msg);
  const f = msg.fields;
  const recordId = target(d).recordId(msg.mti.slice(0, 3), pan, str(f, 11), str(f, 7), acquirer11(str(f, 32)), str(f, 41));
  const record = await waitForRecord(d, recordId);
  const responseCode = str(answer.fields, 39);
  const reason = record?.reason ?? reasonsFor(responseCode, link.codec.dialect.name)[0] ?? 'UNKNOWN';
  return json(200, {
    request: { mti: msg.mti, fields: fieldsByName(link.codec.dialect, msg.fields) },
    response: { mti: answer.mti, fields: fieldsByName(link.codec.dialect, answer.fields) },
    responseCode, reason, record,
  });
}

async function waitForRecord(d: ApiDeps, id: string): Promise<TransactionObject | null> {
  if (d.records === null) return null;
  const deadline = Date.now() + RECORD_WAIT_MS;
  for (;;) {
    const rec = (await d.records.get(id)) as TransactionObject | null;
    if (rec !== null || Date.now() >= deadline) return rec;
    await new Promise((r) => setTimeout(r, RECORD_POLL_MS));
  }
}

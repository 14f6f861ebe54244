// Partner balances (seed "Partner Balances"): one per (configId, type, currency), reloaded with
// money from outside. The deposit balance is what card debits are held against first.
import { randomUUID } from 'node:crypto';
import type { Route } from '../router.js';
import { IDEMPOTENCY_HEADER } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json } from '../problem.js';
import { AppError } from '../../errors/index.js';
import type { Schema } from '../schema.js';
import { isKnownCurrency } from '../../iso/currency.js';
import { MAX_AMOUNT_MINOR } from '../../ledger/types.js';
import { CURRENCY, VALIDATION, VALIDATION_MONEY, ledgerRefusal, partnerView, problem, requireProgram } from './common.js';

const TYPES = ['DEPOSIT', 'CREDIT', 'COMPANY'] as const;
const PARTNER_ID = { description: 'Partner balance id (pb-<TYPE>-<CURRENCY>-<configId>)', schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,200}$' } as Schema };

export const PARTNER_BALANCE: Schema = {
  type: 'object', required: ['id', 'type', 'currency', 'configId', 'available', 'blocked'],
  properties: {
    id: { type: 'string' }, type: { type: 'string', enum: TYPES }, currency: CURRENCY, configId: { type: 'string' },
    available: { type: 'integer', description: 'minor units' }, blocked: { type: 'integer', description: 'minor units held by authorizations' },
  },
};

export function partnerBalanceRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'POST', path: '/secure/partner-balances', operationId: 'createPartnerBalance', tag: 'partner balances',
      summary: 'Creates the partner balance of a program, type and currency (or answers the existing one)',
      body: {
        type: 'object', additionalProperties: false, required: ['type', 'currency', 'configId'],
        properties: { type: { type: 'string', enum: TYPES }, currency: CURRENCY, configId: { type: 'string', minLength: 1, maxLength: 64 } },
      },
      responses: {
        200: { description: 'It existed already: the existing one', schema: PARTNER_BALANCE },
        201: { description: 'Created', schema: PARTNER_BALANCE },
        400: VALIDATION,
        404: problem('No such program', 'PROGRAM_NOT_FOUND'),
      },
      async handle(req) {
        const b = req.json as { type: typeof TYPES[number]; currency: string; configId: string };
        requireProgram(d, b.configId);
        if (!isKnownCurrency(b.currency)) throw new AppError('VALIDATION_ERROR', `currency ${b.currency} is not supported`);
        const r = await d.ledger.createPartnerBalance(b);
        return json(r.created ? 201 : 200, partnerView(r.balance));
      },
    },
    {
      method: 'POST', path: '/secure/partner-balances/{id}/reload', operationId: 'reloadPartnerBalance', tag: 'partner balances',
      summary: 'Adds money from outside (a bank transfer received) to a partner balance',
      params: { id: PARTNER_ID },
      headers: { 'X-Idempotency-Key': IDEMPOTENCY_HEADER },
      idempotent: true,
      body: { type: 'object', additionalProperties: false, required: ['amount'], properties: { amount: { type: 'integer', minimum: 1, maximum: MAX_AMOUNT_MINOR, 'x-amount': true, description: 'minor units' } } },
      responses: {
        200: { description: 'Reloaded: the balance after the reload', schema: PARTNER_BALANCE },
        400: VALIDATION_MONEY,
        404: problem('No such partner balance', 'PARTNER_BALANCE_NOT_FOUND'),
        409: problem('The key was used for another request', 'IDEMPOTENCY_KEY_REUSED'),
      },
      async handle(req) {
        const id = req.params.id as string;
        if (await d.ledger.getPartnerBalance(id) === null) throw new AppError('PARTNER_BALANCE_NOT_FOUND', `no partner balance ${id}`);
        const key = req.idempotencyKey === null ? `api-reload:${randomUUID()}` : `api-reload:${id}:${req.idempotencyKey}`;
        const r = await d.ledger.reloadPartnerBalance({ id, amountMinor: (req.json as { amount: number }).amount, idempotencyKey: key });
        if (!r.ok || r.balance === null) throw ledgerRefusal(r.reason, `reload of ${id}`);
        return json(200, partnerView(r.balance));
      },
    },
    {
      method: 'GET', path: '/secure/partner-balances/{id}', operationId: 'getPartnerBalance', tag: 'partner balances',
      summary: 'A partner balance (all tranches summed)',
      params: { id: PARTNER_ID },
      responses: { 200: { description: 'The partner balance', schema: PARTNER_BALANCE }, 400: VALIDATION, 404: problem('No such partner balance', 'PARTNER_BALANCE_NOT_FOUND') },
      async handle(req) {
        const b = await d.ledger.getPartnerBalance(req.params.id as string);
        if (b === null) throw new AppError('PARTNER_BALANCE_NOT_FOUND', `no partner balance ${req.params.id}`);
        return json(200, partnerView(b));
      },
    },
  ];
}

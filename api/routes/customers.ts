// Wallets (customers) and their transactional locks (seed "External Transactional Lock Reason Notifier").
import { noticeTransactionalLock } from '../partner-notices.js';
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json, noContent } from '../problem.js';
import { AppError } from '../../errors/index.js';
import type { Schema } from '../schema.js';
import { KYC_STATUSES, TRANSACTIONAL_LOCK_REASONS, type CustomerProfile, type KycStatus, type Wallet } from '../../stores/customers.js';
import { CUSTOMER_ID, VALIDATION, problem, requireCustomer } from './common.js';

const NAME = { type: 'string', minLength: 1, maxLength: 100 } as const;

/** The wallet's fields, validated the same way on POST (all required) and PUT (any of them). */
const WALLET_FIELDS: Record<string, Schema> = {
  firstName: NAME, lastName: NAME,
  phone: { type: 'string', pattern: '^\\+?[0-9]{6,15}$', description: 'E.164 digits, optional leading +' },
  email: { type: 'string', format: 'email', maxLength: 254 },
  birthDate: { type: 'string', format: 'date', formatMinimum: '1900-01-01', 'x-not-future': true, description: 'YYYY-MM-DD, not in the future' },
  state: { type: 'string', minLength: 1, maxLength: 64, description: 'State or region of residence' },
  kyc: { type: 'string', enum: KYC_STATUSES },
};
const PROFILE_KEYS = ['firstName', 'lastName', 'phone', 'email', 'birthDate', 'state'] as const;

const nullableString = (description?: string): Schema => ({ type: ['string', 'null'], ...(description === undefined ? {} : { description }) });

/** GET/PUT /lifecycle/v1/wallet/{customerId}: the profile, KYC and id; never card data. */
export const WALLET: Schema = {
  type: 'object', required: ['id', 'kyc', ...PROFILE_KEYS],
  properties: {
    id: { type: ['integer', 'string'], description: 'the id POST /lifecycle/v1/wallet answered (an integer); a customer made otherwise keeps its string id' },
    firstName: nullableString('null only for a customer created without a wallet profile'), lastName: nullableString(), phone: nullableString(),
    email: nullableString(), birthDate: nullableString('YYYY-MM-DD'), state: nullableString(),
    kyc: { type: 'string', enum: KYC_STATUSES },
  },
};

const WALLET_ID: typeof CUSTOMER_ID = { description: 'Customer id, as POST /lifecycle/v1/wallet answered it', schema: CUSTOMER_ID.schema };

function walletView(w: Wallet): Record<string, unknown> {
  const id = /^(0|[1-9][0-9]{0,14})$/.test(w.customer.id) ? Number(w.customer.id) : w.customer.id;
  const out: Record<string, unknown> = { id };
  for (const k of PROFILE_KEYS) out[k] = w.profile[k] ?? null;
  out.kyc = w.customer.kyc;
  return out;
}

export function customerRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'POST', path: '/lifecycle/v1/wallet', operationId: 'createWallet', tag: 'customers',
      summary: 'Registers a customer (wallet) with their profile and KYC state',
      description: 'Answers the new customer id, an integer. Cards and balances need kyc SUCCESS.',
      body: {
        type: 'object', additionalProperties: false,
        required: ['firstName', 'lastName', 'phone', 'email', 'birthDate', 'state', 'kyc'],
        properties: WALLET_FIELDS,
      },
      responses: {
        201: { description: 'Created', schema: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } },
        400: VALIDATION,
      },
      async handle(req) {
        const b = req.json as CustomerProfile & { kyc: KycStatus };
        const { kyc, ...rest } = b;
        const profile: CustomerProfile = { firstName: rest.firstName, lastName: rest.lastName, phone: rest.phone, email: rest.email, birthDate: rest.birthDate, state: rest.state };
        const c = await d.customers.create({ kyc, profile });
        return json(201, { id: Number(c.id) });
      },
    },
    {
      method: 'GET', path: '/lifecycle/v1/wallet/{customerId}', operationId: 'getWallet', tag: 'customers',
      summary: 'A wallet: the customer\'s id, profile and KYC status (no card data)',
      params: { customerId: WALLET_ID },
      responses: { 200: { description: 'The wallet', schema: WALLET }, 400: VALIDATION, 404: problem('No such customer', 'CUSTOMER_NOT_FOUND') },
      async handle(req) {
        const id = req.params.customerId as string;
        const w = await d.customers.getWallet(id);
        if (w === null) throw new AppError('CUSTOMER_NOT_FOUND', `customer ${id} does not exist`);
        return json(200, walletView(w));
      },
    },
    {
      method: 'PUT', path: '/lifecycle/v1/wallet/{customerId}', operationId: 'updateWallet', tag: 'customers',
      summary: 'Updates any of a wallet\'s profile fields and its KYC status (a partner with its own KYC reports its outcome here)',
      description: 'Each field is validated as on POST /lifecycle/v1/wallet; fields left out keep their value, and all that are sent are '
        + 'written together; an empty body is refused (400 VALIDATION_ERROR). kyc SUCCESS lets balances and cards be created from then on. PENDING or REJECTED stops new balances '
        + 'and cards (409 KYC_REQUIRED) but leaves existing balances and cards working: to stop a customer\'s debits, set a '
        + 'transactional lock. Any change of status is allowed (a partner may re-verify a rejected customer).',
      params: { customerId: WALLET_ID },
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: WALLET_FIELDS },
      responses: {
        200: { description: 'The wallet after the update', schema: WALLET },
        400: VALIDATION,
        404: problem('No such customer', 'CUSTOMER_NOT_FOUND'),
      },
      async handle(req) {
        const { kyc, ...rest } = req.json as Partial<CustomerProfile> & { kyc?: KycStatus };
        const profile: Partial<CustomerProfile> = {};
        for (const k of PROFILE_KEYS) if (rest[k] !== undefined) profile[k] = rest[k];
        // An unknown customer is AppError CUSTOMER_NOT_FOUND (404) from the store.
        const w = await d.customers.update(req.params.customerId as string, { ...(kyc === undefined ? {} : { kyc }), profile });
        return json(200, walletView(w));
      },
    },
    {
      method: 'GET', path: '/secure/customers/{customerId}', operationId: 'getCustomer', tag: 'customers',
      summary: 'A customer: KYC state, transactional locks, wallet profile',
      params: { customerId: CUSTOMER_ID },
      responses: {
        200: {
          description: 'The customer',
          schema: {
            type: 'object', required: ['id', 'kyc', 'locks', 'debitsBlocked'],
            properties: {
              id: { type: 'string' }, kyc: { type: 'string', enum: KYC_STATUSES },
              locks: { type: 'array', items: { type: 'string', enum: TRANSACTIONAL_LOCK_REASONS } },
              debitsBlocked: { type: 'boolean' }, profile: { type: ['object', 'null'] },
            },
          },
        },
        404: problem('No such customer', 'CUSTOMER_NOT_FOUND'),
      },
      async handle(req) {
        const id = req.params.customerId as string;
        const c = await requireCustomer(d, id);
        return json(200, { id: c.id, kyc: c.kyc, locks: c.locks, debitsBlocked: c.debitsBlocked, profile: await d.customers.getProfile(id) });
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/transactional-locks', operationId: 'addTransactionalLock', tag: 'customers',
      summary: 'Sets a transactional lock: while any is set, every debit of the customer declines AML_EXCEPTION',
      description: 'Idempotent: setting a reason already set changes nothing. Takes effect on the next authorization.',
      params: { customerId: CUSTOMER_ID },
      body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'string', enum: TRANSACTIONAL_LOCK_REASONS } } },
      responses: { 204: { description: 'Set' }, 400: VALIDATION, 404: problem('No such customer', 'CUSTOMER_NOT_FOUND') },
      async handle(req) {
        const reason = (req.json as { reason: string }).reason;
        await d.customers.addLock(req.params.customerId as string, reason);
        await noticeTransactionalLock(d, req.params.customerId as string, reason, true);
        return noContent();
      },
    },
    {
      method: 'DELETE', path: '/secure/customers/{customerId}/transactional-locks/{reason}', operationId: 'removeTransactionalLock', tag: 'customers',
      summary: 'Removes a transactional lock (idempotent)',
      params: { customerId: CUSTOMER_ID, reason: { description: 'Lock reason', schema: { type: 'string', enum: TRANSACTIONAL_LOCK_REASONS } } },
      responses: { 204: { description: 'Removed (or was not set)' }, 400: VALIDATION, 404: problem('No such customer', 'CUSTOMER_NOT_FOUND') },
      async handle(req) {
        await d.customers.removeLock(req.params.customerId as string, req.params.reason as string);
        await noticeTransactionalLock(d, req.params.customerId as string, req.params.reason as string, false);
        return noContent();
      },
    },
  ];
}

// Wallets (customers) and their transactional locks (seed "External Transactional Lock Reason Notifier").
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json, noContent } from '../problem.js';
import { KYC_STATUSES, TRANSACTIONAL_LOCK_REASONS, type CustomerProfile, type KycStatus } from '../../switch/customers.js';
import { CUSTOMER_ID, VALIDATION, problem, requireCustomer } from './common.js';

const NAME = { type: 'string', minLength: 1, maxLength: 100 } as const;

export function customerRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'POST', path: '/lifecycle/v1/wallet', operationId: 'createWallet', tag: 'customers',
      summary: 'Registers a customer (wallet) with their profile and KYC state',
      description: 'Answers the new customer id, an integer. Cards and balances need kyc SUCCESS.',
      body: {
        type: 'object', additionalProperties: false,
        required: ['firstName', 'lastName', 'phone', 'email', 'birthDate', 'state', 'kyc'],
        properties: {
          firstName: NAME, lastName: NAME,
          phone: { type: 'string', pattern: '^\\+?[0-9]{6,15}$', description: 'E.164 digits, optional leading +' },
          email: { type: 'string', format: 'email', maxLength: 254 },
          birthDate: { type: 'string', format: 'date', description: 'YYYY-MM-DD, not in the future' },
          state: { type: 'string', minLength: 1, maxLength: 64, description: 'State or region of residence' },
          kyc: { type: 'string', enum: KYC_STATUSES },
        },
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
        await d.customers.addLock(req.params.customerId as string, (req.json as { reason: string }).reason);
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
        return noContent();
      },
    },
  ];
}

// Pieces the route modules share: parameter schemas, views of stored records, lookups that end
// in a 404 problem, and the status of each ledger reason.
import { DeletedBalances } from '../../stores/deleted-balances.js';
import type { Schema } from '../schema.js';
import type { RouteParam, RouteResponse } from '../router.js';
import type { ApiDeps } from '../deps.js';
import type { Customer } from '../../stores/customers.js';
import type { CardRecord } from '../../stores/cards.js';
import type { UserBalance, PartnerBalance, LedgerReason } from '../../ledger/index.js';
import { MAX_AMOUNT_MINOR } from '../../ledger/types.js';
import type { Program } from '../../stores/programs.js';
import { AppError, type ErrorCode } from '../../errors/index.js';

export const CUSTOMER_ID: RouteParam = { description: 'Customer id (the wallet id)', schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } };
export const BALANCE_ID: RouteParam = { description: 'User balance id', schema: { type: 'string', pattern: '^[A-Za-z0-9:_-]{1,100}$' } };
export const CARD_ID: RouteParam = { description: 'Card id', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } };
export const CURRENCY: Schema = { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 alphabetic code' };

export const PROBLEM: Schema = { $ref: '#/components/schemas/Problem' };
/** A problem response of a route for the OpenAPI document: the codes it may answer with (rows of errors/table.ts). */
export const problem = (description: string, ...problems: ErrorCode[]): RouteResponse => ({ description, schema: PROBLEM, problems });
export const VALIDATION = problem('The request is malformed', 'VALIDATION_ERROR', 'MALFORMED_JSON');
/** A money-moving call: also refused when the amount, or the balance after it, would pass 999,999,999,999 minor units (n12). */
export const VALIDATION_MONEY = problem('The request is malformed, or the amount or the balance after it would pass 999,999,999,999 minor units',
  'VALIDATION_ERROR', 'MALFORMED_JSON', 'AMOUNT_TOO_LARGE');

export async function requireCustomer(d: ApiDeps, customerId: string): Promise<Customer> {
  const c = await d.customers.get(customerId);
  if (c === null) throw new AppError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
  return c;
}


/** The customer's balance; another customer's balance, or a deleted one, is as unknown as a missing one. */
export async function requireBalance(d: ApiDeps, customerId: string, balanceId: string): Promise<UserBalance> {
  const [b, deleted] = await Promise.all([d.ledger.getUserBalance(balanceId), new DeletedBalances(d.redis).has(balanceId)]);
  if (b === null || b.customerId !== customerId || deleted) throw new AppError('BALANCE_NOT_FOUND', `customer ${customerId} has no balance ${balanceId}`);
  return b;
}

export async function requireCard(d: ApiDeps, customerId: string, cardId: string): Promise<CardRecord> {
  const c = await d.cards.get(cardId);
  if (c === null || c.customerId !== customerId) throw new AppError('CARD_NOT_FOUND', `customer ${customerId} has no card ${cardId}`);
  return c;
}

export function requireProgram(d: ApiDeps, configId: string): Program {
  const p = d.programs.byId(configId);
  if (p === undefined) throw new AppError('PROGRAM_NOT_FOUND', `no program with configId ${configId}`);
  return p;
}

/** Card expiry YYMM as the seed shows it: the last day of the month, YYYY-MM-DD. */
export function expDate(yymm: string): string {
  const y = 2000 + Number(yymm.slice(0, 2));
  const m = Number(yymm.slice(2, 4));
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return `${y}-${String(m).padStart(2, '0')}-${String(last).padStart(2, '0')}`;
}

/** ACTIVE, INACTIVE (physical, not yet activated) or LOCKED (any lock code). */
export function cardStatus(c: CardRecord): 'ACTIVE' | 'INACTIVE' | 'LOCKED' {
  return c.lock !== 0 ? 'LOCKED' : c.status;
}

export function cardView(c: CardRecord): { id: string; lastFourDigits: string; exp: string; status: string } {
  return { id: c.id, lastFourDigits: c.panLast4, exp: expDate(c.expiry), status: cardStatus(c) };
}

export function partnerView(b: PartnerBalance): Record<string, unknown> {
  return { id: b.id, type: b.type, currency: b.currency, configId: b.configId, available: b.availableMinor, blocked: b.blockedMinor };
}

export function balanceView(b: UserBalance, cards: readonly object[]): Record<string, unknown> {
  return { id: b.id, customerId: b.customerId, currency: b.currency, configId: b.configId, available: b.availableMinor, blocked: b.blockedMinor, cards };
}

/**
 * A ledger refusal as a problem: the title is the reason itself, the status its row's in
 * errors/table.ts (APPROVED has none: a 500). AMOUNT_TOO_LARGE says which maximum.
 */
export function ledgerRefusal(reason: LedgerReason, what: string): AppError {
  if (reason === 'AMOUNT_TOO_LARGE') return new AppError(reason, `${what}: the balance after it would pass ${MAX_AMOUNT_MINOR} minor units`);
  return new AppError(reason, `${what}: ${reason}`);
}

export const CARD_SUMMARY: Schema = {
  type: 'object',
  properties: {
    id: { type: 'string' }, lastFourDigits: { type: 'string' }, exp: { type: 'string', format: 'date' },
    status: { type: 'string', enum: ['ACTIVE', 'INACTIVE', 'LOCKED'] },
  },
  required: ['id', 'lastFourDigits', 'exp', 'status'],
};

// A card by its id alone (GET /secure/cards/{cardId}): whose it is and where it sits — customer,
// balance, program — with its summary, never its PAN or CVV. A transaction record names a card by
// id only; this leads from there to the customer-scoped card routes (api/routes/cards.ts), and the
// tools (npm run card, npm run iso -- --card-id) use it to find a card's customer.
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json } from '../problem.js';
import { AppError } from '../../errors/index.js';
import type { Schema } from '../schema.js';
import { CARD_ID, CARD_SUMMARY, VALIDATION, cardView, problem } from './common.js';

const CARD_LOCATED: Schema = {
  type: 'object',
  required: [...(CARD_SUMMARY.required ?? []), 'customerId', 'balanceId', 'configId', 'currency', 'kind'],
  properties: {
    ...CARD_SUMMARY.properties,
    customerId: { type: 'string' }, balanceId: { type: 'string' }, configId: { type: 'string' },
    currency: { type: 'string', description: 'the balance\'s currency' }, kind: { type: 'string', enum: ['VIRTUAL', 'PHYSICAL'] },
  },
};

export function cardLookupRoutes(d: ApiDeps): Route[] {
  return [{
    method: 'GET', path: '/secure/cards/{cardId}', operationId: 'getCardById', tag: 'cards',
    summary: 'A card by its id alone: its customer, balance and program, and its summary (no PAN, no CVV2)',
    params: { cardId: CARD_ID },
    responses: {
      200: { description: 'The card', schema: CARD_LOCATED },
      400: VALIDATION,
      404: problem('No such card', 'CARD_NOT_FOUND'),
    },
    async handle(req) {
      const c = await d.cards.get(req.params.cardId as string);
      if (c === null) throw new AppError('CARD_NOT_FOUND', `no card ${req.params.cardId}`);
      return json(200, { ...cardView(c), customerId: c.customerId, balanceId: c.balanceId, configId: c.configId, currency: c.currency, kind: c.kind });
    },
  }];
}

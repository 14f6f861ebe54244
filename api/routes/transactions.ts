// Card and internal transactions as transaction objects of the seed's Legacy Transactions
// Notifier, newest first, read from the switch's transaction records (stores/records.ts).
import type { Route } from '../router.js';
import type { ApiDeps, TransactionSource } from '../deps.js';
import { json } from '../problem.js';
import { AppError } from '../../errors/index.js';
import { CARD_ID, VALIDATION, problem } from './common.js';
import { TRANSACTION } from './balances.js';

export const TRANSACTIONS_LIMIT_MAX = 100;
const TRANSACTIONS_LIMIT_DEFAULT = 20;

function records(d: ApiDeps): TransactionSource {
  if (d.records === null) throw new AppError('TRANSACTIONS_UNAVAILABLE', 'transaction records are not kept by this switch yet');
  return d.records;
}

export function transactionRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'GET', path: '/secure/transactions', operationId: 'listTransactions', tag: 'transactions',
      summary: 'Transactions of a balance or a card, newest first, a page at a time',
      description: 'Give balanceId or cardId (or both). `next` is the cursor of the following page, null on the last one.',
      query: {
        balanceId: { description: 'User balance id', schema: { type: 'string', pattern: '^[A-Za-z0-9:_-]{1,100}$' } },
        cardId: { description: 'Card id', schema: CARD_ID.schema },
        limit: { description: `Page size, 1-${TRANSACTIONS_LIMIT_MAX}, default ${TRANSACTIONS_LIMIT_DEFAULT}`, schema: { type: 'integer', minimum: 1, maximum: TRANSACTIONS_LIMIT_MAX } },
        cursor: { description: 'The `next` of the previous page', schema: { type: 'string', minLength: 1, maxLength: 200 } },
      },
      responses: {
        200: {
          description: 'A page',
          schema: { type: 'object', required: ['items', 'next'], properties: { items: { type: 'array', items: TRANSACTION }, next: { type: ['string', 'null'] } } },
        },
        400: VALIDATION,
        503: problem('Transaction records not available', 'TRANSACTIONS_UNAVAILABLE'),
      },
      async handle(req) {
        const q = req.queryValues;
        if (q.balanceId === undefined && q.cardId === undefined) throw new AppError('VALIDATION_ERROR', 'balanceId or cardId is required');
        const page = await records(d).list({
          ...(q.balanceId === undefined ? {} : { balanceId: String(q.balanceId) }),
          ...(q.cardId === undefined ? {} : { cardId: String(q.cardId) }),
          ...(q.cursor === undefined ? {} : { cursor: String(q.cursor) }),
          limit: typeof q.limit === 'number' ? q.limit : TRANSACTIONS_LIMIT_DEFAULT,
        });
        return json(200, { items: page.items, next: page.next });
      },
    },
    {
      method: 'GET', path: '/secure/transactions/{id}', operationId: 'getTransaction', tag: 'transactions',
      summary: 'One transaction object',
      params: { id: { description: 'Transaction id', schema: { type: 'string', pattern: '^[A-Za-z0-9:._-]{1,200}$' } } },
      responses: {
        200: { description: 'The transaction', schema: TRANSACTION },
        400: VALIDATION,
        404: problem('No such transaction', 'TRANSACTION_NOT_FOUND'),
        503: problem('Transaction records not available', 'TRANSACTIONS_UNAVAILABLE'),
      },
      async handle(req) {
        const tx = await records(d).get(req.params.id as string);
        if (tx === null) throw new AppError('TRANSACTION_NOT_FOUND', `no transaction ${req.params.id}`);
        return json(200, tx);
      },
    },
  ];
}

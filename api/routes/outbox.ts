// The partner-call outbox (adapters/outbox.ts, docs/outbox.md) for operators: what waits for a
// partner's (or a webhook receiver's) 2xx, what gave up in the dead letters, and a retry that puts
// a dead entry back with its idempotency key. Failed webhook deliveries are the dead entries of kind
// `webhook`. Bodies are shown as recorded; they never hold a PAN or CVV (the outbox
// refuses such a body when it is enqueued).
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json } from '../problem.js';
import { AppError } from '../../errors/index.js';
import type { Schema } from '../schema.js';
import { VALIDATION, problem } from './common.js';
import { LIST_LIMIT_MAX, OUTBOX_KINDS, OutboxError, type OutboxAdmin } from '../../adapters/outbox.js';

const LIST_LIMIT_DEFAULT = 20;
const OUTBOX_ID = { description: 'Outbox entry id (ob_ and 32 hex digits)', schema: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as Schema };
const MS_OR_NULL: Schema = { type: ['integer', 'null'], description: 'ms since the epoch' };

export const OUTBOX_ENTRY: Schema = {
  type: 'object',
  required: ['id', 'kind', 'configId', 'method', 'path', 'body', 'idempotencyKey', 'maxAttempts', 'attempts', 'state', 'createdAtMs',
    'nextAttemptAtMs', 'leasedUntilMs', 'lastAttemptAtMs', 'lastStatus', 'lastError', 'deadAtMs', 'deadReason', 'sentAtMs'],
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: OUTBOX_KINDS },
    configId: { type: 'string', description: 'the program whose partner (or, for a webhook, whose webhook URL) receives the call' },
    method: { type: 'string', enum: ['POST', 'PUT'] },
    path: { type: 'string', description: 'below the partner\'s base URL (notificationsUrl for notifications); a webhook keeps its notification\'s path, whose last segment is the event, and goes to the program\'s webhooks.url' },
    body: { description: 'the JSON body sent, as recorded' },
    idempotencyKey: { type: 'string', description: 'X-Idempotency-Key of every attempt' },
    maxAttempts: { type: ['integer', 'null'], description: 'null: retried until 2xx; notifications and webhooks: 5' },
    attempts: { type: 'integer', description: 'attempts started' },
    state: { type: 'string', enum: ['pending', 'dead', 'sent'] },
    createdAtMs: { type: 'integer', description: 'ms since the epoch' },
    nextAttemptAtMs: MS_OR_NULL,
    leasedUntilMs: { ...MS_OR_NULL, description: 'while a sender holds the entry: when its lease ends' },
    lastAttemptAtMs: MS_OR_NULL,
    lastStatus: { type: ['integer', 'null'], description: 'HTTP status of the last answer, null when none came' },
    lastError: { type: ['string', 'null'] },
    deadAtMs: MS_OR_NULL,
    deadReason: { type: ['string', 'null'], description: 'REJECTED (a non-retryable answer) or MAX_ATTEMPTS; null unless dead' },
    sentAtMs: MS_OR_NULL,
  },
};

const UNAVAILABLE = problem('This switch runs no outbox', 'OUTBOX_UNAVAILABLE');

function outbox(d: ApiDeps): OutboxAdmin {
  const o = d.outbox ?? null;
  if (o === null) throw new AppError('OUTBOX_UNAVAILABLE', 'this switch runs no partner-call outbox');
  return o;
}

export function outboxRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'GET', path: '/secure/outbox', operationId: 'listOutbox', tag: 'outbox',
      summary: 'Partner calls and webhook deliveries waiting for a 2xx (pending) or given up (dead), oldest first, a page at a time',
      description: 'Pending entries are ordered by creation, dead ones by when they were given up. `next` is the cursor of the following page, null on the last one. '
        + 'With `kind` a page holds only entries of that kind, so it may hold fewer than `limit` (even none) while `next` is not null: '
        + '`?state=dead&kind=webhook` lists the failed webhook deliveries.',
      query: {
        state: { description: 'pending (default) or dead', schema: { type: 'string', enum: ['pending', 'dead'] } },
        kind: { description: 'only entries of this kind', schema: { type: 'string', enum: [...OUTBOX_KINDS] } },
        limit: { description: `Page size, 1-${LIST_LIMIT_MAX}, default ${LIST_LIMIT_DEFAULT}`, schema: { type: 'integer', minimum: 1, maximum: LIST_LIMIT_MAX } },
        cursor: { description: 'The `next` of the previous page', schema: { type: 'string', minLength: 1, maxLength: 200 } },
      },
      responses: {
        200: {
          description: 'A page',
          schema: { type: 'object', required: ['items', 'next'], properties: { items: { type: 'array', items: OUTBOX_ENTRY }, next: { type: ['string', 'null'] } } },
        },
        400: VALIDATION,
        503: UNAVAILABLE,
      },
      async handle(req) {
        const q = req.queryValues;
        const o = outbox(d);
        try {
          const page = await o.list({
            state: q.state === 'dead' ? 'dead' : 'pending',
            limit: typeof q.limit === 'number' ? q.limit : LIST_LIMIT_DEFAULT,
            cursor: q.cursor === undefined ? null : String(q.cursor),
          });
          const items = q.kind === undefined ? page.items : page.items.filter((e) => e.kind === q.kind);
          return json(200, { items, next: page.next });
        } catch (err) {
          if (err instanceof OutboxError && err.code === 'OUTBOX_ERR_INVALID_OPTIONS') throw new AppError('VALIDATION_ERROR', err.message);
          throw err;
        }
      },
    },
    {
      method: 'GET', path: '/secure/outbox/{id}', operationId: 'getOutboxEntry', tag: 'outbox',
      summary: 'One outbox entry: pending, dead, or sent (kept for a day after its 2xx)',
      params: { id: OUTBOX_ID },
      responses: {
        200: { description: 'The entry', schema: OUTBOX_ENTRY },
        400: VALIDATION,
        404: problem('No such entry (or sent and no longer kept)', 'OUTBOX_ENTRY_NOT_FOUND'),
        503: UNAVAILABLE,
      },
      async handle(req) {
        const e = await outbox(d).get(req.params.id as string);
        if (e === null) throw new AppError('OUTBOX_ENTRY_NOT_FOUND', `no outbox entry ${req.params.id}`);
        return json(200, e);
      },
    },
    {
      method: 'POST', path: '/secure/outbox/{id}/retry', operationId: 'retryOutboxEntry', tag: 'outbox',
      summary: 'Puts a dead entry back: due now, attempts reset to 0, the same idempotency key',
      description: 'A webhook delivery is signed again when it is sent, with the secrets in force then and a fresh timestamp.',
      params: { id: OUTBOX_ID },
      responses: {
        200: { description: 'Pending again', schema: OUTBOX_ENTRY },
        400: VALIDATION,
        404: problem('No such entry', 'OUTBOX_ENTRY_NOT_FOUND'),
        409: problem('The entry is not in the dead letters', 'OUTBOX_ENTRY_NOT_DEAD'),
        503: UNAVAILABLE,
      },
      async handle(req) {
        const id = req.params.id as string;
        const r = await outbox(d).retry(id);
        if (r.result === 'NOT_FOUND') throw new AppError('OUTBOX_ENTRY_NOT_FOUND', `no outbox entry ${id}`);
        if (r.result === 'NOT_DEAD') throw new AppError('OUTBOX_ENTRY_NOT_DEAD', `outbox entry ${id} is ${r.entry.state}, not dead`);
        return json(200, r.entry);
      },
    },
  ];
}

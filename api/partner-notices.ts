// The partner notifications of the management API's own changes (seed "Your APIs for us —
// Notifications", "API External Card Notifier for Locks", "External Transactional Lock Reason
// Notifier"): a card locked or unlocked, a customer's transactional lock reason added or removed.
// Each goes to the programs with a `partner` block or `webhooks`, through the durable outbox
// (written before the API answers; delivered by the switch's sender, at most 5 attempts per
// destination). Nothing is sent for a program with neither, or when the change changed nothing.
import { createHash } from 'node:crypto';
import { uuidFromHash } from '../ledger/keys.js';
import type { ApiDeps } from './deps.js';
import type { CardRecord } from '../stores/cards.js';
import { endpointPath, type CardLockReason } from '../adapters/partner-types.js';
import { receivesNotifications } from '../stores/programs.js';

/** Seed lock codes → the notifier's reasons (6 and 11 are both PIN tries). */
const LOCK_REASON: Readonly<Record<number, CardLockReason>> = {
  1: 'CARD_LOST', 2: 'CARD_STOLEN', 3: 'PENDING_QUERY', 4: 'CARD_CONSOLIDATION', 5: 'CARD_INACTIVE',
  6: 'PIN_TRIES_EXCEEDED', 7: 'SUSPECTED_FRAUD', 8: 'CARD_REPLACED', 11: 'PIN_TRIES_EXCEEDED',
};

function keyOf(seed: string): string {
  return uuidFromHash(createHash('sha256').update(seed).digest());
}

async function notify(d: ApiDeps, configIds: Iterable<string>, kind: string, body: Record<string, unknown>, seed: string): Promise<void> {
  const outbox = d.outbox;
  if (outbox === null || outbox === undefined) return;
  for (const configId of new Set(configIds)) {
    const program = d.programs.byId(configId);
    if (program === undefined || !receivesNotifications(program)) continue;
    await outbox.enqueue({ kind: 'notification', configId, method: 'POST', path: endpointPath('notify', { kind }), body, idempotencyKey: keyOf(`${kind}|${configId}|${seed}`) });
  }
}

/** `cardLocked` after a lock with `code` that changed the card (before: `card`). */
export async function noticeCardLocked(d: ApiDeps, card: CardRecord, code: number, nowMs = Date.now()): Promise<void> {
  if (card.lock === code || card.lock === 1 || card.lock === 2 || card.lock === 5 || card.lock === 8) return;
  const reason = LOCK_REASON[code];
  if (reason === undefined) return;
  await notify(d, [card.configId], 'cardLocked', { dcCardId: card.id, date: new Date(nowMs).toISOString(), reason }, `${card.id}|${code}|${nowMs}`);
}

/** `cardUnlocked` after an unlock of a locked card (before: `card`). */
export async function noticeCardUnlocked(d: ApiDeps, card: CardRecord, nowMs = Date.now()): Promise<void> {
  if (card.lock === 0) return;
  await notify(d, [card.configId], 'cardUnlocked', { dcCardId: card.id, date: new Date(nowMs).toISOString() }, `${card.id}|unlock|${nowMs}`);
}

/** `transactionalLockReasonAdded` / `Removed` for a customer, to the programs of the customer's balances. */
export async function noticeTransactionalLock(d: ApiDeps, customerId: string, reason: string, added: boolean, nowMs = Date.now()): Promise<void> {
  const ids = await d.ledger.listUserBalances(customerId);
  const balances = await Promise.all(ids.map((id) => d.ledger.getUserBalance(id)));
  const kind = added ? 'transactionalLockReasonAdded' : 'transactionalLockReasonRemoved';
  await notify(d, balances.flatMap((b) => (b === null ? [] : [b.configId])), kind,
    { resourceType: 'user', resourceId: customerId, lockReason: reason, timestamp: new Date(nowMs).toISOString() }, `${customerId}|${reason}|${nowMs}`);
}

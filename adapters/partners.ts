// The outbound clients of one process: one PartnerClient (adapters/partner-client.ts) per program
// that calls out — a partner block (the partner modes always have one; an INTERNAL program may have
// one for its notifications), webhooks, or both — built from the program table, and the outbox's
// sender that delivers through them the calls a partner cannot refuse and the webhook deliveries.
// Each deciding thread (a worker, or the main thread in the inline placement) has its own set, so
// its pools and breakers are its own; the outbox sender runs on the main thread only.
import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { Program, ProgramTable, WebhookEvent } from '../stores/programs.js';
import { AppError } from '../errors/index.js';
import { uuidFromHash } from '../ledger/keys.js';
import { PartnerClient, type PartnerLog, type PartnerResult } from './partner-client.js';
import type { NotificationKind, PartnerTransaction } from './partner-types.js';
import type { EnqueueInput, OutboxEntry, SendFn, SendResult } from './outbox.js';
import { signatureHeader } from './webhook-signature.js';

/** configId → the program's outbound client. */
export class PartnerClients {
  private readonly byConfigId = new Map<string, PartnerClient>();

  /**
   * Clients for every program with a `partner` block or `webhooks` (so a program has a client
   * exactly when its notifications go somewhere); metrics on `registry`.
   */
  constructor(programs: ProgramTable, registry: Registry, log?: PartnerLog) {
    for (const p of programs.programs) {
      if (p.partner === null && p.webhooks === null) continue;
      try {
        this.byConfigId.set(p.configId, new PartnerClient({
          partner: p.partner, webhooks: p.webhooks, name: p.configId, registry, ...(log === undefined ? {} : { log }),
        }));
      } catch (err) {
        // A certificate, key or CA file that cannot be read is an operator error: one line at start-up.
        const e = err as { code?: string; path?: string; message?: string };
        const what = e.code === 'ENOENT' || e.code === 'EACCES' ? `cannot read ${e.path ?? 'a TLS file'} (${e.code})` : String(e.message ?? err).slice(0, 200);
        throw new AppError('SW_ERR_PROGRAM_CONFIG', `program ${p.configId}: partner: ${what}`);
      }
    }
  }

  /**
   * The client of a program, or undefined for a program that calls nobody (no partner block, no
   * webhooks). A program with webhooks only has one too: its partner calls answer UNREACHABLE.
   */
  get(configId: string): PartnerClient | undefined { return this.byConfigId.get(configId); }

  get size(): number { return this.byConfigId.size; }

  async close(): Promise<void> {
    await Promise.all([...this.byConfigId.values()].map((c) => c.close()));
  }
}

/** X-Idempotency-Key of the webhook delivery of a notification: a UUID derived from the notification's own key. */
export function webhookKey(notificationKey: string): string {
  return uuidFromHash(createHash('sha256').update(`webhook|${notificationKey}`).digest());
}

/** The event a notification path names: `/notifications/transaction` → `transaction`. */
function eventOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True when the program's webhooks take this event. */
function subscribed(p: Program | undefined, event: string): boolean {
  return p?.webhooks != null && (p.webhooks.events as readonly string[]).includes(event as WebhookEvent);
}

/**
 * The outbox's send function. A partner call is delivered by its program's client with the
 * entry's own X-Idempotency-Key: a 2xx is done; a refusal (only a PUT for a transaction the
 * partner does not know can be one) goes to the dead letters for operations; a timeout, an
 * unreachable partner, a 5xx, a malformed answer or an open breaker is retried with backoff.
 *
 * A notification is first written again as an entry of kind `webhook` when the program's webhooks
 * take its event (`enqueue`, idempotent by a key derived from the notification's), then delivered
 * to the partner when the program has a partner block: each destination is retried, dead-lettered
 * and retried by an operator on its own. A `webhook` entry is signed when it is sent (with the
 * secrets in force then) and POSTed to the program's webhook URL; every failure is retried.
 * Without `programs` and `enqueue` (tests of partner calls alone) nothing goes to webhooks.
 */
export function partnerSender(clients: PartnerClients, programs?: ProgramTable, enqueue?: (e: EnqueueInput) => Promise<unknown>, nowMs: () => number = Date.now): SendFn {
  return async (e: OutboxEntry): Promise<SendResult> => {
    const program = programs?.byId(e.configId);
    if (e.kind === 'webhook') return sendWebhook(clients, program, e, nowMs);
    if (e.kind === 'notification' && enqueue !== undefined && subscribed(program, eventOf(e.path))) {
      await enqueue({ kind: 'webhook', configId: e.configId, method: 'POST', path: e.path, body: e.body, idempotencyKey: webhookKey(e.idempotencyKey) });
    }
    if (e.kind === 'notification' && program !== undefined && program.partner === null) return { ok: true };
    const client = clients.get(e.configId);
    if (client === undefined) return { ok: false, retryable: false, error: `no partner client for program ${e.configId}` };
    const r = await deliver(client, e);
    if (r.ok) return { ok: true, status: r.status };
    if (r.kind === 'DECLINED') return { ok: false, retryable: false, status: r.status, error: r.title };
    return { ok: false, retryable: true, ...(r.status === undefined ? {} : { status: r.status }), error: r.kind };
  };
}

/** One webhook delivery, signed now with the program's secrets. A program whose webhooks were removed since rejects it (dead letters). */
async function sendWebhook(clients: PartnerClients, program: Program | undefined, e: OutboxEntry, nowMs: () => number): Promise<SendResult> {
  const client = clients.get(e.configId);
  if (program?.webhooks == null || client === undefined) return { ok: false, retryable: false, error: `program ${e.configId} has no webhooks now` };
  const rawBody = JSON.stringify(e.body);
  const signature = signatureHeader(program.webhooks.secrets, Math.floor(nowMs() / 1000), rawBody);
  const r = await client.deliverWebhook(eventOf(e.path), rawBody, e.idempotencyKey, signature);
  if (r.ok) return { ok: true, status: r.status };
  return { ok: false, retryable: true, ...(r.status === undefined ? {} : { status: r.status }), error: r.kind === 'DECLINED' ? r.title : r.kind === 'MALFORMED' ? r.detail : r.kind };
}
function deliver(client: PartnerClient, e: OutboxEntry): Promise<PartnerResult<null>> {
  const tx = e.body as PartnerTransaction;
  switch (e.kind) {
    case 'force-debit': return client.forceDebit(tx, e.idempotencyKey);
    case 'force-credit': return client.forceCredit(tx, e.idempotencyKey);
    case 'reversal': return client.reversal(tx, e.idempotencyKey);
    case 'clear': return client.clearTransaction(tx, e.idempotencyKey);
    case 'notification': {
      const kind = e.path.slice(e.path.lastIndexOf('/') + 1) as NotificationKind;
      return client.notify(kind, e.body as never, e.idempotencyKey);
    }
    case 'webhook': throw new Error('a webhook entry is sent by sendWebhook');
  }
}

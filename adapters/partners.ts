// The partner clients of one process: one PartnerClient (adapters/partner-client.ts) per program in
// a partner mode (EXTERNAL_BALANCE, SHARED_AUTHORIZATION), built from the program table, and the
// outbox's sender that delivers the calls a partner cannot refuse through them. Each deciding
// thread (a worker, or the main thread in the inline placement) has its own set, so its pools and
// breakers are its own; the outbox sender runs on the main thread only.
import type { Registry } from 'prom-client';
import type { ProgramTable } from '../stores/programs.js';
import { AppError } from '../errors/index.js';
import { PartnerClient, type PartnerLog, type PartnerResult } from './partner-client.js';
import type { NotificationKind, PartnerTransaction } from './partner-types.js';
import type { OutboxEntry, SendFn, SendResult } from './outbox.js';

/** configId → the program's partner client. */
export class PartnerClients {
  private readonly byConfigId = new Map<string, PartnerClient>();

  /**
   * Clients for every program with a `partner` block (the partner modes always have one; an
   * INTERNAL program may have one for its notifications); metrics on `registry`.
   */
  constructor(programs: ProgramTable, registry: Registry, log?: PartnerLog) {
    for (const p of programs.programs) {
      if (p.partner === null) continue;
      try {
        this.byConfigId.set(p.configId, new PartnerClient({ partner: p.partner, name: p.configId, registry, ...(log === undefined ? {} : { log }) }));
      } catch (err) {
        // A certificate, key or CA file that cannot be read is an operator error: one line at start-up.
        const e = err as { code?: string; path?: string; message?: string };
        const what = e.code === 'ENOENT' || e.code === 'EACCES' ? `cannot read ${e.path ?? 'a TLS file'} (${e.code})` : String(e.message ?? err).slice(0, 200);
        throw new AppError('SW_ERR_PROGRAM_CONFIG', `program ${p.configId}: partner: ${what}`);
      }
    }
  }

  /** The client of a program, or undefined for a program without a partner block. */
  get(configId: string): PartnerClient | undefined { return this.byConfigId.get(configId); }

  get size(): number { return this.byConfigId.size; }

  async close(): Promise<void> {
    await Promise.all([...this.byConfigId.values()].map((c) => c.close()));
  }
}

/**
 * The outbox's send function: an entry is delivered by its program's client with the entry's own
 * X-Idempotency-Key. A 2xx is done; a refusal (only a PUT for a transaction the partner does not
 * know can be one) goes to the dead letters for operations; a timeout, an unreachable partner, a
 * 5xx, a malformed answer or an open breaker is retried with backoff.
 */
export function partnerSender(clients: PartnerClients): SendFn {
  return async (e: OutboxEntry): Promise<SendResult> => {
    const client = clients.get(e.configId);
    if (client === undefined) return { ok: false, retryable: false, error: `no partner client for program ${e.configId}` };
    const r = await deliver(client, e);
    if (r.ok) return { ok: true, status: r.status };
    if (r.kind === 'DECLINED') return { ok: false, retryable: false, status: r.status, error: r.title };
    return { ok: false, retryable: true, ...(r.status === undefined ? {} : { status: r.status }), error: r.kind };
  };
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
  }
}

// The switch's public event: one decided message as the live feed, the Prometheus metrics and
// the partner metrics see it. Types only, so the management API reads it without importing the
// deciding code; switch/process/render.ts builds it (renderEvent).
import type { PartnerCallTiming } from './process/decision.js';
export type { FieldFault } from './process/decision.js';

/** One decided money message, for the live feed and the metrics (no PAN: masked first 6 / last 4). */
export interface ProcessedEvent {
  timeMs: number;
  mti: string;
  responseCode: string;
  reason: string;
  maskedPan: string | null;
  /** The transaction's amount in the balance's currency (the record's `amount`). */
  amountMinor: number;
  currency: string | null;
  txId: string | null;
  /** Seconds the hold / debit script took as seen by the worker (null: no such call). */
  scriptSeconds: number | null;
  /** The partner call of the decision path (partner modes), for the main thread's partner metrics; not in the feed. */
  partnerCall: PartnerCallTiming | null;
  /** The reason a SHADOW spend control would have declined the message with (it declined nothing), else null. */
  wouldDecline: string | null;
}

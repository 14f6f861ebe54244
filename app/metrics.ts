// Prometheus metrics of SPEC §7, in base units. One registry per process, read by GET /metrics.
import { Registry, Counter, Histogram, Gauge, collectDefaultMetrics } from 'prom-client';

export interface SwitchMetrics {
  registry: Registry;
  authLatency: Histogram<'mti' | 'code'>;
  messages: Counter<'mti' | 'code'>;
  decisions: Counter<'mti' | 'code' | 'reason'>;
  scriptLatency: Histogram<'script'>;
  inflight: Gauge;
  malformed: Counter<'kind'>;
  formatErrors: Counter<'field'>;
  shadowDeclines: Counter<'reason'>;
  connections: Gauge;
  batchFailures: Counter;
  poolQueue: Gauge;
  poolUtilization: Gauge;
  isoTlsRefused: Counter<'reason'>;
}

export function createMetrics(): SwitchMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    authLatency: new Histogram({
      name: 'switch_message_latency_seconds',
      help: 'Time from a frame read off the socket to its answer handed to the socket, by request MTI and response code',
      labelNames: ['mti', 'code'] as const,
      buckets: [0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    messages: new Counter({ name: 'switch_messages_total', help: 'Messages answered, by request MTI and response code', labelNames: ['mti', 'code'] as const, registers: [registry] }),
    decisions: new Counter({
      name: 'switch_decisions_total',
      help: 'Money messages decided (repeats answered from the duplicate cache excluded), by request MTI, response code and the one decline reason (APPROVED when approved)',
      labelNames: ['mti', 'code', 'reason'] as const, registers: [registry],
    }),
    scriptLatency: new Histogram({
      name: 'switch_redis_script_seconds',
      help: 'Time of the money-moving ledger script of a request (hold for 0100, debit for 0200) as seen by the deciding worker: queueing, round trip and Redis execution with its fsync',
      labelNames: ['script'] as const,
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers: [registry],
    }),
    inflight: new Gauge({ name: 'switch_inflight_requests', help: 'Requests read and not yet answered', registers: [registry] }),
    malformed: new Counter({ name: 'switch_malformed_frames_total', help: 'Frames that broke the framing or did not decode', labelNames: ['kind'] as const, registers: [registry] }),
    shadowDeclines: new Counter({ name: 'switch_shadow_declines_total', help: 'Messages a SHADOW spend control would have declined (approved or declined for another reason), by the reason it would have given', labelNames: ['reason'] as const, registers: [registry] }),
    formatErrors: new Counter({ name: 'switch_format_errors_total', help: 'Messages answered 30 (format error), by the ISO 8583 field at fault', labelNames: ['field'] as const, registers: [registry] }),
    connections: new Gauge({ name: 'switch_connections', help: 'Open ISO 8583 connections', registers: [registry] }),
    batchFailures: new Counter({ name: 'switch_batch_failures_total', help: 'Worker batches that failed as a whole (answered 96)', registers: [registry] }),
    poolQueue: new Gauge({ name: 'switch_worker_queue_depth', help: 'Batches waiting for a worker thread', registers: [registry] }),
    poolUtilization: new Gauge({ name: 'switch_worker_utilization_ratio', help: 'Share of time the worker pool spent running tasks', registers: [registry] }),
    isoTlsRefused: new Counter({
      name: 'switch_iso_tls_handshake_failures_total',
      help: 'ISO 8583 connections refused during the TLS handshake (ISO_TLS_*), by reason: no_certificate, untrusted_certificate, not_tls, timeout, peer_closed, other',
      labelNames: ['reason'] as const, registers: [registry],
    }),
  };
}

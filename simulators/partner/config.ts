// The partner simulator's knobs: what they are, their defaults and how a partial setting (from the
// command line or `PUT /_sim/config`) is checked and merged. A bad setting is refused with one
// sentence naming the knob; nothing is half-applied.
import type { PartnerTitle } from '../../adapters/partner-types.js';

export type SimMode = 'EXTERNAL_BALANCE' | 'SHARED_AUTHORIZATION';

/** Answers a partner should never give, to exercise the switch's handling of them. */
export type Misbehaviour = 'BAD_JSON' | 'REDIRECT' | 'OVERSIZED' | 'UNKNOWN_TITLE';
export const MISBEHAVIOURS: readonly Misbehaviour[] = ['BAD_JSON', 'REDIRECT', 'OVERSIZED', 'UNKNOWN_TITLE'];

/** Titles a refusal rule may answer with (the seed's titles of debit and credit). */
export type RefusalTitle = Extract<PartnerTitle, 'INSUFFICIENT_FUNDS' | 'LIMITS_EXCEEDED' | 'FRAUDS_DETECTED' | 'BALANCE_NOT_FOUND' | 'CLIENT_ERROR'>;
const REFUSAL_TITLES: readonly RefusalTitle[] = ['INSUFFICIENT_FUNDS', 'LIMITS_EXCEEDED', 'FRAUDS_DETECTED', 'BALANCE_NOT_FOUND', 'CLIENT_ERROR'];
/** The titles the seed lets `credit` answer with; a rule with another title never refuses a credit. */
export const CREDIT_TITLES: readonly RefusalTitle[] = ['FRAUDS_DETECTED', 'BALANCE_NOT_FOUND'];

/**
 * A rule refusing `debit` (or `credit`) calls. Every condition given must hold; the first rule that
 * matches answers. The status is the seed's for the title (422, or 404 BALANCE_NOT_FOUND, 409 CLIENT_ERROR).
 */
export interface RefuseRule {
  title: RefusalTitle;
  /** Which call the rule applies to. Default `debit`. */
  endpoint?: 'debit' | 'credit';
  balanceId?: string;
  /** Refuse only amounts at or above this, minor units. */
  minAmount?: number;
  mcc?: string;
  /** Probability of refusing a call that matches, 0..1 (drawn from the seeded generator). Default 1. */
  rate?: number;
}

export interface SimConfig {
  /** Which of the seed's partner APIs is served. SHARED_AUTHORIZATION keeps no balances and has no balance or PUT endpoints. */
  mode: SimMode;
  /** Added before every answer, ms. */
  latencyMs: number;
  /** Up to this many ms more, uniformly drawn. */
  jitterMs: number;
  /** Share of calls answered 500 without effect, 0..1. */
  errorRate: number;
  /** Share of calls accepted and never answered, 0..1. */
  hangRate: number;
  refuse: RefuseRule[];
  /** Every partner call gets this kind of broken answer instead; null for none. */
  misbehave: Misbehaviour | null;
  /** User ids that exist (link balance answers USER_NOT_FOUND for others); null: every id exists. */
  users: string[] | null;
  /** Seed of the generator behind jitter, error, hang and rule rates; setting it restarts the sequence. */
  seed: number;
  /**
   * Secrets that webhook deliveries to POST /webhooks must be signed with (Antaca-Signature, 5
   * minutes' tolerance): one, or two during a rotation. Empty (default): signatures are not checked.
   */
  webhookSecrets: string[];
}

export const SIM_DEFAULTS: Omit<SimConfig, 'seed'> = {
  mode: 'EXTERNAL_BALANCE', latencyMs: 0, jitterMs: 0, errorRate: 0, hangRate: 0, refuse: [], misbehave: null, users: null, webhookSecrets: [],
};

/** Largest latency or jitter a knob accepts, ms. */
export const SIM_LATENCY_MS_MAX = 600_000;

export class SimConfigError extends Error {
  readonly code = 'SIM_ERR_CONFIG';
}

/** `base` with the knobs of `patch` applied, each checked. Throws SimConfigError naming the first bad one. */
export function mergeConfig(base: SimConfig, patch: unknown): SimConfig {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new SimConfigError('the configuration must be a JSON object');
  const p = patch as Record<string, unknown>;
  const out: SimConfig = { ...base };
  for (const [k, v] of Object.entries(p)) {
    switch (k) {
      case 'mode':
        if (v !== 'EXTERNAL_BALANCE' && v !== 'SHARED_AUTHORIZATION') throw new SimConfigError('mode must be EXTERNAL_BALANCE or SHARED_AUTHORIZATION');
        out.mode = v; break;
      case 'latencyMs': case 'jitterMs':
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > SIM_LATENCY_MS_MAX) throw new SimConfigError(`${k} must be a number of ms from 0 to ${SIM_LATENCY_MS_MAX}`);
        out[k] = v; break;
      case 'errorRate': case 'hangRate':
        out[k] = rate(k, v); break;
      case 'seed':
        if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new SimConfigError('seed must be a non-negative integer');
        out.seed = v >>> 0; break;
      case 'misbehave':
        if (v !== null && !MISBEHAVIOURS.includes(v as Misbehaviour)) throw new SimConfigError(`misbehave must be null or one of ${MISBEHAVIOURS.join(', ')}`);
        out.misbehave = v as Misbehaviour | null; break;
      case 'users':
        if (v !== null && !(Array.isArray(v) && v.every((u) => typeof u === 'string'))) throw new SimConfigError('users must be null or an array of strings');
        out.users = v === null ? null : [...(v as string[])]; break;
      case 'refuse':
        if (!Array.isArray(v)) throw new SimConfigError('refuse must be an array of rules');
        out.refuse = v.map(refuseRule); break;
      case 'webhookSecrets':
        if (!Array.isArray(v) || v.length > 2 || !v.every((x) => typeof x === 'string' && x.length > 0)) throw new SimConfigError('webhookSecrets must be an array of at most two non-empty strings');
        out.webhookSecrets = [...(v as string[])]; break;
      default:
        throw new SimConfigError(`unknown setting ${JSON.stringify(k).slice(0, 40)}`);
    }
  }
  return out;
}

function rate(name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new SimConfigError(`${name} must be a number from 0 to 1`);
  return v;
}

function refuseRule(v: unknown, i: number): RefuseRule {
  if (typeof v !== 'object' || v === null) throw new SimConfigError(`refuse[${i}] must be an object`);
  const r = v as Record<string, unknown>;
  if (!REFUSAL_TITLES.includes(r.title as RefusalTitle)) throw new SimConfigError(`refuse[${i}].title must be one of ${REFUSAL_TITLES.join(', ')}`);
  const out: RefuseRule = { title: r.title as RefusalTitle };
  if (r.endpoint !== undefined) {
    if (r.endpoint !== 'debit' && r.endpoint !== 'credit') throw new SimConfigError(`refuse[${i}].endpoint must be debit or credit`);
    out.endpoint = r.endpoint;
  }
  if (r.balanceId !== undefined) {
    if (typeof r.balanceId !== 'string') throw new SimConfigError(`refuse[${i}].balanceId must be a string`);
    out.balanceId = r.balanceId;
  }
  if (r.mcc !== undefined) {
    if (typeof r.mcc !== 'string') throw new SimConfigError(`refuse[${i}].mcc must be a string`);
    out.mcc = r.mcc;
  }
  if (r.minAmount !== undefined) {
    if (typeof r.minAmount !== 'number' || !Number.isSafeInteger(r.minAmount) || r.minAmount < 0) throw new SimConfigError(`refuse[${i}].minAmount must be a non-negative integer`);
    out.minAmount = r.minAmount;
  }
  if (r.rate !== undefined) out.rate = rate(`refuse[${i}].rate`, r.rate);
  return out;
}

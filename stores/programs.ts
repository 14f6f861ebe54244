// Programs (card products), SPEC §4. Only configId, bin, currency and mode are required in
// PROGRAMS_FILE; every other field gets the default written next to it here.
import { readFileSync } from 'node:fs';
import { AppError } from '../errors/index.js';
import { DEFAULT_HOLD_EXPIRY_DAYS_BY_MCC } from '../ledger/expiry.js';
import { parseControls, type SpendControl } from './controls.js';
import { CARDHOLDER_VERIFICATIONS, type CardholderVerification } from '../cardauth/verify.js';

export type ProgramMode = 'INTERNAL' | 'EXTERNAL_BALANCE' | 'SHARED_AUTHORIZATION';
const MODES: readonly ProgramMode[] = ['INTERNAL', 'EXTERNAL_BALANCE', 'SHARED_AUTHORIZATION'];

export interface ChannelFee { fixed: number; bps: number }
export interface Program {
  configId: string;
  bin: string;
  panLength: number;                 // default 16
  currency: string;                  // ISO 4217 alpha-3
  mode: ProgramMode;
  depositRequired: boolean;          // default true for partner modes, false for INTERNAL
  creditRequired: boolean;           // default true, demo program false
  budgetMs: number;                  // default 2000
  cardValidityMonths: number;        // default 36
  standIn: { rule: 'DECLINE' | 'APPROVE_UP_TO'; limit?: number };
  partner: { baseUrl: string; timeoutMs: number; cert?: string; key?: string; ca?: string; notificationsUrl?: string } | null;
  fees: { POS: ChannelFee; ECOM: ChannelFee; ATM: ChannelFee; fxBps: number };
  limits: { perTransaction: number | null; dailyAmount: number | null; dailyCount: number | null; atmDailyAmount: number | null };
  fxRates: Record<string, string>;
  holdExpiryDays: number;            // default 7
  holdExpiryDaysByMcc: Record<string, number>; // an MCC or a range ("3501-3999") → days; default DEFAULT_HOLD_EXPIRY_DAYS_BY_MCC
  /**
   * Levels, in minor units of each partner balance's own currency, below which the program's
   * DEPOSIT or CREDIT partner balance sends one low-balance notification per crossing
   * (adapters/low-balance.ts); default null each: no notification. Needs a `partner` block.
   */
  lowBalanceMinor: { DEPOSIT: number | null; CREDIT: number | null };
  /**
   * Signed webhooks (docs/partners.md, "Webhooks"): the program's notifications, the same bodies a
   * partner's notifications URL receives, POSTed to `url` through the outbox with an
   * `Antaca-Signature` header. Default null: none. Any mode, with or without a `partner` block.
   */
  webhooks: ProgramWebhooks | null;
  /**
   * What card data a message must carry (cardauth/verify.ts; docs/cards.md "Card authentication"):
   * STRICT (default) or RELAXED (verifies what is present, requires nothing more; the demo program's default).
   */
  cardholderVerification: CardholderVerification;
  /**
   * Spend controls every card of the program carries besides its own (stores/controls.ts; the
   * card's come first); default none. Validated at start-up: a bad one stops the switch with a
   * one-line message naming it.
   */
  controls: readonly SpendControl[];
}

/** The notifications a webhook may subscribe to (the `events` of `webhooks`). */
export const WEBHOOK_EVENTS = ['transaction', 'cardLocked', 'cardUnlocked', 'transactionalLockReasonAdded', 'transactionalLockReasonRemoved', 'lowBalance'] as const;
export type WebhookEvent = typeof WEBHOOK_EVENTS[number];

/** Longest time of one webhook delivery, ms: below the outbox's 10 s attempt limit. */
export const WEBHOOK_TIMEOUT_MS_MAX = 9000;
/** Default time of one webhook delivery, ms. */
export const WEBHOOK_TIMEOUT_MS_DEFAULT = 5000;

export interface ProgramWebhooks {
  /** Where every delivery is POSTed, as it is (http:// or https://). */
  url: string;
  /**
   * The signing secrets, 1 or 2: each delivery carries one `v1=` signature per secret (two during
   * a rotation: the new one first). The secret's UTF-8 bytes are the HMAC-SHA256 key.
   */
  secrets: readonly string[];
  /** The events delivered; every one of WEBHOOK_EVENTS by default. */
  events: readonly WebhookEvent[];
  /** Time of one delivery, ms (default 5000, at most 9000). */
  timeoutMs: number;
  /** PEM path of the CA that signed an https:// receiver's certificate; absent: the system's CAs. */
  ca?: string;
}

/** True for a program whose notifications go somewhere: a partner's notifications URL, webhooks, or both. */
export function receivesNotifications(p: Program): boolean {
  return p.partner !== null || p.webhooks !== null;
}


export const DEMO_PROGRAM_INPUT = {
  configId: '0019167984', bin: '555770', panLength: 16, currency: 'EUR', mode: 'INTERNAL',
  depositRequired: false, creditRequired: false,
} as const;

export function normalizeProgram(raw: unknown, where: string): Program {
  if (typeof raw !== 'object' || raw === null) throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: a program must be a JSON object`);
  const p = raw as Record<string, unknown>;
  const str = (k: string): string => {
    const v = p[k];
    if (typeof v !== 'string' || v.length === 0) throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: "${k}" is required and must be a string`);
    return v;
  };
  const configId = str('configId');
  const bin = str('bin');
  if (!/^\d{6}(\d{2})?$/.test(bin)) throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: "bin" must be 6 or 8 digits`);
  const currency = str('currency');
  if (!/^[A-Z]{3}$/.test(currency)) throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: "currency" must be an ISO 4217 alpha-3 code`);
  const mode = str('mode') as ProgramMode;
  if (!MODES.includes(mode)) throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: "mode" must be one of ${MODES.join(', ')}`);
  const partner = (p.partner ?? null) as Program['partner'];
  if (mode !== 'INTERNAL' && partner === null) throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: "partner" is required for mode ${mode}`);
  const zeroFee = { fixed: 0, bps: 0 };
  const fees = (p.fees ?? {}) as Partial<Program['fees']>;
  const limits = (p.limits ?? {}) as Partial<Program['limits']>;
  return {
    configId, bin, currency, mode,
    panLength: num(p.panLength, 16),
    depositRequired: typeof p.depositRequired === 'boolean' ? p.depositRequired : mode !== 'INTERNAL',
    creditRequired: typeof p.creditRequired === 'boolean' ? p.creditRequired : true,
    budgetMs: num(p.budgetMs, 2000),
    cardValidityMonths: num(p.cardValidityMonths, 36),
    standIn: (p.standIn as Program['standIn'] | undefined) ?? { rule: 'DECLINE' },
    partner: partner === null ? null : { ...partner, timeoutMs: num(partner.timeoutMs, 1500) },
    fees: { POS: fees.POS ?? zeroFee, ECOM: fees.ECOM ?? zeroFee, ATM: fees.ATM ?? zeroFee, fxBps: fees.fxBps ?? 0 },
    limits: {
      perTransaction: limits.perTransaction ?? null, dailyAmount: limits.dailyAmount ?? null,
      dailyCount: limits.dailyCount ?? null, atmDailyAmount: limits.atmDailyAmount ?? null,
    },
    fxRates: (p.fxRates as Record<string, string> | undefined) ?? {},
    holdExpiryDays: num(p.holdExpiryDays, 7),
    holdExpiryDaysByMcc: (p.holdExpiryDaysByMcc as Record<string, number> | undefined) ?? { ...DEFAULT_HOLD_EXPIRY_DAYS_BY_MCC },
    lowBalanceMinor: lowBalanceOf(p.lowBalanceMinor, where),
    webhooks: webhooksOf(p.webhooks, where),
    cardholderVerification: verificationOf(p.cardholderVerification, configId, where),
    controls: controlsOf(p.controls, where),
  };
}

/**
 * `webhooks`: absent or null, or `{"url", "secret" | "secrets", "events", "timeoutMs", "ca"}`.
 * `secret` is one secret; `secrets` an array of one or two (a rotation: both signatures are sent).
 * Errors name the field, never a secret.
 */
function webhooksOf(v: unknown, where: string): ProgramWebhooks | null {
  if (v === undefined || v === null) return null;
  const at = `${where}: "webhooks"`;
  const bad = (what: string) => new AppError('SW_ERR_PROGRAM_CONFIG', `${at} ${what}`);
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('must be {"url", "secret" (or "secrets": [new, old]), "events"}');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !['url', 'secret', 'secrets', 'events', 'timeoutMs', 'ca'].includes(k));
  if (unknown !== undefined) throw bad(`has an unknown field "${unknown.slice(0, 40)}"`);
  let url: URL;
  try { url = new URL(String(o.url)); } catch { throw bad('"url" must be an http:// or https:// URL'); }
  if (typeof o.url !== 'string' || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw bad('"url" must be an http:// or https:// URL');
  if ((o.secret === undefined) === (o.secrets === undefined)) throw bad('needs "secret", or "secrets" with one or two secrets during a rotation (not both)');
  const secrets = o.secret !== undefined ? [o.secret] : o.secrets;
  if (!Array.isArray(secrets) || secrets.length < 1 || secrets.length > 2) throw bad('"secrets" must hold one or two secrets (the new one first during a rotation)');
  for (const s of secrets) {
    if (typeof s !== 'string' || s.length === 0 || s.length > 512) throw bad('each secret must be a non-empty string of at most 512 characters');
  }
  if (secrets.length === 2 && secrets[0] === secrets[1]) throw bad('the two secrets of a rotation must differ');
  let events: readonly WebhookEvent[] = WEBHOOK_EVENTS;
  if (o.events !== undefined) {
    if (!Array.isArray(o.events) || o.events.length === 0) throw bad(`"events" must be a non-empty array of ${WEBHOOK_EVENTS.join(', ')}`);
    const wrong = o.events.find((e) => !(WEBHOOK_EVENTS as readonly unknown[]).includes(e));
    if (wrong !== undefined) throw bad(`"events": ${JSON.stringify(wrong).slice(0, 60)} is not one of ${WEBHOOK_EVENTS.join(', ')}`);
    events = [...new Set(o.events as WebhookEvent[])];
  }
  let timeoutMs = WEBHOOK_TIMEOUT_MS_DEFAULT;
  if (o.timeoutMs !== undefined) {
    if (typeof o.timeoutMs !== 'number' || !Number.isInteger(o.timeoutMs) || o.timeoutMs < 1 || o.timeoutMs > WEBHOOK_TIMEOUT_MS_MAX) throw bad(`"timeoutMs" must be an integer from 1 to ${WEBHOOK_TIMEOUT_MS_MAX}`);
    timeoutMs = o.timeoutMs;
  }
  if (o.ca !== undefined && (typeof o.ca !== 'string' || o.ca === '')) throw bad('"ca" must be the path of a PEM file');
  return { url: o.url, secrets: secrets as string[], events, timeoutMs, ...(o.ca === undefined ? {} : { ca: o.ca as string }) };
}

/** `cardholderVerification`: STRICT or RELAXED; absent: STRICT, except RELAXED for the demo program. */
function verificationOf(v: unknown, configId: string, where: string): CardholderVerification {
  if (v === undefined || v === null) return configId === DEMO_PROGRAM_INPUT.configId ? 'RELAXED' : 'STRICT';
  if (typeof v !== 'string' || !(CARDHOLDER_VERIFICATIONS as readonly string[]).includes(v)) {
    throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: "cardholderVerification" must be one of ${CARDHOLDER_VERIFICATIONS.join(', ')}`);
  }
  return v as CardholderVerification;
}

/** `controls`: absent, or an array of spend controls (stores/controls.ts parseControls). */
function controlsOf(v: unknown, where: string): readonly SpendControl[] {
  if (v === undefined || v === null) return [];
  const parsed = parseControls(v, 'controls');
  if (!parsed.ok) throw new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: ${parsed.problem}`);
  return Object.freeze(parsed.controls);
}

/** `lowBalanceMinor`: absent, or an object with DEPOSIT and/or CREDIT as non-negative integers (or null). */
function lowBalanceOf(v: unknown, where: string): Program['lowBalanceMinor'] {
  if (v === undefined || v === null) return { DEPOSIT: null, CREDIT: null };
  const bad = () => new AppError('SW_ERR_PROGRAM_CONFIG', `${where}: "lowBalanceMinor" must be {"DEPOSIT": <minor units>, "CREDIT": <minor units>} (either may be left out or null)`);
  if (typeof v !== 'object' || Array.isArray(v)) throw bad();
  const o = v as Record<string, unknown>;
  if (Object.keys(o).some((k) => k !== 'DEPOSIT' && k !== 'CREDIT')) throw bad();
  const level = (x: unknown): number | null => {
    if (x === undefined || x === null) return null;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw bad();
    return x;
  };
  return { DEPOSIT: level(o.DEPOSIT), CREDIT: level(o.CREDIT) };
}

function num(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}

/** Programs by longest-BIN match. Nested BINs (555770 and 55577013) are allowed. */
export class ProgramTable {
  private readonly byBin = new Map<string, Program>();
  private readonly byConfigId = new Map<string, Program>();

  constructor(readonly programs: readonly Program[]) {
    for (const p of programs) {
      if (this.byConfigId.has(p.configId)) throw new AppError('SW_ERR_PROGRAM_CONFIG', `programs: configId ${p.configId} appears twice`);
      if (this.byBin.has(p.bin)) throw new AppError('SW_ERR_PROGRAM_CONFIG', `programs: BIN ${p.bin} appears twice`);
      this.byConfigId.set(p.configId, p);
      this.byBin.set(p.bin, p);
    }
  }

  byId(configId: string): Program | undefined { return this.byConfigId.get(configId); }

  forPan(pan: string): Program | undefined {
    if (pan.length >= 8) {
      const p8 = this.byBin.get(pan.slice(0, 8));
      if (p8) return p8;
    }
    return this.byBin.get(pan.slice(0, 6));
  }
}

/** Reads PROGRAMS_FILE (a JSON array) when given; the demo program is always present. */
export function loadPrograms(file: string | undefined): ProgramTable {
  const list: Program[] = [];
  if (file) {
    let raw: unknown;
    try { raw = JSON.parse(readFileSync(file, 'utf8')); }
    catch (e) { throw new AppError('SW_ERR_PROGRAM_CONFIG', `PROGRAMS_FILE ${file}: ${(e as Error).message}`); }
    if (!Array.isArray(raw)) throw new AppError('SW_ERR_PROGRAM_CONFIG', `PROGRAMS_FILE ${file}: must be a JSON array of programs`);
    raw.forEach((p, i) => list.push(normalizeProgram(p, `PROGRAMS_FILE ${file} [${i}]`)));
  }
  if (!list.some((p) => p.configId === DEMO_PROGRAM_INPUT.configId)) list.push(normalizeProgram(DEMO_PROGRAM_INPUT, 'demo program'));
  return new ProgramTable(list);
}

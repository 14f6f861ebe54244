// Spend controls: the one definition of a control's shape, and its validation. A card carries its
// own controls on its record (stores/cards.ts setControls, `PUT .../cards/{id}/controls`), a
// program its defaults (`controls` in PROGRAMS_FILE, stores/programs.ts). The deciding code
// evaluates both for every debit request: the list controls (merchant category, country, merchant
// id) and TRANSACTION-window velocity limits are pure checks of the message; velocity limits over
// a window (DAY, WEEK, MONTH, LIFETIME) are counters the ledger checks and counts inside the
// atomic hold (ledger VelocityCounter), so they are exact under concurrency.
//
// A control as JSON (and as stored, field for field):
//   {"id": "no-gambling", "mode": "ENFORCED", "type": "MCC_BLOCK", "values": ["7995", "7800-7802"]}
//   {"id": "eu-only", "type": "COUNTRY_ALLOW", "values": ["POL", "DEU"]}            mode defaults to ENFORCED
//   {"id": "shop-x", "type": "MERCHANT_BLOCK", "values": ["MERCHANT0000001"]}      field 42 ids
//   {"id": "atm-week", "mode": "SHADOW", "type": "VELOCITY", "window": "WEEK", "amount": 50000, "count": 5, "scope": "CASH"}
// docs/cards.md ("Spend controls") describes storage and rules; docs/configuration.md the program defaults.
import countries from 'i18n-iso-countries';
import { counterPeriod } from '../ledger/counters.js';
import type { VelocityCounter } from '../ledger/types.js';

/** ENFORCED controls decline; SHADOW ones are evaluated and recorded (wouldDecline) but decline nothing. */
export type ControlMode = 'ENFORCED' | 'SHADOW';
export const CONTROL_MODES: readonly ControlMode[] = ['ENFORCED', 'SHADOW'];

export type ListControlType = 'MCC_ALLOW' | 'MCC_BLOCK' | 'COUNTRY_ALLOW' | 'COUNTRY_BLOCK' | 'MERCHANT_BLOCK';
export type ControlType = ListControlType | 'VELOCITY';
export const CONTROL_TYPES: readonly ControlType[] = ['MCC_ALLOW', 'MCC_BLOCK', 'COUNTRY_ALLOW', 'COUNTRY_BLOCK', 'MERCHANT_BLOCK', 'VELOCITY'];

/** TRANSACTION: each transaction's own amount; the others: what the card spent in the current UTC day, ISO week, month, or ever. */
export type VelocityWindow = 'TRANSACTION' | 'DAY' | 'WEEK' | 'MONTH' | 'LIFETIME';
export const VELOCITY_WINDOWS: readonly VelocityWindow[] = ['TRANSACTION', 'DAY', 'WEEK', 'MONTH', 'LIFETIME'];

/** What a velocity control counts: purchases (processing codes 00, 09), cash (01), or both. */
export type ControlScope = 'PURCHASE' | 'CASH' | 'ALL';
export const CONTROL_SCOPES: readonly ControlScope[] = ['PURCHASE', 'CASH', 'ALL'];

/** Where a control comes from: the card's own list, or its program's defaults. */
export type ControlSource = 'CARD' | 'PROGRAM';

interface ControlBase {
  /** 1-64 characters of A-Z a-z 0-9 . _ - ; unique within one list (a card's, or a program's). */
  readonly id: string;
  readonly mode: ControlMode;
}

/**
 * A list control. MCC_ALLOW / MCC_BLOCK: merchant category codes (ISO 18245, field 18), each a
 * code ("5411") or an inclusive range ("5811-5814"). COUNTRY_ALLOW / COUNTRY_BLOCK: ISO 3166-1
 * alpha-3 merchant countries. MERCHANT_BLOCK: card acceptor ids (field 42). An ALLOW list declines
 * what it does not name; a BLOCK list declines what it names.
 */
export interface ListControl extends ControlBase {
  readonly type: ListControlType;
  readonly values: readonly string[];
}

/**
 * A velocity limit: at most `amount` minor units of the balance currency and/or at most `count`
 * transactions within the window (TRANSACTION: `amount` per transaction; no count). null: that
 * limit is not set (at least one is).
 */
export interface VelocityControl extends ControlBase {
  readonly type: 'VELOCITY';
  readonly window: VelocityWindow;
  readonly amount: number | null;
  readonly count: number | null;
  readonly scope: ControlScope;
}

/** A spend control (docs/cards.md, "Spend controls"). */
export type SpendControl = ListControl | VelocityControl;

/** A control with where it comes from, as the controls API lists them. */
export type SourcedControl = SpendControl & { readonly source: ControlSource };

/** At most this many controls per card and per program. */
export const CONTROLS_MAX = 50;
/** At most this many values in one list control. */
export const CONTROL_VALUES_MAX = 1_000;
/** The largest amount limit: the n12 maximum of an amount (ledger MAX_AMOUNT_MINOR). */
const CONTROL_AMOUNT_MAX = 999_999_999_999;
const CONTROL_COUNT_MAX = 1_000_000_000;

const ID = /^[A-Za-z0-9._-]{1,64}$/;
const MCC = /^(\d{4})(?:-(\d{4}))?$/;
/** Field 42 (card acceptor identification code) is ans..15. */
const MERCHANT_ID = /^[\x20-\x7e]{1,15}$/;
const LIST_TYPES: readonly string[] = ['MCC_ALLOW', 'MCC_BLOCK', 'COUNTRY_ALLOW', 'COUNTRY_BLOCK', 'MERCHANT_BLOCK'];
/** ISO 3166-1 alpha-3 codes (upper case), from the table the deciding code maps field 19 with. */
const COUNTRY_ALPHA3: ReadonlySet<string> = new Set(Object.keys(countries.getAlpha3Codes()));

/**
 * The inclusive range of an MCC control value: "5411" → [5411, 5411], "5811-5814" → [5811, 5814];
 * null when the value is neither (never for a validated control).
 */
export function mccRange(value: string): readonly [number, number] | null {
  const m = MCC.exec(value);
  if (m === null) return null;
  const lo = Number(m[1]);
  const hi = m[2] === undefined ? lo : Number(m[2]);
  return lo <= hi ? [lo, hi] : null;
}

/** The outcome of parseControls: the normalized list, or the first problem found, naming where it is. */
export type ParsedControls = { readonly ok: true; readonly controls: SpendControl[] } | { readonly ok: false; readonly problem: string };

/**
 * Validates and normalizes a list of controls as JSON (the body of `PUT .../controls` without its
 * wrapper, or a program's `controls`): modes default to ENFORCED and velocity scopes to ALL; ids
 * are unique; unknown fields are refused. `at` names the list in problems (`controls`). A
 * `source` field is accepted when it is `acceptSource` (a list read back from the GET and sent
 * again) and dropped; any other source is a problem. Never throws.
 */
export function parseControls(raw: unknown, at: string, acceptSource: ControlSource | null = null): ParsedControls {
  if (!Array.isArray(raw)) return bad(`${at} must be an array of controls`);
  if (raw.length > CONTROLS_MAX) return bad(`${at} holds ${raw.length} controls; at most ${CONTROLS_MAX}`);
  const out: SpendControl[] = [];
  const ids = new Set<string>();
  for (let i = 0; i < raw.length; i++) {
    const r = parseControl(raw[i], `${at}[${i}]`, acceptSource);
    if (typeof r === 'string') return bad(r);
    if (ids.has(r.id)) return bad(`${at}[${i}]: id "${r.id}" appears twice; control ids are unique`);
    ids.add(r.id);
    out.push(r);
  }
  return { ok: true, controls: out };
}

function bad(problem: string): ParsedControls {
  return { ok: false, problem };
}

/** One control, or a problem naming its path. */
function parseControl(raw: unknown, at: string, acceptSource: ControlSource | null): SpendControl | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return `${at} must be an object`;
  const o = raw as Record<string, unknown>;
  if (typeof o.id !== 'string' || !ID.test(o.id)) return `${at}.id must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-'`;
  const mode = o.mode ?? 'ENFORCED';
  if (!CONTROL_MODES.includes(mode as ControlMode)) return `${at}.mode must be ENFORCED or SHADOW`;
  if (o.source !== undefined && o.source !== acceptSource) {
    return acceptSource === null ? `${at}.source is not accepted here` : `${at}.source ${JSON.stringify(o.source)}: only the card's own controls (source ${acceptSource}) are set here`;
  }
  const type = o.type;
  if (typeof type !== 'string' || !CONTROL_TYPES.includes(type as ControlType)) return `${at}.type must be one of ${CONTROL_TYPES.join(', ')}`;
  const common = ['id', 'mode', 'type', 'source'];
  if (type === 'VELOCITY') {
    const extra = Object.keys(o).find((k) => !common.includes(k) && !['window', 'amount', 'count', 'scope'].includes(k));
    if (extra !== undefined) return `${at}.${extra} is not a field of a VELOCITY control (window, amount, count, scope)`;
    return parseVelocity(o, at, o.id, mode as ControlMode);
  }
  const extra = Object.keys(o).find((k) => !common.includes(k) && k !== 'values');
  if (extra !== undefined) return `${at}.${extra} is not a field of a ${type} control (values)`;
  const values = parseValues(o.values, `${at}.values`, type as ListControlType);
  if (typeof values === 'string') return values;
  return { id: o.id, mode: mode as ControlMode, type: type as ListControlType, values };
}

function parseVelocity(o: Record<string, unknown>, at: string, id: string, mode: ControlMode): VelocityControl | string {
  const window = o.window;
  if (!VELOCITY_WINDOWS.includes(window as VelocityWindow)) return `${at}.window must be one of ${VELOCITY_WINDOWS.join(', ')}`;
  const scope = o.scope ?? 'ALL';
  if (!CONTROL_SCOPES.includes(scope as ControlScope)) return `${at}.scope must be PURCHASE, CASH or ALL`;
  const amount = limitOf(o.amount, CONTROL_AMOUNT_MAX);
  if (amount === undefined) return `${at}.amount must be an integer number of minor units, 0..${CONTROL_AMOUNT_MAX}`;
  const count = limitOf(o.count, CONTROL_COUNT_MAX);
  if (count === undefined) return `${at}.count must be an integer, 0..${CONTROL_COUNT_MAX}`;
  if (amount === null && count === null) return `${at}: a VELOCITY control sets amount, count or both`;
  if (window === 'TRANSACTION' && count !== null) return `${at}.count: a TRANSACTION window limits each transaction's amount; a count has no meaning there`;
  return { id, mode, type: 'VELOCITY', window: window as VelocityWindow, amount, count, scope: scope as ControlScope };
}

/** A limit: absent or null → null; a non-negative safe integer up to max; else undefined (invalid). */
function limitOf(v: unknown, max: number): number | null | undefined {
  if (v === undefined || v === null) return null;
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max ? v : undefined;
}

function parseValues(v: unknown, at: string, type: ListControlType): string[] | string {
  if (!Array.isArray(v) || v.length === 0) return `${at} must be a non-empty array`;
  if (v.length > CONTROL_VALUES_MAX) return `${at} holds ${v.length} values; at most ${CONTROL_VALUES_MAX}`;
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'string') return `${at}[${i}] must be a string`;
    const problem = valueProblem(type, x);
    if (problem !== null) return `${at}[${i}]: ${JSON.stringify(x)} ${problem}`;
    out.push(x);
  }
  return out;
}

function valueProblem(type: ListControlType, x: string): string | null {
  if (type === 'MCC_ALLOW' || type === 'MCC_BLOCK') {
    return mccRange(x) === null ? 'is not a merchant category code ("5411") or an ascending range ("5811-5814")' : null;
  }
  if (type === 'COUNTRY_ALLOW' || type === 'COUNTRY_BLOCK') {
    return COUNTRY_ALPHA3.has(x) ? null : 'is not an ISO 3166-1 alpha-3 country code ("POL")';
  }
  return MERCHANT_ID.test(x) ? null : 'is not a merchant id (field 42: 1-15 printable characters)';
}

/**
 * A control as JSON: unset velocity limits are left out, and with `source` when given. The
 * stored form and the API's are this same object.
 */
export function controlView(c: SpendControl, source?: ControlSource): Record<string, unknown> {
  const view: Record<string, unknown> = { id: c.id, mode: c.mode, type: c.type };
  if (c.type === 'VELOCITY') {
    view.window = c.window;
    if (c.amount !== null) view.amount = c.amount;
    if (c.count !== null) view.count = c.count;
    view.scope = c.scope;
  } else {
    view.values = c.values;
  }
  if (source !== undefined) view.source = source;
  return view;
}

/** True for a list control's type (MCC, country, merchant). */
export function isListControl(c: SpendControl): c is ListControl {
  return LIST_TYPES.includes(c.type);
}

/**
 * The id under which the ledger counts a velocity control's usage (ledger VelocityCounter
 * controlId): the source and the id (`card:atm-week`, `program:atm-week`), so a card control and a
 * program control of the same id count apart.
 */
export function velocityCounterId(source: ControlSource, controlId: string): string {
  return `${source.toLowerCase()}:${controlId}`;
}

/**
 * The ledger counter of a VELOCITY control over a window (DAY, WEEK, MONTH, LIFETIME) for a
 * message at nowMs: its usage id (velocityCounterId), the period nowMs falls in, its limits, and
 * whether it declines (ENFORCED) or only reports (SHADOW). null for a list control or the
 * TRANSACTION window, which are pure checks of the message, not counters.
 */
export function velocityCounterOf(c: SpendControl, source: ControlSource, nowMs: number): VelocityCounter | null {
  if (c.type !== 'VELOCITY' || c.window === 'TRANSACTION') return null;
  return {
    controlId: velocityCounterId(source, c.id), window: c.window, period: counterPeriod(c.window, nowMs), scope: c.scope,
    amountMinor: c.amount, count: c.count, enforced: c.mode === 'ENFORCED',
  };
}

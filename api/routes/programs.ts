// Programs in force (SPEC §4): every setting with its effective value (defaults filled in), the
// partner balances each program has per currency, and notes that spell out what follows for
// authorizations, such as "no DEPOSIT balance yet: debits are held against the user balance only".
// No key material: the partner's TLS files are shown as configured or not, never their paths or
// contents, and credentials in a partner URL are masked.
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json } from '../problem.js';
import type { Schema } from '../schema.js';
import type { PartnerBalance, PartnerType } from '../../ledger/index.js';
import { Keyspace } from '../../ledger/keys.js';
import { WEBHOOK_EVENTS, WEBHOOK_TIMEOUT_MS_DEFAULT, type Program } from '../../stores/programs.js';
import { controlView } from '../../stores/controls.js';
import { CONTROL } from './cards.js';
import { CURRENCY, problem, requireProgram } from './common.js';

const PARTNER_TYPES: readonly PartnerType[] = ['DEPOSIT', 'CREDIT', 'COMPANY'];

const FEE: Schema = { type: 'object', properties: { fixed: { type: 'integer', description: 'minor units, default 0' }, bps: { type: 'integer', description: 'basis points, default 0' } } };
const PRESENT: Schema = {
  type: ['object', 'null'], description: 'null: no such partner balance yet',
  properties: { id: { type: 'string' }, available: { type: 'integer', description: 'minor units' }, blocked: { type: 'integer', description: 'minor units' } },
};

/** A program as GET /secure/programs answers it; each description states the default. */
export const PROGRAM: Schema = {
  type: 'object',
  required: ['configId', 'bin', 'panLength', 'currency', 'mode', 'depositRequired', 'creditRequired', 'budgetMs', 'cardValidityMonths',
    'standIn', 'partner', 'fees', 'limits', 'fxRates', 'holdExpiryDays', 'holdExpiryDaysByMcc', 'lowBalanceMinor', 'webhooks', 'cardholderVerification', 'cardKeys', 'partnerBalances', 'notes'],
  properties: {
    configId: { type: 'string', description: 'required' },
    bin: { type: 'string', description: 'required; 6 or 8 digits' },
    panLength: { type: 'integer', description: 'default 16' },
    currency: { ...CURRENCY, description: 'required; the currency of the program\'s balances' },
    mode: { type: 'string', enum: ['INTERNAL', 'EXTERNAL_BALANCE', 'SHARED_AUTHORIZATION'], description: 'required' },
    depositRequired: { type: 'boolean', description: 'default true for the partner modes, false for INTERNAL: a debit without a DEPOSIT balance in its currency declines DEPOSIT_BALANCE_NOT_FOUND' },
    creditRequired: { type: 'boolean', description: 'default true (false for the demo program): TOPUP, PAYMENT, LOAN and CASHBACK without a CREDIT balance answer 404 COLLATERAL_BALANCE_NOT_FOUND' },
    budgetMs: { type: 'integer', description: 'default 2000: the latency budget of an authorization' },
    cardValidityMonths: { type: 'integer', description: 'default 36' },
    standIn: { type: 'object', description: 'default {"rule": "DECLINE", "limit": null}', properties: { rule: { type: 'string', enum: ['DECLINE', 'APPROVE_UP_TO'] }, limit: { type: ['integer', 'null'] } } },
    partner: {
      type: ['object', 'null'], description: 'default null; required for the partner modes. TLS files are shown as configured or not, never their paths or contents',
      properties: {
        baseUrl: { type: 'string', description: 'credentials in the URL, if any, are masked' }, notificationsUrl: { type: ['string', 'null'], description: 'default null: notifications go to baseUrl' },
        timeoutMs: { type: 'integer', description: 'default 1500' },
        certConfigured: { type: 'boolean' }, keyConfigured: { type: 'boolean' }, caConfigured: { type: 'boolean' },
      },
    },
    fees: { type: 'object', description: 'default all 0', properties: { POS: FEE, ECOM: FEE, ATM: FEE, fxBps: { type: 'integer', description: 'default 0' } } },
    limits: {
      type: 'object', description: 'minor units; default null each (no limit)',
      properties: { perTransaction: { type: ['integer', 'null'] }, dailyAmount: { type: ['integer', 'null'] }, dailyCount: { type: ['integer', 'null'] }, atmDailyAmount: { type: ['integer', 'null'] } },
    },
    fxRates: { type: 'object', description: 'default {}: foreign currency → program currency units bought by one unit (decimal string)', additionalProperties: { type: 'string' } },
    holdExpiryDays: { type: 'integer', description: 'default 7' },
    holdExpiryDaysByMcc: {
      type: 'object', additionalProperties: { type: 'integer' },
      description: 'MCC or inclusive MCC range ("3501-3999") → days; runs of consecutive MCCs with the same days are shown as one range. '
        + 'Default {"3501-3999": 30, "7011": 30, "7512": 30}; a program\'s own table replaces the default one',
    },
    lowBalanceMinor: {
      type: 'object', description: 'default {"DEPOSIT": null, "CREDIT": null}: minor units below which the partner balance of that type sends one lowBalance notification per crossing (null: none)',
      properties: { DEPOSIT: { type: ['integer', 'null'] }, CREDIT: { type: ['integer', 'null'] } },
    },
    webhooks: {
      type: ['object', 'null'], description: 'default null: no webhooks. Never the secrets: only how many are configured (2 during a rotation)',
      properties: {
        url: { type: 'string', description: 'credentials in the URL, if any, are masked' },
        events: { type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENTS] }, description: 'default: every event' },
        secretsConfigured: { type: 'integer', minimum: 1, maximum: 2 },
        timeoutMs: { type: 'integer', description: `default ${WEBHOOK_TIMEOUT_MS_DEFAULT}` },
        caConfigured: { type: 'boolean' },
      },
    },
    cardholderVerification: { type: 'string', enum: ['STRICT', 'RELAXED'], description: 'default STRICT (RELAXED for the demo program): what card data a message must carry (docs/cards.md)' },
    cardKeys: {
      type: ['object', 'null'], description: 'the check values (KCV, 6 hex) of the program\'s card keys in force, never a key; null: the program has no keys (its card data is refused)',
      properties: { cvk: { type: 'string' }, pvk: { type: 'string' }, pvki: { type: 'string' }, imkAc: { type: 'string' }, zpk: { type: 'object', additionalProperties: { type: 'string' } } },
    },
    controls: { type: 'array', items: CONTROL, description: 'default []: spend controls every card of the program carries besides its own (GET .../cards/{cardId}/controls)' },
    partnerBalances: {
      type: 'object', description: 'per currency (the program\'s own and every currency the program has a partner balance in): each type, or null when it does not exist',
      additionalProperties: { type: 'object', properties: { DEPOSIT: PRESENT, CREDIT: PRESENT, COMPANY: PRESENT } },
    },
    notes: { type: 'array', items: { type: 'string' }, description: 'what the settings and the partner balances mean for debits and internal transactions right now' },
  },
};

export function programRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'GET', path: '/secure/programs', operationId: 'listPrograms', tag: 'programs',
      summary: 'The programs in force, every setting with its effective value, and their partner balances',
      description: 'The demo program 0019167984 is always among them. Each program lists its partner balances per currency (null: '
        + 'not created) and notes on what they mean now, e.g. that a DEPOSIT balance, once created, is held against first, so an '
        + 'empty one declines every debit. No key material: partner TLS files appear as certConfigured/keyConfigured/caConfigured.',
      responses: { 200: { description: 'The programs', schema: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: PROGRAM } } } } },
      async handle() {
        const index = await partnerIndex(d);
        return json(200, { items: await Promise.all(d.programs.programs.map((p) => programView(d, p, index))) });
      },
    },
    {
      method: 'GET', path: '/secure/programs/{configId}', operationId: 'getProgram', tag: 'programs',
      summary: 'One program in force, every setting with its effective value, and its partner balances',
      params: { configId: { description: 'The program\'s configId', schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' } } },
      responses: {
        200: { description: 'The program', schema: PROGRAM },
        400: problem('The configId is malformed', 'VALIDATION_ERROR'),
        404: problem('No such program', 'PROGRAM_NOT_FOUND'),
      },
      async handle(req) {
        const p = requireProgram(d, req.params.configId as string);
        return json(200, await programView(d, p, await partnerIndex(d)));
      },
    },
  ];
}

/** Ids of every partner balance (the ledger's index of them), parsed: one SMEMBERS. */
async function partnerIndex(d: ApiDeps): Promise<Array<{ id: string; type: PartnerType; currency: string; configId: string }>> {
  const ids = await d.ledger.partnerBalanceIds();
  const out: Array<{ id: string; type: PartnerType; currency: string; configId: string }> = [];
  for (const id of ids) { const p = Keyspace.parsePartnerId(id); if (p !== null) out.push({ id, ...p }); }
  return out;
}

type Present = { id: string; available: number; blocked: number } | null;

async function programView(d: ApiDeps, p: Program, index: Awaited<ReturnType<typeof partnerIndex>>): Promise<Record<string, unknown>> {
  const currencies = [...new Set([p.currency, ...index.filter((x) => x.configId === p.configId).map((x) => x.currency)])];
  const partnerBalances: Record<string, Record<PartnerType, Present>> = {};
  await Promise.all(currencies.map(async (cur) => {
    const found = await Promise.all(PARTNER_TYPES.map((t) => d.ledger.findPartnerBalance(p.configId, t, cur)));
    partnerBalances[cur] = { DEPOSIT: present(found[0] ?? null), CREDIT: present(found[1] ?? null), COMPANY: present(found[2] ?? null) };
  }));
  const notes = currencies.flatMap((cur) => notesFor(p, cur, partnerBalances[cur] as Record<PartnerType, Present>));
  return {
    configId: p.configId, bin: p.bin, panLength: p.panLength, currency: p.currency, mode: p.mode,
    depositRequired: p.depositRequired, creditRequired: p.creditRequired, budgetMs: p.budgetMs, cardValidityMonths: p.cardValidityMonths,
    standIn: { rule: p.standIn.rule, limit: p.standIn.limit ?? null },
    partner: p.partner === null ? null : {
      baseUrl: maskUrl(p.partner.baseUrl), notificationsUrl: p.partner.notificationsUrl === undefined ? null : maskUrl(p.partner.notificationsUrl),
      timeoutMs: p.partner.timeoutMs, certConfigured: Boolean(p.partner.cert), keyConfigured: Boolean(p.partner.key), caConfigured: Boolean(p.partner.ca),
    },
    fees: p.fees, limits: p.limits, fxRates: p.fxRates, holdExpiryDays: p.holdExpiryDays, holdExpiryDaysByMcc: compactMccTable(p.holdExpiryDaysByMcc),
    lowBalanceMinor: p.lowBalanceMinor,
    webhooks: p.webhooks === null ? null : {
      url: maskUrl(p.webhooks.url), events: p.webhooks.events, secretsConfigured: p.webhooks.secrets.length, timeoutMs: p.webhooks.timeoutMs,
      caConfigured: p.webhooks.ca !== undefined,
    },
    cardholderVerification: p.cardholderVerification, cardKeys: cardKeysOf(d, p.configId),
    controls: p.controls.map((c) => controlView(c)), partnerBalances, notes,
  };
}

/** The check values of a program's card keys, or null without keys. */
function cardKeysOf(d: ApiDeps, configId: string): Record<string, unknown> | null {
  const k = d.keys.checkValues().find((x) => x.configId === configId);
  return k === undefined ? null : { cvk: k.cvk, pvk: k.pvk, pvki: k.pvki, imkAc: k.imkAc, zpk: k.zpk };
}

/**
 * An MCC table with each run of consecutive MCCs that have the same days written as one inclusive
 * range (`"3501-3999": 30` instead of 499 rows), ranges given as ranges kept, in MCC order.
 */
export function compactMccTable(table: Readonly<Record<string, number>>): Record<string, number> {
  const singles = Object.entries(table).filter(([k]) => /^\d{4}$/.test(k)).map(([k, v]) => [Number(k), v] as const).sort((a, b) => a[0] - b[0]);
  const out: Array<[string, number]> = Object.entries(table).filter(([k]) => !/^\d{4}$/.test(k));
  const mcc = (n: number) => String(n).padStart(4, '0');
  for (let i = 0; i < singles.length;) {
    const [first, days] = singles[i] as readonly [number, number];
    let j = i;
    while (j + 1 < singles.length && (singles[j + 1] as readonly [number, number])[0] === (singles[j] as readonly [number, number])[0] + 1 && (singles[j + 1] as readonly [number, number])[1] === days) j++;
    const last = (singles[j] as readonly [number, number])[0];
    out.push([last - first >= 2 ? `${mcc(first)}-${mcc(last)}` : mcc(first), days]);
    if (last - first === 1) out.push([mcc(last), days]);
    i = j + 1;
  }
  return Object.fromEntries(out.sort((a, b) => a[0].localeCompare(b[0])));
}

function present(b: PartnerBalance | null): Present {
  return b === null ? null : { id: b.id, available: b.availableMinor, blocked: b.blockedMinor };
}

/** What the partner balances of one currency mean for the program's money (request.ts and balances.ts decide it so). */
function notesFor(p: Program, cur: string, b: Record<PartnerType, Present>): string[] {
  const notes: string[] = [];
  const dep = b.DEPOSIT;
  if (dep !== null) {
    notes.push(`${cur}: debits are held against DEPOSIT balance ${dep.id} first, then the user balance; `
      + `a debit above its available ${dep.available} declines${dep.available === 0 ? ' (it is empty: every debit declines until it is reloaded)' : ''}.`);
  } else if (p.depositRequired) {
    notes.push(`${cur}: no DEPOSIT balance and depositRequired is true: every debit declines DEPOSIT_BALANCE_NOT_FOUND until one is created and reloaded.`);
  } else {
    notes.push(`${cur}: no DEPOSIT balance and depositRequired is false: debits are held against the user balance only. `
      + 'Once a DEPOSIT balance is created in this currency every debit is held against it first, and while it is empty every debit declines.');
  }
  const credit = b.CREDIT;
  if (credit !== null) {
    notes.push(`${cur}: TOPUP, PAYMENT, LOAN and CASHBACK are taken from CREDIT balance ${credit.id} and refused above its available ${credit.available}.`);
  } else if (p.creditRequired) {
    notes.push(`${cur}: no CREDIT balance and creditRequired is true: TOPUP, PAYMENT, LOAN and CASHBACK answer 404 COLLATERAL_BALANCE_NOT_FOUND until one is created.`);
  } else {
    notes.push(`${cur}: no CREDIT balance and creditRequired is false: TOPUP, PAYMENT, LOAN and CASHBACK take the money from outside. `
      + 'Once a CREDIT balance is created in this currency they are taken from it and refused above its funds.');
  }
  const charges = p.fees.POS.fixed + p.fees.POS.bps + p.fees.ECOM.fixed + p.fees.ECOM.bps + p.fees.ATM.fixed + p.fees.ATM.bps + p.fees.fxBps > 0;
  if (charges && b.COMPANY === null) notes.push(`${cur}: fees are configured and there is no COMPANY balance to collect them yet; create one with type COMPANY.`);
  return notes;
}

/** A URL with any user name and password replaced by `***`; text that is not a URL is shown as `(invalid URL)`. */
function maskUrl(raw: string): string {
  let u: URL;
  try { u = new URL(raw); } catch { return '(invalid URL)'; }
  if (u.username !== '' || u.password !== '') { u.username = '***'; u.password = ''; }
  return u.toString();
}

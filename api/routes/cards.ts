// Cards (seed "Card issuing → Actions"): issue virtual, order physical, full data (JWE only),
// lock, unlock, activate, set PIN (an encrypted request), reset CVV, and the switch's key for
// encrypted requests. Every change here takes effect on the very next authorization. CVV2s and
// PVVs come from the key store (cardauth/keys.ts): the API never holds a card key.
import { noticeCardLocked, noticeCardUnlocked } from '../partner-notices.js';
import type { Route } from '../router.js';
import type { ApiDeps } from '../deps.js';
import { json, noContent } from '../problem.js';
import { AppError } from '../../errors/index.js';
import type { Schema } from '../schema.js';
import { decryptRequest, encryptJson, encryptionKeyOf, requireEncryptionKey, REQUEST_JWE_ALGS } from '../jwe.js';
import { CVV2_GENERATION_MAX, LOCK_CODES, type CardKind, type CardLimits, type CardRecord } from '../../stores/cards.js';
import { cvv2ServiceCode, SERVICE_CODE_STRIPE } from '../../cardauth/verify.js';
import {
  CONTROL_MODES, CONTROL_SCOPES, CONTROL_TYPES, CONTROLS_MAX, VELOCITY_WINDOWS, controlView, parseControls,
} from '../../stores/controls.js';
import {
  CARD_ID, CARD_SUMMARY, CUSTOMER_ID, VALIDATION, cardView, problem, requireBalance, requireCard, requireCustomer, requireProgram,
} from './common.js';

const ENCRYPTED: Schema = { type: 'object', required: ['payload'], properties: { payload: { type: 'string', description: 'compact JWE, alg RSA-OAEP-256, enc A256GCM, of the full card data' } } };
const ENCRYPTED_REQUEST_HEADER = {
  'Encrypted-Request': { description: '`true`: the body is {"payload": JWE} encrypted to GET /secure/encryption-key (alg RSA-OAEP-256 or RSA-OAEP, enc A256GCM)', schema: { type: 'string', enum: ['true', 'false'] } as Schema },
};
const PIN_BODY: Schema = {
  type: 'object', description: '{"payload": compact JWE} whose plaintext is {"pin": "4 to 12 digits"}',
  // Not typed here: a payload of the wrong shape is the handler's INVALID_PAYLOAD (the seed's title), not a schema error.
  properties: { payload: { description: 'compact JWE (a string) of {"pin": "1234"}' } },
};
const JWE_HEADERS = {
  'Encrypt-Response': { description: '`true` to receive the full card data as JWE', schema: { type: 'string', enum: ['true', 'false'] } as Schema },
  'Public-Key': { description: 'base64 of the caller\'s PEM SPKI RSA public key (2048-8192 bits)', schema: { type: 'string' } as Schema },
};
const ADDRESS: Schema = {
  type: 'object', additionalProperties: false, required: ['line1', 'city', 'postalCode', 'country'],
  properties: {
    name: { type: 'string', maxLength: 100 }, line1: { type: 'string', minLength: 1, maxLength: 100 }, line2: { type: 'string', maxLength: 100 },
    city: { type: 'string', minLength: 1, maxLength: 64 }, postalCode: { type: 'string', minLength: 1, maxLength: 16 },
    country: { type: 'string', pattern: '^[A-Z]{2,3}$', description: 'ISO 3166-1 alpha-2 or alpha-3' },
  },
};
const CARD_PATH = { customerId: CUSTOMER_ID, cardId: CARD_ID };
const LIMIT: Schema = { type: 'integer', minimum: 0 };
const LIMITS: Schema = {
  type: 'object', additionalProperties: false,
  properties: { perTransaction: LIMIT, dailyAmount: LIMIT, dailyCount: LIMIT, atmDailyAmount: LIMIT },
};
const LIMITS_VIEW: Schema = {
  type: 'object', required: ['card', 'program', 'effective'],
  properties: { card: LIMITS, program: LIMITS, effective: LIMITS },
};

/** Limits as JSON: a limit that is not set is left out. */
function limitsView(d: ApiDeps, card: CardLimits, configId: string): { card: Record<string, number>; program: Record<string, number>; effective: Record<string, number> } {
  const program = d.programs.byId(configId)?.limits ?? { perTransaction: null, dailyAmount: null, dailyCount: null, atmDailyAmount: null };
  const set = (l: CardLimits): Record<string, number> => Object.fromEntries(Object.entries(l).filter(([, v]) => v !== null)) as Record<string, number>;
  const lower = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
  return {
    card: set(card), program: set(program),
    effective: set({
      perTransaction: lower(card.perTransaction, program.perTransaction), dailyAmount: lower(card.dailyAmount, program.dailyAmount),
      dailyCount: lower(card.dailyCount, program.dailyCount), atmDailyAmount: lower(card.atmDailyAmount, program.atmDailyAmount),
    }),
  };
}
const NOT_FOUND = problem('No such customer or card', 'CUSTOMER_NOT_FOUND', 'CARD_NOT_FOUND');

/** A spend control (stores/controls.ts): list fields for the list types, velocity fields for VELOCITY. */
export const CONTROL: Schema = {
  type: 'object', additionalProperties: false, required: ['id', 'type'],
  description: 'A spend control. MCC_ALLOW / MCC_BLOCK: `values` are merchant category codes ("5411") or inclusive ranges ("5811-5814"); '
    + 'COUNTRY_ALLOW / COUNTRY_BLOCK: ISO 3166-1 alpha-3 merchant countries; MERCHANT_BLOCK: card acceptor ids (field 42); '
    + 'VELOCITY: at most `amount` minor units and/or `count` transactions per `window`, counting `scope` (default ALL). '
    + 'A SHADOW control declines nothing: the transactions it would have declined carry `wouldDecline`.',
  properties: {
    id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'unique within the card\'s (or the program\'s) list' },
    mode: { type: 'string', enum: CONTROL_MODES, description: 'default ENFORCED' },
    type: { type: 'string', enum: CONTROL_TYPES },
    values: { type: 'array', items: { type: 'string' }, description: 'list types only' },
    window: { type: 'string', enum: VELOCITY_WINDOWS, description: 'VELOCITY only: TRANSACTION (each transaction\'s amount), or the UTC day, ISO week, month, or the card\'s life' },
    amount: { type: 'integer', minimum: 0, description: 'VELOCITY only: minor units of the balance currency' },
    count: { type: 'integer', minimum: 0, description: 'VELOCITY only: approved transactions in the window (not with TRANSACTION)' },
    scope: { type: 'string', enum: CONTROL_SCOPES, description: 'VELOCITY only: PURCHASE (processing codes 00, 09), CASH (01) or ALL (default)' },
    source: { type: 'string', enum: ['CARD', 'PROGRAM'], description: 'in answers: the card\'s own control or its program\'s; a PUT may carry CARD (ignored)' },
  },
};
const CONTROLS_VIEW: Schema = {
  type: 'object', required: ['controls'],
  properties: { controls: { type: 'array', items: CONTROL, description: 'the card\'s own controls (source CARD), then its program\'s (source PROGRAM)' } },
};

/** The card's controls, then its program's, each with its source: the answer of GET and PUT .../controls. */
function controlsView(d: ApiDeps, card: CardRecord): { controls: Record<string, unknown>[] } {
  const program = d.programs.byId(card.configId)?.controls ?? [];
  return { controls: [...card.controls.map((c) => controlView(c, 'CARD')), ...program.map((c) => controlView(c, 'PROGRAM'))] };
}

export function cardRoutes(d: ApiDeps): Route[] {
  return [
    {
      method: 'GET', path: '/secure/encryption-key', operationId: 'getEncryptionKey', tag: 'cards',
      summary: 'The switch\'s RSA public key that encrypted requests (set PIN) are made to',
      description: `Encrypt the request body as a compact JWE with alg ${REQUEST_JWE_ALGS.join(' or ')} and enc A256GCM, `
        + 'and send it as {"payload": "<JWE>"} with Encrypted-Request: true. kid is the key\'s RFC 7638 SHA-256 thumbprint: it changes when the key does.',
      responses: {
        200: { description: 'The key', schema: { type: 'object', required: ['kid', 'publicKey'], properties: { kid: { type: 'string' }, publicKey: { type: 'string', description: 'PEM SPKI RSA public key' } } } },
      },
      async handle() {
        return json(200, { kid: d.encryptionKey.kid, publicKey: d.encryptionKey.publicKeyPem });
      },
    },
    issueRoute(d, 'VIRTUAL'),
    issueRoute(d, 'PHYSICAL'),
    {
      method: 'GET', path: '/secure/customers/{customerId}/cards/{cardId}', operationId: 'getCardFullData', tag: 'cards',
      summary: 'Full card data (PAN, CVV2, expiry), only as JWE',
      params: CARD_PATH, headers: JWE_HEADERS,
      responses: {
        200: { description: 'The JWE of the full card data (FullCard)', schema: ENCRYPTED },
        400: problem('No encryption asked for, or a bad key', 'ENCRYPTION_REQUIRED', 'INVALID_PUBLIC_KEY', 'VALIDATION_ERROR'),
        404: NOT_FOUND,
      },
      async handle(req) {
        const key = requireEncryptionKey(req.headers);
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        return json(200, await encryptJson(await fullData(d, card, await requirePan(d, card)), key));
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/cards/{cardId}/lock', operationId: 'lockCard', tag: 'cards',
      summary: 'Locks a card with a seed lock code (1 lost, 2 stolen, 3 pending query, 4 consolidation, 5 inactive, 6 PIN tries, 7 suspected fraud, 8 replaced, 11 offline PIN tries)',
      description: 'Codes 1, 2, 5 and 8 are irreversible. A card locked with one of them keeps that code.',
      params: CARD_PATH,
      body: { type: 'object', additionalProperties: false, required: ['reason'], properties: { reason: { type: 'integer', enum: LOCK_CODES } } },
      responses: { 204: { description: 'Locked' }, 400: VALIDATION, 404: NOT_FOUND, 409: problem('Locked irreversibly already', 'CARD_LOCK_IRREVERSIBLE') },
      async handle(req) {
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        const code = (req.json as { reason: number }).reason;
        await d.cards.lock(card.id, code);
        await noticeCardLocked(d, card, code);
        return noContent();
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/cards/{cardId}/unlock', operationId: 'unlockCard', tag: 'cards',
      summary: 'Removes a reversible lock (unlocking an unlocked card changes nothing)',
      params: CARD_PATH,
      responses: { 204: { description: 'Unlocked' }, 400: VALIDATION, 404: NOT_FOUND, 409: problem('Locked with 1, 2, 5 or 8', 'CARD_LOCK_IRREVERSIBLE') },
      async handle(req) {
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        await d.cards.unlock(card.id);
        await noticeCardUnlocked(d, card);
        return noContent();
      },
    },
    {
      method: 'GET', path: '/secure/customers/{customerId}/cards/{cardId}/limits', operationId: 'getCardLimits', tag: 'cards',
      summary: 'The card\'s own limits, its program\'s, and the effective ones (the lower of the two; absent = none)',
      params: CARD_PATH,
      responses: { 200: { description: 'Limits in minor units of the balance currency', schema: LIMITS_VIEW }, 400: VALIDATION, 404: NOT_FOUND },
      async handle(req) {
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        return json(200, limitsView(d, card.limits, card.configId));
      },
    },
    {
      method: 'PUT', path: '/secure/customers/{customerId}/cards/{cardId}/limits', operationId: 'setCardLimits', tag: 'cards',
      summary: 'Replaces the card\'s own limits (a field left out: no card-level limit); the next authorization applies them',
      description: 'perTransaction and dailyAmount/atmDailyAmount decline 61 (EXCEEDS_AMOUNT_LIMIT), dailyCount 65 (LIMIT_EXCEED); '
        + 'daily limits count approvals per card and UTC day. The program\'s limits apply too; the lower one wins.',
      params: CARD_PATH,
      body: LIMITS,
      responses: { 200: { description: 'The limits now in force', schema: LIMITS_VIEW }, 400: VALIDATION, 404: NOT_FOUND },
      async handle(req) {
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        const b = req.json as Partial<Record<keyof CardLimits, number>>;
        const limits: CardLimits = {
          perTransaction: b.perTransaction ?? null, dailyAmount: b.dailyAmount ?? null, dailyCount: b.dailyCount ?? null, atmDailyAmount: b.atmDailyAmount ?? null,
        };
        await d.cards.setLimits(card.id, limits);
        return json(200, limitsView(d, limits, card.configId));
      },
    },
    {
      method: 'GET', path: '/secure/customers/{customerId}/cards/{cardId}/controls', operationId: 'getCardControls', tag: 'cards',
      summary: 'The card\'s spend controls: its own (source CARD), then its program\'s (source PROGRAM)',
      params: CARD_PATH,
      responses: { 200: { description: 'The controls in force for the card', schema: CONTROLS_VIEW }, 400: VALIDATION, 404: NOT_FOUND },
      async handle(req) {
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        return json(200, controlsView(d, card));
      },
    },
    {
      method: 'PUT', path: '/secure/customers/{customerId}/cards/{cardId}/controls', operationId: 'setCardControls', tag: 'cards',
      summary: 'Replaces the card\'s own spend controls (an empty list removes them); the next authorization applies them',
      description: `At most ${CONTROLS_MAX} controls, ids unique. Promoting a SHADOW control is one PUT with its mode ENFORCED. `
        + 'A blocked merchant category, country or merchant declines 57 (TRANSACTION_NOT_PERMITTED); a velocity amount limit 61 '
        + '(EXCEEDS_AMOUNT_LIMIT), a count limit 65 (LIMIT_EXCEED). The program\'s controls apply besides the card\'s and are set in PROGRAMS_FILE.',
      params: CARD_PATH,
      body: {
        type: 'object', additionalProperties: false, required: ['controls'],
        properties: { controls: { type: 'array', items: CONTROL, description: 'the card\'s own controls, replacing those it had' } },
      },
      responses: { 200: { description: 'The controls now in force (as the GET answers)', schema: CONTROLS_VIEW }, 400: VALIDATION, 404: NOT_FOUND },
      async handle(req) {
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        const parsed = parseControls((req.json as { controls: unknown }).controls, 'controls', 'CARD');
        if (!parsed.ok) throw new AppError('VALIDATION_ERROR', parsed.problem);
        await d.cards.setControls(card.id, parsed.controls);
        return json(200, controlsView(d, { ...card, controls: parsed.controls }));
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/cards/{cardId}/pin', operationId: 'setCardPin', tag: 'cards',
      summary: 'Sets the card\'s PIN (seed "Set PIN"): an encrypted request; the switch keeps only the PIN\'s PVV',
      description: 'The PIN\'s Visa PVV replaces the card\'s and its PIN-failure count starts again. A lock 6 (PIN tries exceeded) stays '
        + 'until unlocked: setting a PIN does not unlock a card. Errors stay in clear.',
      params: CARD_PATH, headers: ENCRYPTED_REQUEST_HEADER, body: PIN_BODY,
      responses: {
        204: { description: 'The PIN is set' },
        400: problem('Not encrypted, not a JWE or not a PIN, or not decryptable with the switch\'s key', 'ENCRYPTION_REQUIRED', 'INVALID_PAYLOAD', 'CANT_DECRYPT_PAYLOAD', 'VALIDATION_ERROR', 'MALFORMED_JSON'),
        404: NOT_FOUND,
        500: problem('The card\'s program has no card keys', 'PROGRAM_KEYS_MISSING'),
      },
      async handle(req) {
        const plain = await decryptRequest(d.encryptionKey, req.headers, req.json);
        const pin = typeof plain === 'object' && plain !== null ? (plain as { pin?: unknown }).pin : undefined;
        if (typeof pin !== 'string' || !/^\d{4,12}$/.test(pin)) throw new AppError('INVALID_PAYLOAD', 'the decrypted payload must be {"pin": "4 to 12 digits"}');
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        const pan = await requirePan(d, card);
        const { pvki, pvv } = await d.keys.generatePvv(card.configId, pan, pin);
        await d.cards.setPvv(card.id, pvki, pvv);
        return noContent();
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/cards/{cardId}/cvv', operationId: 'resetCardCvv', tag: 'cards',
      summary: 'Resets a virtual card\'s CVV2 (seed "Reset CVV"); answers the card data with the new one, only as JWE',
      description: 'The old CVV2 declines from the next authorization on; PAN and expiry stay, so credentials on file keep working. '
        + `A card can be reset ${CVV2_GENERATION_MAX} times. Physical cards: 409 CARD_NOT_VIRTUAL (their CVV2 is printed). `
        + 'The Encrypt-Response and Public-Key headers are checked before anything changes.',
      params: CARD_PATH, headers: JWE_HEADERS,
      responses: {
        200: { description: 'The JWE of the full card data (FullCard) with the new CVV2', schema: ENCRYPTED },
        400: problem('No encryption asked for, or a bad key', 'ENCRYPTION_REQUIRED', 'INVALID_PUBLIC_KEY', 'VALIDATION_ERROR'),
        404: NOT_FOUND,
        409: problem('A physical card, or no reset left', 'CARD_NOT_VIRTUAL', 'CVV_RESETS_EXHAUSTED'),
        500: problem('The card\'s program has no card keys', 'PROGRAM_KEYS_MISSING'),
      },
      async handle(req) {
        const key = requireEncryptionKey(req.headers);
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        if (card.kind !== 'VIRTUAL') throw new AppError('CARD_NOT_VIRTUAL', `card ${card.id} is physical: its CVV2 is printed on it`);
        const pan = await requirePan(d, card);
        const fresh = await resetCvv2(d, card, pan);
        return json(200, await encryptJson(await fullData(d, fresh, pan), key));
      },
    },
    {
      method: 'POST', path: '/secure/customers/{customerId}/cards/{cardId}/activate', operationId: 'activateCard', tag: 'cards',
      summary: 'Activates a physical card (INACTIVE until then)',
      params: CARD_PATH,
      responses: { 204: { description: 'Activated' }, 400: VALIDATION, 404: NOT_FOUND, 409: problem('Virtual, or active already', 'CARD_NOT_PHYSICAL', 'CARD_ALREADY_ACTIVE') },
      async handle(req) {
        const card = await requireCard(d, req.params.customerId as string, req.params.cardId as string);
        await d.cards.activate(card.id);
        return noContent();
      },
    },
  ];
}

function issueRoute(d: ApiDeps, kind: CardKind): Route {
  const physical = kind === 'PHYSICAL';
  const properties: Record<string, Schema> = { balanceId: { type: 'string', minLength: 1, maxLength: 100 }, configId: { type: 'string', minLength: 1, maxLength: 64 } };
  if (physical) properties.deliveryAddress = ADDRESS;
  return {
    method: 'POST', path: `/secure/customers/{customerId}/cards/${physical ? 'physical' : 'virtual'}`,
    operationId: physical ? 'orderPhysicalCard' : 'createVirtualCard', tag: 'cards',
    summary: physical ? 'Orders a physical card: INACTIVE until activated' : 'Issues a virtual card: Luhn-valid PAN in the program\'s BIN, expiry, CVV2',
    description: 'configId defaults to the balance\'s program and must be it. With Encrypt-Response: true and Public-Key the answer is '
      + 'the JWE of the full card data (FullCard); without, the card without PAN and CVV.',
    params: { customerId: CUSTOMER_ID }, headers: JWE_HEADERS,
    body: { type: 'object', additionalProperties: false, required: physical ? ['balanceId', 'deliveryAddress'] : ['balanceId'], properties },
    responses: {
      201: { description: 'Issued: CardSummary, or the JWE of FullCard when asked for', schema: { oneOf: [CARD_SUMMARY, ENCRYPTED] } },
      400: problem('Malformed request or public key', 'VALIDATION_ERROR', 'MALFORMED_JSON', 'INVALID_PUBLIC_KEY'),
      404: problem('No such customer, balance or program', 'CUSTOMER_NOT_FOUND', 'BALANCE_NOT_FOUND', 'PROGRAM_NOT_FOUND'),
      409: problem('KYC not passed, or another program than the balance\'s', 'KYC_REQUIRED', 'PROGRAM_MISMATCH', 'CUSTOMER_TOO_MANY_CARDS'),
    },
    async handle(req) {
      // The key is checked first: a bad one must not leave a card behind that nobody can read.
      const key = encryptionKeyOf(req.headers);
      const customerId = req.params.customerId as string;
      const body = req.json as { balanceId: string; configId?: string; deliveryAddress?: Record<string, string> };
      await requireCustomer(d, customerId);
      const balance = await requireBalance(d, customerId, body.balanceId);
      if (body.configId !== undefined && body.configId !== balance.configId) {
        throw new AppError('PROGRAM_MISMATCH', `balance ${balance.id} belongs to program ${balance.configId}, not ${body.configId}`);
      }
      const program = requireProgram(d, balance.configId);
      const issued = await d.cards.issue({ customerId, balanceId: balance.id, currency: balance.currency, kind, program });
      if (physical && body.deliveryAddress !== undefined) {
        await d.cards.setDeliveryAddress(issued.card.id, body.deliveryAddress);
      }
      if (key === null) return json(201, cardView(issued.card));
      return json(201, await encryptJson(await fullData(d, issued.card, issued.pan), key));
    },
  };
}

async function requirePan(d: ApiDeps, card: CardRecord): Promise<string> {
  const pan = await d.cards.revealPan(card.id);
  if (pan === null) throw new AppError('CARD_NOT_FOUND', `card ${card.id} has no stored PAN`);
  return pan;
}

/**
 * The full card data: its CVV2 from the key store (CW), never stored. With SANDBOX=1 a physical
 * card also shows its track-2 image, for a test harness that plays the card at a terminal.
 */
async function fullData(d: ApiDeps, card: CardRecord, pan: string): Promise<Record<string, string>> {
  const cvv = await d.keys.generateCvv(card.configId, pan, card.expiry, cvv2ServiceCode(card.cvv2Generation));
  const out: Record<string, string> = { ...cardView(card), cardNo: pan, cvv };
  if (d.trackImages === true && card.kind === 'PHYSICAL') {
    const sc = card.serviceCode ?? SERVICE_CODE_STRIPE;
    const stripeCvv = await d.keys.generateCvv(card.configId, pan, card.expiry, sc);
    out.track2 = `${pan}=${card.expiry}${sc}${card.pvki ?? '0'}${card.pvv ?? '0000'}${stripeCvv}`;
  }
  return out;
}

/**
 * Reset CVV: the next CVV2 generation whose CVV2 differs from the current one (a generation whose
 * CVV2 happens to be the same, one in a thousand, is skipped, so the old CVV2 really stops
 * working), set only if no other reset moved it meanwhile (then chosen again, at most 3 times).
 */
async function resetCvv2(d: ApiDeps, card: CardRecord, pan: string): Promise<CardRecord> {
  let current = card;
  for (let attempt = 0; attempt < 3; attempt++) {
    const old = await d.keys.generateCvv(current.configId, pan, current.expiry, cvv2ServiceCode(current.cvv2Generation));
    let next = current.cvv2Generation + 1;
    while (next <= CVV2_GENERATION_MAX && await d.keys.generateCvv(current.configId, pan, current.expiry, cvv2ServiceCode(next)) === old) next++;
    if (await d.cards.setCvv2Generation(current.id, current.cvv2Generation, next)) return { ...current, cvv2Generation: next };
    const again = await d.cards.get(current.id);
    if (again === null) throw new AppError('CARD_NOT_FOUND', `card ${current.id} does not exist`);
    current = again;
  }
  throw new AppError('INTERNAL_ERROR', `card ${card.id}: concurrent CVV resets did not settle`);
}

// Decisions from a table: every message class's planner and the conclusions of its outcomes,
// without Redis, a partner or a socket (switch/process/plan/). A row gives a message and the facts
// read for it, and the plan or decision a user of the switch would see come of it.
import t from 'tap';
import { MESSAGE_CLASSES } from '../switch/process/messages.js';
import type { Request } from '../switch/process/decision.js';
import type { CardRecord } from '../stores/cards.js';
import { normalizeProgram } from '../stores/programs.js';
import { processingCodeOf } from '../iso/processing.js';
import type { Facts, Plan, Checked, LedgerOutcome, PartnerOutcome } from '../switch/process/plan/types.js';
import {
  concludeBalance, concludeClear, concludeCredit, concludeDebit, concludeReverse, standInApproves,
} from '../switch/process/plan/conclude.js';
import { renderAnswer } from '../switch/process/render.js';

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const DEMO = normalizeProgram({ configId: '0019167984', bin: '555770', currency: 'EUR', mode: 'INTERNAL', depositRequired: false, creditRequired: false }, 'test');
const STRICT_DEPOSIT = normalizeProgram({ configId: 'P2', bin: '444433', currency: 'EUR', mode: 'INTERNAL', depositRequired: true, limits: { perTransaction: 5_000 } }, 'test');
const SHARED = normalizeProgram({ configId: 'P3', bin: '444434', currency: 'EUR', mode: 'SHARED_AUTHORIZATION', partner: { baseUrl: 'http://127.0.0.1:1' }, standIn: { rule: 'APPROVE_UP_TO', limit: 1_000 } }, 'test');
const EXTERNAL = normalizeProgram({ configId: 'P4', bin: '444435', currency: 'EUR', mode: 'EXTERNAL_BALANCE', partner: { baseUrl: 'http://127.0.0.1:1' } }, 'test');
const PAN = '5557700000000001';

function card(over: Partial<CardRecord> = {}): CardRecord {
  return {
    id: 'card-1', customerId: 'cust-1', balanceId: 'bal-1', configId: DEMO.configId, currency: 'EUR', expiry: '3012', status: 'ACTIVE',
    lock: 0, kind: 'VIRTUAL', panLast4: '0001', createdAtMs: NOW, pinFailures: 0, cvv2Failures: 0, pvv: null, pvki: null, cvv2Generation: 0,
    serviceCode: null, debitsBlocked: false,
    limits: { perTransaction: null, dailyAmount: null, dailyCount: null, atmDailyAmount: null }, controls: [], ...over,
  };
}

function facts(over: Partial<Facts> = {}): Facts {
  return { card: card(), program: DEMO, depositId: null, companyId: null, nowMs: NOW, ...over };
}

function request(mti: string, fields: Record<number, string>): Request {
  const cls = MESSAGE_CLASSES.get(mti);
  if (cls === undefined) throw new Error(`no class for ${mti}`);
  const f = new Map(Object.entries(fields).map(([k, v]) => [Number(k), v]));
  return { msg: { mti, fields: f }, cls, pc: processingCodeOf(f.get(3)), takenMs: NOW };
}

const BASE = { 2: PAN, 7: '1207120000', 11: '000123', 14: '3012', 32: '123456', 37: 'RRN000000123', 41: 'TERM0001', 49: '978' };
const msg = (mti: string, pc: string, amount: number | null, extra: Record<number, string> = {}): Request => {
  const fields: Record<number, string> = { ...BASE, 3: pc, ...extra };
  if (amount !== null) fields[4] = String(amount).padStart(12, '0');
  return request(mti, fields);
};

/** What a test reads of a plan: its op, and the reason when it answers at once. */
function shape(p: Plan): string {
  return p.op === 'ANSWER' ? `ANSWER ${p.decision.reason}` : p.op === 'DEBIT' ? `DEBIT ${p.posting}` : p.op;
}

t.test('every message class plans the intent its processing code asks for', async (t) => {
  const rows: Array<[string, Request, Facts, string]> = [
    ['0100 purchase holds', msg('0100', '000000', 1_000), facts(), 'DEBIT HOLD'],
    ['0101 repeat plans like the 0100', msg('0101', '000000', 1_000), facts(), 'DEBIT HOLD'],
    ['0100 ATM withdrawal holds', msg('0100', '010000', 6_000), facts(), 'DEBIT HOLD'],
    ['0100 cashback holds', msg('0100', '090000', 2_000), facts(), 'DEBIT HOLD'],
    ['0100 zero purchase is an account verification', msg('0100', '000000', 0), facts(), 'ACCOUNT_VERIFICATION'],
    ['0100 payment credit posts at once', msg('0100', '280000', 1_000), facts(), 'CREDIT'],
    ['0100 refund reads the balance, credited at clearing', msg('0100', '200000', 1_000), facts(), 'BALANCE'],
    ['0100 balance inquiry', msg('0100', '300000', null), facts(), 'BALANCE'],
    ['0200 purchase posts at once', msg('0200', '000000', 1_000), facts(), 'DEBIT POST'],
    ['0200 refund posts at once', msg('0200', '200000', 1_000), facts(), 'CREDIT'],
    ['0200 payment credit posts at once', msg('0200', '280000', 1_000), facts(), 'CREDIT'],
    ['0200 balance inquiry', msg('0200', '300000', 0), facts(), 'BALANCE'],
    ['0120 debit is a forced hold', msg('0120', '000000', 1_000), facts(), 'FORCE_HOLD'],
    ['0120 payment credit', msg('0120', '280000', 1_000), facts(), 'ADVICE_CREDIT'],
    ['0120 refund moves nothing', msg('0120', '200000', 1_000), facts(), 'ANSWER APPROVED'],
    ['0220 debit clears (or posts)', msg('0220', '000000', 1_000), facts(), 'CLEAR'],
    ['0220 refund is credited', msg('0220', '200000', 1_000), facts(), 'REFUND_CLEAR'],
    ['0220 payment credit', msg('0220', '280000', 1_000), facts(), 'ADVICE_CREDIT'],
    ['0400 reversal', msg('0400', '000000', 1_000), facts(), 'REVERSE'],
    ['0420 reversal advice', msg('0420', '000000', 1_000), facts(), 'REVERSE'],
    ['0800 echo', request('0800', { 7: '1207120000', 11: '000001', 70: '301' }), facts({ card: null }), 'ANSWER APPROVED'],
    ['0800 sign-on', request('0800', { 7: '1207120000', 11: '000001', 70: '001' }), facts({ card: null }), 'ANSWER APPROVED'],
    ['0800 sign-off', request('0800', { 7: '1207120000', 11: '000001', 70: '002' }), facts({ card: null }), 'ANSWER APPROVED'],
    ['0800 key change is not acknowledged', request('0800', { 7: '1207120000', 11: '000001', 70: '161' }), facts({ card: null }), 'ANSWER UNKNOWN_TRANSACTION_TYPE'],
    ['0800 without field 70', request('0800', { 7: '1207120000', 11: '000001' }), facts({ card: null }), 'ANSWER UNKNOWN_TRANSACTION_TYPE'],
  ];
  for (const [name, req, f, want] of rows) t.equal(shape(MESSAGE_CLASSES.get(req.msg.mti)!.plan(req, f)), want, name);
});

t.test('every refusal before an effect, in the order the checks run', async (t) => {
  const rows: Array<[string, Request, Facts, string]> = [
    ['no field 11', request('0100', { 2: PAN, 3: '000000', 4: '000000001000', 7: '1207120000' }), facts(), 'FORMAT_ERROR'],
    ['no field 3 in a request', request('0100', { 2: PAN, 4: '000000001000', 7: '1207120000', 11: '000001' }), facts(), 'FORMAT_ERROR'],
    ['unknown processing code', msg('0100', '400000', 1_000), facts(), 'UNKNOWN_TRANSACTION_TYPE'],
    ['zero amount in a cash withdrawal', msg('0100', '010000', 0), facts(), 'INVALID_AMOUNT'],
    ['unknown card', msg('0100', '000000', 1_000), facts({ card: null }), 'CARD_NOT_FOUND'],
    ['lock 1 lost', msg('0100', '000000', 1_000), facts({ card: card({ lock: 1 }) }), 'CARD_LOCK_1_LOST'],
    ['lock 2 stolen', msg('0100', '000000', 1_000), facts({ card: card({ lock: 2 }) }), 'CARD_LOCK_2_STOLEN'],
    ['lock 3 pending query', msg('0100', '000000', 1_000), facts({ card: card({ lock: 3 }) }), 'CARD_LOCK_3_PENDING_QUERY'],
    ['lock 6 PIN tries', msg('0100', '000000', 1_000), facts({ card: card({ lock: 6 }) }), 'CARD_LOCK_6_PIN_TRIES_EXCEEDED'],
    ['lock 7 fraud', msg('0100', '000000', 1_000), facts({ card: card({ lock: 7 }) }), 'CARD_LOCK_7_SUSPECTED_FRAUD'],
    ['lock 11 offline PIN', msg('0100', '000000', 1_000), facts({ card: card({ lock: 11 }) }), 'CARD_LOCK_11_OFFLINE_PIN_TRIES_EXCEEDED'],
    ['physical card not activated', msg('0100', '000000', 1_000), facts({ card: card({ status: 'INACTIVE', kind: 'PHYSICAL' }) }), 'CARD_LOCK_5_CARD_INACTIVE'],
    ['field 14 not the card\'s expiry', msg('0100', '000000', 1_000, { 14: '2912' }), facts(), 'EXPIRED_CARD'],
    ['field 14 in the past', msg('0100', '000000', 1_000, { 14: '2511' }), facts({ card: card({ expiry: '2511' }) }), 'EXPIRED_CARD'],
    ['an expired card without field 14', request('0100', { ...BASE, 14: undefined as unknown as string, 3: '000000', 4: '000000001000' }), facts({ card: card({ expiry: '2511' }) }), 'EXPIRED_CARD'],
    ['customer transactional lock', msg('0100', '000000', 1_000), facts({ card: card({ debitsBlocked: true }) }), 'AML_EXCEPTION'],
    ['program no longer configured', msg('0100', '000000', 1_000), facts({ program: undefined }), 'UNKNOWN_ERROR'],
    ['currency without a rate', msg('0100', '000000', 1_000, { 49: '985' }), facts(), 'CURRENCY_MISMATCH'],
    ['deposit required and absent', msg('0100', '000000', 1_000), facts({ card: card({ configId: 'P2' }), program: STRICT_DEPOSIT }), 'DEPOSIT_BALANCE_NOT_FOUND'],
    ['per-transaction limit', msg('0100', '000000', 5_001), facts({ card: card({ configId: 'P2' }), program: STRICT_DEPOSIT, depositId: 'pb-DEPOSIT-EUR-P2' }), 'EXCEEDS_AMOUNT_LIMIT'],
    ['a credit to a stolen card', msg('0200', '200000', 1_000), facts({ card: card({ lock: 2 }) }), 'CARD_LOCK_2_STOLEN'],
    ['a reversal without field 2', request('0400', { 3: '000000', 4: '000000001000', 7: '1207120000', 11: '000009' }), facts({ card: null }), 'FORMAT_ERROR'],
    ['a reversal for an unknown card', msg('0400', '000000', 1_000), facts({ card: null }), 'CARD_NOT_FOUND'],
  ];
  for (const [name, req, f, want] of rows) {
    const p = MESSAGE_CLASSES.get(req.msg.mti)!.plan(req, f);
    t.equal(shape(p), `ANSWER ${want}`, name);
  }
  // Card authentication under STRICT (the P2 program): what must be present, decided before any effect.
  const strict = facts({ card: card({ configId: 'P2' }), program: STRICT_DEPOSIT, depositId: 'pb-DEPOSIT-EUR-P2' });
  const cardRows: Array<[string, Request, string]> = [
    ['e-commerce without CVV2', msg('0100', '000000', 1_000, { 22: '810' }), 'SECURITY_VIOLATION'],
    ['a chip read of a virtual card', msg('0100', '000000', 1_000, { 22: '051' }), 'SECURITY_VIOLATION'],
    ['a swipe of a virtual card', msg('0100', '000000', 1_000, { 22: '901' }), 'SECURITY_VIOLATION'],
    ['cash without a PIN block', msg('0100', '010000', 1_000), 'PIN_REQUIRED'],
    ['a debit without field 14 or a track', request('0100', { 2: PAN, 3: '000000', 4: '000000001000', 7: '1207120000', 11: '000001', 32: '123456' }), 'EXPIRED_CARD'],
  ];
  for (const [name, req, want] of cardRows) t.equal(shape(MESSAGE_CLASSES.get(req.msg.mti)!.plan(req, strict)), `ANSWER ${want}`, `STRICT: ${name}`);
  const cof = msg('0100', '000000', 1_000, { 22: '100', 48: '1001' + '1' });
  t.equal(shape(MESSAGE_CLASSES.get('0100')!.plan(cof, strict)), 'DEBIT HOLD', 'STRICT: a stored credential (48.10) needs no CVV2');
  const relaxed = msg('0100', '000000', 1_000, { 22: '810' });
  t.equal(shape(MESSAGE_CLASSES.get('0100')!.plan(relaxed, facts())), 'DEBIT HOLD', 'RELAXED (the demo program): nothing more required');
  const badTrack = msg('0100', '000000', 1_000, { 35: 'not a track' });
  const bt = MESSAGE_CLASSES.get('0100')!.plan(badTrack, facts());
  t.match(bt, { op: 'ANSWER', decision: { reason: 'FORMAT_ERROR', fault: { field: 35 } } }, 'a malformed track 2 is a format error naming field 35');
  const withCvv2 = msg('0100', '000000', 1_000, { 22: '810', 48: '9203123' });
  const wc = MESSAGE_CLASSES.get('0100')!.plan(withCvv2, strict);
  t.match(wc, { op: 'DEBIT', c: { verify: { plan: { steps: [{ check: 'CVV2', value: '123' }] } } } }, 'a CVV2 present is a verification step of the plan, run by the executor');

  const lockedCredit = msg('0200', '200000', 1_000);
  t.equal(shape(MESSAGE_CLASSES.get('0200')!.plan(lockedCredit, facts({ card: card({ lock: 3 }) }))), 'CREDIT', 'a reversible lock does not stop a credit');
  const advice = msg('0120', '000000', 1_000, { 14: '2912' });
  t.equal(shape(MESSAGE_CLASSES.get('0120')!.plan(advice, facts())), 'FORCE_HOLD', 'an advice is posted whatever its field 14 says: the network approved it');
  const advUnknown = msg('0220', '000000', 1_000);
  const p = MESSAGE_CLASSES.get('0220')!.plan(advUnknown, facts({ card: null }));
  t.equal(shape(p), 'ANSWER CARD_NOT_FOUND');
  if (p.op === 'ANSWER') {
    t.equal(p.decision.processing, 'INVALID', 'an advice that cannot be posted is recorded INVALID');
    t.equal(renderAnswer('1987', advUnknown, p.decision).fields.get(39), '00', 'and still answered 00');
  }
});

/** The checked message of a planned debit, for the conclusion rows. */
function checked(req: Request, f: Facts): Checked {
  const p = MESSAGE_CLASSES.get(req.msg.mti)!.plan(req, f);
  if (p.op !== 'DEBIT' && p.op !== 'CREDIT' && p.op !== 'BALANCE' && p.op !== 'CLEAR') throw new Error(`not a checked plan: ${shape(p)}`);
  return p.c;
}

const decided = (approved: boolean, reason = approved ? 'APPROVED' : 'INSUFFICIENT_FUNDS'): LedgerOutcome =>
  ({ kind: 'decided', approved, reason: reason as never, availableMinor: 9_000, blockedMinor: 1_000, depositAvailableMinor: 0, recorded: false, scriptSeconds: 0.001, wouldDecline: null });
const partner = (approved: boolean, answered = true, reason = 'INSUFFICIENT_FUNDS'): PartnerOutcome =>
  ({ approved, answered, reason: (approved ? 'APPROVED' : reason) as never, timing: { partner: 'P', endpoint: 'debit', outcome: approved ? 'ok' : answered ? 'DECLINED' : 'TIMEOUT', seconds: 0.01 } });

t.test('a debit concluded from what the ledger and the partner said, in each mode', async (t) => {
  const req = msg('0100', '000000', 1_000);
  const internal = checked(req, facts());
  const code = (d: ReturnType<typeof concludeDebit>): string => renderAnswer('1987', req, d).fields.get(39) as string;

  let d = concludeDebit(req, internal, 'HOLD', { local: decided(true), partner: null, partnerStandIn: false });
  t.match(d, { reason: 'APPROVED', original: true, balance: { availableMinor: 9_000, blockedMinor: 1_000 } });
  t.equal(code(d), '00');
  t.ok(renderAnswer('1987', req, d).fields.has(38), 'an approval carries field 38');
  d = concludeDebit(req, internal, 'HOLD', { local: decided(false), partner: null, partnerStandIn: false });
  t.equal(code(d), '51', 'insufficient funds');
  d = concludeDebit(req, internal, 'HOLD', { local: { kind: 'standInDeclined' }, partner: null, partnerStandIn: false });
  t.match(d, { reason: 'BUDGET_DEADLINE_PASSED', ledger: { standIn: true, approved: false } });
  t.equal(code(d), '91', 'the deadline with the DECLINE rule');
  d = concludeDebit(req, internal, 'HOLD', { local: { kind: 'standInApproved' }, partner: null, partnerStandIn: false });
  t.match(d, { reason: 'APPROVED', ledger: { forced: true, standIn: true } });

  const shared = checked(req, facts({ card: card({ configId: 'P3' }), program: SHARED, depositId: 'pb-DEPOSIT-EUR-P3' }));
  d = concludeDebit(req, shared, 'HOLD', { local: null, partner: partner(false, true, 'FRAUDS_DETECTED' as string), partnerStandIn: false });
  t.match(d, { reason: 'FRAUDS_DETECTED', ledger: { op: 'NONE' } }, 'the partner refused first: nothing held');
  d = concludeDebit(req, shared, 'HOLD', { local: decided(true), partner: partner(true), partnerStandIn: false });
  t.match(d, { reason: 'APPROVED', balance: { availableMinor: 9_000 }, partnerCall: { outcome: 'ok' } }, 'approved by both, field 54 is the switch\'s');
  t.ok(standInApproves(shared, 'HOLD'), 'APPROVE_UP_TO 10.00 covers 10.00');
  t.notOk(standInApproves(shared, 'POST'), 'never for a single-message debit');
  d = concludeDebit(req, shared, 'HOLD', { local: decided(true), partner: partner(false, false, 'PARTNER_UNAVAILABLE'), partnerStandIn: true });
  t.match(d, { reason: 'APPROVED', ledger: { standIn: true } }, 'a silent partner, approved by the stand-in rule');

  const external = checked(req, facts({ card: card({ configId: 'P4' }), program: EXTERNAL, depositId: 'pb-DEPOSIT-EUR-P4' }));
  d = concludeDebit(req, external, 'HOLD', { local: decided(true), partner: partner(true), partnerStandIn: false });
  t.match(d, { reason: 'APPROVED', balance: null }, 'EXTERNAL_BALANCE: the balance is the partner\'s, no field 54');
  d = concludeDebit(req, external, 'HOLD', { local: decided(false, 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE'), partner: null, partnerStandIn: false });
  t.match(d, { reason: 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE', balance: null });
  t.equal(code(d), '05');
  d = concludeDebit(req, external, 'HOLD', { local: decided(true), partner: partner(false, false, 'PARTNER_UNAVAILABLE'), partnerStandIn: false });
  t.match(d, { reason: 'PARTNER_UNAVAILABLE', ledger: { op: 'NONE' } }, 'a silent partner under DECLINE: refused, the hold undone');
  t.equal(code(d), '91');
});

t.test('credits, balances, clearings and reversals concluded', async (t) => {
  const credit = msg('0200', '200000', 1_500);
  const c = checked(credit, facts());
  t.match(concludeCredit(credit, c, { local: { ok: true, reason: 'OK' as never, availableMinor: 11_500, blockedMinor: 0 }, partner: null }),
    { reason: 'APPROVED', status: 'CLEARED', ledger: { op: 'CREDIT', approved: true }, balance: { availableMinor: 11_500 } });
  t.match(concludeCredit(credit, c, { local: { ok: false, reason: 'AMOUNT_TOO_LARGE' as never, availableMinor: 0, blockedMinor: 0 }, partner: null }),
    { reason: 'INVALID_AMOUNT' }, 'a balance past n12 is an invalid amount');

  const inquiry = msg('0100', '300000', null);
  const ci = checked(inquiry, facts());
  const d = concludeBalance(inquiry, ci, { ok: true, availableMinor: 7_000, blockedMinor: 500 });
  t.equal(renderAnswer('1987', inquiry, d).fields.get(54), '0001978C0000000075000002978C000000007000', 'field 54: ledger then available');
  t.match(concludeBalance(inquiry, ci, { ok: false, reason: 'BALANCE_NOT_FOUND' }), { reason: 'BALANCE_NOT_FOUND' });

  const clearing = msg('0220', '000000', 1_200);
  const cc = checked(clearing, facts());
  t.match(concludeClear(clearing, cc, { cleared: true, originalTxId: 'tx-1', fromHoldMinor: 1_000, forcedMinor: 200, releasedMinor: 0 }),
    { reason: 'APPROVED', referenceTxId: 'tx-1', ledger: { op: 'CLEAR' } });
  const orphan = concludeClear(clearing, cc, { cleared: false, ambiguous: true });
  t.match(orphan, { reason: 'AMBIGUOUS_REFERENCED_TRANSACTION', processing: 'SUCCESS', ledger: { op: 'POST', forced: true } }, 'several candidates: posted all the same, recorded ambiguous');
  t.equal(renderAnswer('1987', clearing, orphan).fields.get(39), '00', 'an advice is answered 00');

  const reversal = msg('0400', '000000', 1_000);
  const rp = MESSAGE_CLASSES.get('0400')!.plan(reversal, facts());
  if (rp.op !== 'REVERSE') throw new Error('not a reversal plan');
  t.match(concludeReverse(reversal, rp.r, { found: true, originalTxId: 'tx-1', movedMinor: 1_000, refusal: null, debitedBack: false }),
    { reason: 'APPROVED', status: 'REVERSED', amountMinor: 1_000, referenceTxId: 'tx-1' });
  t.match(concludeReverse(reversal, rp.r, { found: true, originalTxId: 'tx-1', movedMinor: 0, refusal: 'INVALID_AMOUNT', debitedBack: false }), { reason: 'INVALID_AMOUNT' });
  t.match(concludeReverse(reversal, rp.r, { found: false, ambiguous: true, named: null }), { reason: 'AMBIGUOUS_REFERENCED_TRANSACTION' });
  const unknown = concludeReverse(reversal, rp.r, { found: false, ambiguous: false, named: 'tx-9' });
  t.match(unknown, { reason: 'APPROVED', referenceTxId: 'tx-9' }, 'an unknown original is acknowledged and remembered');
});

t.test('planning is pure: the same request and facts give the same plan, and nothing is read', async (t) => {
  const req = msg('0100', '000000', 1_000);
  const f = facts();
  t.same(MESSAGE_CLASSES.get('0100')!.plan(req, f), MESSAGE_CLASSES.get('0100')!.plan(req, f));
  const frozen = Object.freeze({ ...f, card: Object.freeze(card()) }) as Facts;
  t.doesNotThrow(() => MESSAGE_CLASSES.get('0100')!.plan(req, frozen), 'facts are only read');
});


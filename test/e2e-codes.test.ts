// Table-driven end to end over a real socket: every row of SPEC §2.4 that involves no partner and
// every MTI of §2.2, run once per dialect (ISO_DIALECT unset = 1987, and 2003), one switch each.
// A row says: the card and program (setup), the messages sent before it (each must be approved),
// the request, the answer (MTI, field 39 per dialect, echoed fields, 38 on approvals, 54 where the
// balance is held here) and the ledger effect (user available/blocked before → after, the
// transaction status). Every row ends with the ledger invariant checker (npm run ledger:check).
// Rows are written from SPEC, not from the implementation: where the code and SPEC disagree, the
// row fails. ECOM fees are not covered: docs/messages.md does not yet say which fields make ECOM.
import t from 'tap';
import type { Test } from 'tap';
import {
  startWorld, newCard, msg, f90, txIdOf, field54, balance, send, packOwn, assertEchoed, scenario,
  UNKNOWN_CARD, FIELD54_FORMAT, ECHOED, F7, ACQ, LOW_DEPOSIT_MINOR,
  type World, type Card, type CardSetup, type IsoJson, type Answer, type DialectName,
} from './helpers/e2e.js';

interface Ctx {
  w: World;
  card: Card;
  /** STAN number k of this row (rows do not share STANs). */
  stan(k: number): string;
  /** The messages sent before the request, and their answers. */
  prior: Array<{ req: IsoJson; res: IsoJson }>;
}

interface Row {
  name: string;
  /** The card (default: demo program, 10,000 available); null: no card at all; 'unknown': a PAN no card has. */
  card?: CardSetup | null | 'unknown';
  /** Sent first, in order; each must be approved. */
  before?: (x: Ctx) => IsoJson[];
  request: (x: Ctx) => IsoJson | Buffer;
  /** Response MTI. */
  mti: string;
  /** Field 39 in the 1987 and the 2003 dialect. */
  code: [string, string];
  /** Approved money-moving answer: 38 set (6 characters). Declines: 38 absent. */
  approval?: boolean;
  /** Field 54 expected (ledger, available), in the 20-character entry format. */
  f54?: [number, number];
  /** Fields the answer echoes (default SPEC §2.2 list); fields it must not carry. */
  echo?: readonly string[];
  absent?: readonly string[];
  /** User balance [available, blocked] before the request (after `before`) and after it. */
  ledger?: { before: [number, number]; after: [number, number] };
  /** Status of a transaction afterwards: of the request ('req') or of before[i]. */
  status?: ['req' | number, string];
  extra?: (t: Test, x: Ctx, a: Answer) => Promise<void>;
}

const D: [string, string] = ['00', '0000'];
const auth = (x: Ctx, k: number, amountMinor: number, over: Record<string, string | undefined> = {}): IsoJson =>
  msg('0100', x.card, x.stan(k), '00', amountMinor, over);
const next = { 7: '1126101500' };

const LOCK_ROWS: Array<[number, string, [string, string]]> = [
  [1, 'lost', ['41', '2008']], [2, 'stolen', ['43', '2009']], [3, 'pending query', ['05', '1000']],
  [4, 'card consolidation', ['51', '1016']], [5, 'card inactive', ['56', '1018']],
  [6, 'PIN tries exceeded', ['75', '1006']], [7, 'suspected fraud', ['59', '1002']],
  [8, 'card replaced', ['14', '1011']], [11, 'offline PIN attempts exceeded', ['75', '1006']],
];

/** A fee row: the fee is held with the transaction and posted to the company balance at clearing. */
function feeRow(name: string, proc: string, f22: string, feeMinor: number): Row {
  return {
    name, card: { program: 'FEES', topUpMinor: 20_000 },
    request: (x) => msg('0100', x.card, x.stan(0), proc, 10_000, { 22: f22 }),
    mti: '0110', code: D, approval: true, f54: [20_000, 10_000 - feeMinor],
    ledger: { before: [20_000, 0], after: [10_000 - feeMinor, 10_000 + feeMinor] }, status: ['req', 'AUTHORIZED'],
    extra: async (t, x, a) => {
      const tx = await x.w.ledger.getTransaction(x.card.balanceId, txIdOf(x.card, a.res));
      t.equal(tx?.amountMinor, 10_000, 'transaction amount without the fee');
      t.equal(tx?.feeMinor, feeMinor, 'channel fee recorded with the transaction');
      const companyBefore = (await x.w.ledger.getPartnerBalance(x.w.feesCompanyId))?.availableMinor ?? 0;
      const clr = msg('0220', x.card, x.stan(1), proc, 10_000, { ...next, 22: f22, 90: f90(msg('0100', x.card, x.stan(0), proc, 10_000)) });
      t.equal((await send(x.w, clr)).res['39'], x.w.dialect === '2003' ? '0000' : '00', 'clearing acknowledged');
      t.same(await balance(x.w, x.card), [10_000 - feeMinor, 0], 'cleared: amount and fee posted, nothing held');
      const companyAfter = (await x.w.ledger.getPartnerBalance(x.w.feesCompanyId))?.availableMinor ?? 0;
      t.equal(companyAfter - companyBefore, feeMinor, 'fee posted to the company balance at clearing');
    },
  };
}

const ROWS: Row[] = [
  // ---- SPEC §2.2: every MTI ----
  {
    name: '0100 purchase approved: held', request: (x) => auth(x, 0, 2_500),
    mti: '0110', code: D, approval: true, f54: [10_000, 7_500],
    ledger: { before: [10_000, 0], after: [7_500, 2_500] }, status: ['req', 'AUTHORIZED'],
  },
  {
    name: '0101 repeat of an approved 0100: same answer, held once',
    before: (x) => [auth(x, 0, 2_500)], request: (x) => ({ ...auth(x, 0, 2_500), 0: '0101' }),
    mti: '0110', code: D, approval: true, f54: [10_000, 7_500],
    ledger: { before: [7_500, 2_500], after: [7_500, 2_500] }, status: [0, 'AUTHORIZED'],
    extra: async (t, x, a) => { t.equal(a.res['38'], x.prior[0]?.res['38'], 'same authorization id'); },
  },
  {
    name: '0120 authorization advice: forced hold over the funds, never declined', card: { topUpMinor: 1_000 },
    request: (x) => msg('0120', x.card, x.stan(0), '00', 1_500),
    mti: '0130', code: D, ledger: { before: [1_000, 0], after: [-500, 1_500] }, status: ['req', 'AUTHORIZED'],
  },
  {
    name: '0121 repeat of an 0120: acknowledged, held once', card: { topUpMinor: 1_000 },
    before: (x) => [msg('0120', x.card, x.stan(0), '00', 1_500)],
    request: (x) => msg('0121', x.card, x.stan(0), '00', 1_500),
    mti: '0130', code: D, ledger: { before: [-500, 1_500], after: [-500, 1_500] }, status: [0, 'AUTHORIZED'],
  },
  {
    name: '0200 financial request approved: posted at once', request: (x) => msg('0200', x.card, x.stan(0), '00', 2_500),
    mti: '0210', code: D, approval: true, f54: [7_500, 7_500],
    ledger: { before: [10_000, 0], after: [7_500, 0] }, status: ['req', 'CLEARED'],
  },
  {
    name: '0201 repeat of an 0200: same answer, posted once',
    before: (x) => [msg('0200', x.card, x.stan(0), '00', 2_500)], request: (x) => msg('0201', x.card, x.stan(0), '00', 2_500),
    mti: '0210', code: D, approval: true, f54: [7_500, 7_500],
    ledger: { before: [7_500, 0], after: [7_500, 0] }, status: [0, 'CLEARED'],
  },
  {
    name: '0220 financial advice with field 90: clears the 0100',
    before: (x) => [auth(x, 0, 4_000)],
    request: (x) => msg('0220', x.card, x.stan(1), '00', 4_000, { ...next, 90: f90(auth(x, 0, 4_000)) }),
    mti: '0230', code: D, ledger: { before: [6_000, 4_000], after: [6_000, 0] }, status: [0, 'CLEARED'],
  },
  {
    name: '0221 repeat of an 0220: acknowledged, cleared once',
    before: (x) => [auth(x, 0, 4_000), msg('0220', x.card, x.stan(1), '00', 4_000, { ...next, 90: f90(auth(x, 0, 4_000)) })],
    request: (x) => msg('0221', x.card, x.stan(1), '00', 4_000, { ...next, 90: f90(auth(x, 0, 4_000)) }),
    mti: '0230', code: D, ledger: { before: [6_000, 0], after: [6_000, 0] }, status: [0, 'CLEARED'],
  },
  {
    name: '0400 reversal: the hold released',
    before: (x) => [auth(x, 0, 4_000)],
    request: (x) => ({ ...auth(x, 0, 4_000), 0: '0400', 11: x.stan(1), 90: f90(auth(x, 0, 4_000)) }),
    mti: '0410', code: D, ledger: { before: [6_000, 4_000], after: [10_000, 0] }, status: [0, 'REVERSED'],
  },
  {
    name: '0401 repeat of an 0400: acknowledged, released once',
    before: (x) => [auth(x, 0, 4_000), { ...auth(x, 0, 4_000), 0: '0400', 11: x.stan(1), 90: f90(auth(x, 0, 4_000)) }],
    request: (x) => ({ ...auth(x, 0, 4_000), 0: '0401', 11: x.stan(1), 90: f90(auth(x, 0, 4_000)) }),
    mti: '0410', code: D, ledger: { before: [10_000, 0], after: [10_000, 0] }, status: [0, 'REVERSED'],
  },
  {
    name: '0420 reversal advice: accepted, the hold released',
    before: (x) => [auth(x, 0, 4_000)],
    request: (x) => ({ ...auth(x, 0, 4_000), 0: '0420', 11: x.stan(1), 90: f90(auth(x, 0, 4_000)) }),
    mti: '0430', code: D, ledger: { before: [6_000, 4_000], after: [10_000, 0] }, status: [0, 'REVERSED'],
  },
  {
    name: '0421 repeat of an 0420: acknowledged, released once',
    before: (x) => [auth(x, 0, 4_000), { ...auth(x, 0, 4_000), 0: '0420', 11: x.stan(1), 90: f90(auth(x, 0, 4_000)) }],
    request: (x) => ({ ...auth(x, 0, 4_000), 0: '0421', 11: x.stan(1), 90: f90(auth(x, 0, 4_000)) }),
    mti: '0430', code: D, ledger: { before: [10_000, 0], after: [10_000, 0] }, status: [0, 'REVERSED'],
  },
  ...(['001', '002', '301'] as const).map((code70): Row => ({
    name: `0800 network management ${code70}: 00, echoes exactly 7, 11 and 70`, card: null,
    request: (x) => ({ 0: '0800', 7: F7, 11: x.stan(0), 70: code70 }) as IsoJson,
    mti: '0810', code: D, echo: ['7', '11', '70'],
    extra: async (t, x, a) => {
      t.same(a.res, { 0: '0810', 7: F7, 11: x.stan(0), 39: a.res['39'], 70: code70 }, 'nothing else in the answer');
    },
  })),
  {
    name: 'unknown MTI 0300: response MTI 0310 with 12, echoing what decoded',
    request: (x) => packOwn(x.w, '0300', {
      2: x.card.pan, 3: '000000', 4: '000000001000', 7: F7, 11: x.stan(0), 32: ACQ, 37: 'RRN' + x.stan(0) + '000',
      41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
    }),
    mti: '0310', code: ['12', '1015'], echo: ECHOED,
    ledger: { before: [10_000, 0], after: [10_000, 0] },
    extra: async (t, x, a) => { t.equal(a.res['11'], x.stan(0), 'STAN echoed'); t.equal(a.res['2'], x.card.pan, 'PAN echoed'); },
  },
  {
    name: 'a body that does not decode (field 49 not numeric): 30, echoing only the clean fields',
    request: (x) => {
      const framed = x.w.c.pack(auth(x, 0, 1_000));
      // Field 49 is the last field of this message (3 bytes): make its middle digit a letter.
      framed[framed.length - 2] = 0x41;
      return framed;
    },
    mti: '0110', code: ['30', '9104'], echo: ['2', '3', '4', '7', '11', '32', '37', '41', '42'], absent: ['38', '49'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },

  // ---- SPEC §2.4: response codes ----
  ...LOCK_ROWS.map(([lock, what, code]): Row => ({
    name: `card lock ${lock} (${what}): ${code[0]}`, card: { lock },
    request: (x) => auth(x, 0, 1_000), mti: '0110', code, absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  })),
  {
    name: 'physical card not activated (lock 5 reason): 56', card: { status: 'INACTIVE' },
    request: (x) => auth(x, 0, 1_000), mti: '0110', code: ['56', '1018'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'CARD_NOT_FOUND: 14', card: 'unknown',
    request: (x) => auth(x, 0, 1_000), mti: '0110', code: ['14', '1011'], absent: ['38'],
  },
  {
    name: 'expired card (field 14 in the past, the card\'s own expiry): 54', card: { expiry: '2001' },
    request: (x) => auth(x, 0, 1_000), mti: '0110', code: ['54', '1001'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'expired card (field 14 in the future but not the card\'s expiry): 54',
    request: (x) => auth(x, 0, 1_000, { 14: '2912' }), mti: '0110', code: ['54', '1001'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'INSUFFICIENT_FUNDS: 51', request: (x) => auth(x, 0, 10_001), mti: '0110', code: ['51', '1016'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE (deposit 1,000 < 2,000, user funds enough): 05', card: { program: 'DEP_LOW' },
    request: (x) => auth(x, 0, 2_000), mti: '0110', code: ['05', '1000'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
    extra: async (t, x) => {
      const dep = await x.w.ledger.getPartnerBalance(x.w.lowDepositId);
      t.same([dep?.availableMinor, dep?.blockedMinor], [LOW_DEPOSIT_MINOR, 0], 'deposit untouched');
    },
  },
  {
    name: 'DEPOSIT_BALANCE_NOT_FOUND (depositRequired, no deposit): 05', card: { program: 'DEP_REQ' },
    request: (x) => auth(x, 0, 1_000), mti: '0110', code: ['05', '1000'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'INVALID_AMOUNT (zero in an ATM withdrawal): 13', request: (x) => msg('0100', x.card, x.stan(0), '01', 0), mti: '0110', code: ['13', '1010'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'INVALID_AMOUNT (zero in an 0200 purchase): 13', request: (x) => msg('0200', x.card, x.stan(0), '00', 0), mti: '0210', code: ['13', '1010'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'account verification (zero-amount 0100 purchase): 85, nothing held', request: (x) => auth(x, 0, 0), mti: '0110', code: ['85', '0000'], approval: true,
    absent: ['54'], ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'account verification on a card with lock 7: 59, nothing held', card: { lock: 7 }, request: (x) => auth(x, 0, 0), mti: '0110', code: ['59', '1002'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'EXCEEDS_AMOUNT_LIMIT, limits.perTransaction 5,000: 5,000 approved, 5,001 declined 61', card: { program: 'LIM_TX', topUpMinor: 20_000 },
    before: (x) => [auth(x, 0, 5_000)], request: (x) => auth(x, 1, 5_001), mti: '0110', code: ['61', '1021'], absent: ['38'],
    ledger: { before: [15_000, 5_000], after: [15_000, 5_000] },
  },
  {
    name: 'EXCEEDS_AMOUNT_LIMIT, limits.dailyAmount 8,000: 5,000 + 3,000 approved, 1 more declined 61', card: { program: 'LIM_DAY' },
    before: (x) => [auth(x, 0, 5_000), auth(x, 1, 3_000)], request: (x) => auth(x, 2, 1), mti: '0110', code: ['61', '1021'], absent: ['38'],
    ledger: { before: [2_000, 8_000], after: [2_000, 8_000] },
  },
  {
    name: 'EXCEEDS_AMOUNT_LIMIT, limits.atmDailyAmount 3,000 (processing code 01): 2,000 + 1,500 declined 61; a purchase still approved',
    card: { program: 'LIM_ATM' },
    before: (x) => [msg('0100', x.card, x.stan(0), '01', 2_000)], request: (x) => msg('0100', x.card, x.stan(1), '01', 1_500),
    mti: '0110', code: ['61', '1021'], absent: ['38'],
    ledger: { before: [8_000, 2_000], after: [8_000, 2_000] },
    extra: async (t, x) => {
      const pos = await send(x.w, auth(x, 2, 5_000));
      t.equal(pos.res['39'], x.w.dialect === '2003' ? '0000' : '00', 'the ATM limit does not stop a purchase');
    },
  },
  {
    name: 'LIMIT_EXCEED, limits.dailyCount 2: the third authorization of the day declined 65', card: { program: 'LIM_CNT' },
    before: (x) => [auth(x, 0, 100), auth(x, 1, 100)], request: (x) => auth(x, 2, 100), mti: '0110', code: ['65', '1023'], absent: ['38'],
    ledger: { before: [9_800, 200], after: [9_800, 200] },
  },
  {
    name: 'AML_EXCEPTION (customer transactional lock): 62', card: { customerLock: 'FRAUD_SUSPECTED' },
    request: (x) => auth(x, 0, 1_000), mti: '0110', code: ['62', '1004'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'CURRENCY_MISMATCH (field 49 USD, no fxRates entry, no field 6/51): 57',
    request: (x) => auth(x, 0, 1_000, { 49: '840' }), mti: '0110', code: ['57', '1019'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'CURRENCY_MISMATCH (field 49 USD, field 6/51 in GBP, not the balance currency): 57',
    request: (x) => auth(x, 0, 1_000, { 49: '840', 6: '000000000900', 51: '826' }), mti: '0110', code: ['57', '1019'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'FX approved: 100.00 PLN at fxRates PLN 0.23 = 23.00 EUR held, plus the FX fee (fxBps 100) = 23', card: { program: 'FX' },
    request: (x) => auth(x, 0, 10_000, { 49: '985' }), mti: '0110', code: D, approval: true, f54: [10_000, 7_677],
    ledger: { before: [10_000, 0], after: [7_677, 2_323] }, status: ['req', 'AUTHORIZED'],
    extra: async (t, x, a) => {
      const tx = await x.w.ledger.getTransaction(x.card.balanceId, txIdOf(x.card, a.res));
      t.equal(tx?.amountMinor, 2_300, 'amount converted into EUR');
      t.equal(tx?.fxFeeMinor, 23, 'FX fee held with the transaction');
    },
  },
  {
    name: 'FX approved with field 6 + 51 in the balance currency: field 6 used, not the rate table', card: { program: 'FX_NOFEE' },
    request: (x) => auth(x, 0, 10_000, { 49: '985', 6: '000000002400', 51: '978' }), mti: '0110', code: D, approval: true, f54: [10_000, 7_600],
    ledger: { before: [10_000, 0], after: [7_600, 2_400] }, status: ['req', 'AUTHORIZED'],
    extra: async (t, x, a) => {
      t.equal((await x.w.ledger.getTransaction(x.card.balanceId, txIdOf(x.card, a.res)))?.amountMinor, 2_400, 'field 6 amount held');
    },
  },
  feeRow('fees, POS channel (field 22 051, processing 00): fixed 50 + 100 bps of 10,000 = 150 held, posted at clearing', '00', '051', 150),
  feeRow('fees, ATM channel (processing 01): fixed 200 + 200 bps of 10,000 = 400 held, posted at clearing', '01', '051', 400),
  {
    name: 'fees in an 0200 (POS): the fee is posted with the debit, to the company balance at once', card: { program: 'FEES', topUpMinor: 20_000 },
    request: (x) => msg('0200', x.card, x.stan(0), '00', 10_000), mti: '0210', code: D, approval: true, f54: [9_850, 9_850],
    ledger: { before: [20_000, 0], after: [9_850, 0] }, status: ['req', 'CLEARED'],
    extra: async (t, x) => {
      // The row's own request has already moved the fee; the company balance is read before a second 0200 to measure it.
      const before = (await x.w.ledger.getPartnerBalance(x.w.feesCompanyId))?.availableMinor ?? 0;
      t.equal((await send(x.w, msg('0200', x.card, x.stan(1), '00', 1_000))).res['39'], x.w.dialect === '2003' ? '0000' : '00');
      const after = (await x.w.ledger.getPartnerBalance(x.w.feesCompanyId))?.availableMinor ?? 0;
      t.equal(after - before, 60, 'fixed 50 + 100 bps of 1,000 posted to the company balance');
      t.same(await balance(x.w, x.card), [8_790, 0], 'amount and fee debited');
    },
  },
  {
    name: 'EXCEEDS_AMOUNT_LIMIT in an 0200, limits.perTransaction 5,000: 5,001 declined 61', card: { program: 'LIM_TX', topUpMinor: 20_000 },
    request: (x) => msg('0200', x.card, x.stan(0), '00', 5_001), mti: '0210', code: ['61', '1021'], absent: ['38'],
    ledger: { before: [20_000, 0], after: [20_000, 0] },
  },
  {
    name: 'UNKNOWN_TRANSACTION_TYPE (processing code 40): 12', request: (x) => msg('0100', x.card, x.stan(0), '40', 1_000),
    mti: '0110', code: ['12', '1015'], absent: ['38'], ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'AMBIGUOUS_REFERENCED_TRANSACTION: two 0100s with one PAN + field 37, a reversal whose field 90 matches neither: 96',
    before: (x) => [auth(x, 0, 1_000, { 37: 'RRNAMBIGUOUS' }), auth(x, 1, 1_000, { 37: 'RRNAMBIGUOUS' })],
    request: (x) => ({ ...auth(x, 2, 1_000, { 37: 'RRNAMBIGUOUS' }), 0: '0400', 90: f90(auth(x, 9, 1_000)) }),
    mti: '0410', code: ['96', '9109'], ledger: { before: [8_000, 2_000], after: [8_000, 2_000] }, status: [0, 'AUTHORIZED'],
  },
  {
    name: 'format error (field 3 missing from an 0100): 30', request: (x) => auth(x, 0, 1_000, { 3: undefined }),
    mti: '0110', code: ['30', '9104'], absent: ['38', '3'], ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'balance inquiry (30) in an 0100, zero amount: 00 with field 54, nothing moves',
    before: (x) => [auth(x, 0, 500)], request: (x) => msg('0100', x.card, x.stan(1), '30', 0),
    mti: '0110', code: D, approval: true, f54: [10_000, 9_500], ledger: { before: [9_500, 500], after: [9_500, 500] },
  },
  {
    name: 'balance inquiry (30) in an 0200: 00 with field 54, nothing moves', request: (x) => msg('0200', x.card, x.stan(0), '30', 0),
    mti: '0210', code: D, approval: true, f54: [10_000, 10_000], ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'refund (20) in an 0100: approved, nothing moves until its 0220 credits it',
    request: (x) => msg('0100', x.card, x.stan(0), '20', 700),
    mti: '0110', code: D, approval: true, f54: [10_000, 10_000], ledger: { before: [10_000, 0], after: [10_000, 0] },
    extra: async (t, x) => {
      const clr = msg('0220', x.card, x.stan(1), '20', 700, { ...next, 90: f90(msg('0100', x.card, x.stan(0), '20', 700)) });
      t.equal((await send(x.w, clr)).res['39'], x.w.dialect === '2003' ? '0000' : '00');
      t.same(await balance(x.w, x.card), [10_700, 0], 'credited at clearing');
    },
  },
  {
    name: 'refund (20) in an 0200: posted at once', request: (x) => msg('0200', x.card, x.stan(0), '20', 300),
    mti: '0210', code: D, approval: true, f54: [10_300, 10_300], ledger: { before: [10_000, 0], after: [10_300, 0] }, status: ['req', 'CLEARED'],
  },
  {
    name: 'payment credit (28) in an 0100: posted at once', request: (x) => msg('0100', x.card, x.stan(0), '28', 500),
    mti: '0110', code: D, approval: true, f54: [10_500, 10_500], ledger: { before: [10_000, 0], after: [10_500, 0] }, status: ['req', 'CLEARED'],
  },
  {
    name: 'payment credit (28) in an 0200: posted at once', request: (x) => msg('0200', x.card, x.stan(0), '28', 400),
    mti: '0210', code: D, approval: true, f54: [10_400, 10_400], ledger: { before: [10_000, 0], after: [10_400, 0] }, status: ['req', 'CLEARED'],
  },
  {
    name: 'refund (20) in an 0200 to a card with lock 1: declined 41', card: { lock: 1 },
    request: (x) => msg('0200', x.card, x.stan(0), '20', 300), mti: '0210', code: ['41', '2008'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'payment credit (28) in an 0100 to a card with lock 8: declined 14', card: { lock: 8 },
    request: (x) => msg('0100', x.card, x.stan(0), '28', 300), mti: '0110', code: ['14', '1011'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'payment credit (28) in an 0200 to a physical card not activated: declined 56', card: { status: 'INACTIVE' },
    request: (x) => msg('0200', x.card, x.stan(0), '28', 300), mti: '0210', code: ['56', '1018'], absent: ['38'],
    ledger: { before: [10_000, 0], after: [10_000, 0] },
  },
  {
    name: 'payment credit (28) in an 0100 to a card with lock 7: other locks do not stop credits', card: { lock: 7 },
    request: (x) => msg('0100', x.card, x.stan(0), '28', 300), mti: '0110', code: D, approval: true, f54: [10_300, 10_300],
    ledger: { before: [10_000, 0], after: [10_300, 0] }, status: ['req', 'CLEARED'],
  },
];

async function runRow(t: Test, w: World, row: Row, index: number): Promise<void> {
  const di = w.dialect === '2003' ? 1 : 0;
  const approved = D[di] as string;
  let card: Card;
  if (row.card === null || row.card === 'unknown') card = UNKNOWN_CARD;
  else card = await newCard(w, index, row.card ?? {});
  const x: Ctx = { w, card, stan: (k) => String(index * 20 + k).padStart(6, '0'), prior: [] };
  for (const req of row.before?.(x) ?? []) {
    const a = await send(w, req);
    x.prior.push({ req, res: a.res });
    t.equal(a.res['39'], approved, `setup: ${req['0']} STAN ${req['11']} approved`);
  }
  const hasBalance = row.card !== null && row.card !== 'unknown';
  if (row.ledger && hasBalance) t.same(await balance(w, card), row.ledger.before, 'balance before');
  const req = row.request(x);
  const a = await send(w, req);
  const res = a.res;
  t.equal(res['0'], row.mti, `answered ${row.mti}`);
  t.equal(res['39'], row.code[di], `field 39 ${row.code[di]}`);
  if (!Buffer.isBuffer(req)) assertEchoed(t, req, res, row.echo ?? ECHOED);
  else if (row.echo) {
    // Bytes built by hand: compare with what our codec reads of them (the clean fields of a broken body).
    const u = w.codec.unpack(req.subarray(2));
    const sent = u.ok ? u.msg.fields : u.partial.fields;
    for (const f of row.echo) t.equal(res[f], sent.get(Number(f)), `field ${f} echoed`);
  }
  for (const f of row.absent ?? []) t.equal(res[f], undefined, `field ${f} absent`);
  if (row.approval) t.match(res['38'], /^[0-9A-Za-z]{6}$/, 'field 38: 6-character authorization id');
  if (row.f54) {
    t.match(res['54'], FIELD54_FORMAT, 'field 54: 20-character entries');
    t.equal(res['54'], field54(...row.f54), 'field 54: ledger and available');
  }
  if (row.ledger && hasBalance) t.same(await balance(w, card), row.ledger.after, 'balance after');
  if (row.status) {
    const [which, status] = row.status;
    const m = which === 'req' ? (Buffer.isBuffer(req) ? undefined : req) : x.prior[which]?.req;
    t.equal(m === undefined ? undefined : (await w.ledger.getTransaction(card.balanceId, txIdOf(card, m)))?.status, status, `transaction ${status}`);
  }
  await row.extra?.(t, x, a);
}

for (const dialect of ['1987', '2003'] as DialectName[]) {
  t.test(`SPEC §2.2 and §2.4 table, dialect ${dialect}`, async (t) => {
    const world = await startWorld(t, dialect);
    let i = 0;
    for (const row of ROWS) {
      const index = ++i;
      await scenario(t, () => world, `${dialect} #${index} ${row.name}`, (t, w) => runRow(t, w, row, index));
    }
  });
}

// Pricing of a debit (switch/process/pricing.ts): channel, FX conversion and fees, SPEC §4. Pure
// functions over the request's fields and the program; the end-to-end rows are in e2e-codes.
import t from 'tap';
import { channelOf, convert, partialPrice, price, type Priced } from '../switch/process/plan/pricing.js';
import { normalizeProgram } from '../stores/programs.js';
import type { IsoFields } from '../iso/codec.js';

const program = normalizeProgram({
  configId: 'FX', bin: '555771', currency: 'EUR', mode: 'INTERNAL',
  fees: { POS: { fixed: 10, bps: 100 }, ECOM: { fixed: 20, bps: 0 }, ATM: { fixed: 200, bps: 200 }, fxBps: 150 },
  fxRates: { PLN: '0.23', USD: '0.92', JPY: '0.0062' },
}, 'test');

const fields = (o: Record<number, string>): IsoFields => new Map(Object.entries(o).map(([k, v]) => [Number(k), v]));

t.test('channel from processing code and POS entry mode', async (t) => {
  t.equal(channelOf(fields({ 3: '010000', 22: '051' })), 'ATM');
  t.equal(channelOf(fields({ 3: '000000', 22: '812' })), 'ECOM');
  t.equal(channelOf(fields({ 3: '000000', 22: '010' })), 'ECOM');
  t.equal(channelOf(fields({ 3: '000000', 22: '102' })), 'ECOM', 'credential on file');
  t.equal(channelOf(fields({ 3: '000000', 22: '071' })), 'POS');
  t.equal(channelOf(fields({ 3: '000000' })), 'POS');
});

t.test('conversion: exponents, half-up rounding, cross rates through the program currency', async (t) => {
  t.equal(convert(10_000, 'PLN', 'EUR', '0.23'), 2_300, '100.00 PLN = 23.00 EUR');
  t.equal(convert(1, 'PLN', 'EUR', '0.23'), 0, '0.01 PLN = 0.0023 EUR rounds to 0');
  t.equal(convert(3, 'PLN', 'EUR', '0.23'), 1, '0.0069 rounds up to 0.01');
  t.equal(convert(1_000, 'JPY', 'EUR', '0.0062'), 620, '1,000 JPY (exponent 0) = 6.20 EUR');
  t.equal(convert(10_000, 'PLN', 'USD', '0.23', '0.92'), 2_500, '100 PLN = 23 EUR = 25 USD');
});

t.test('price: fees on the converted amount, FX fee only when foreign, mismatch without a rate', async (t) => {
  const local = price(fields({ 3: '000000', 22: '051', 49: '978' }), program, 'EUR', '978', 10_000);
  t.match(local, { channel: 'POS', amountMinor: 10_000, feeMinor: 10 + 100, fxFeeMinor: 0, originalCurrency: 'EUR', rate: null });
  const pln = price(fields({ 3: '000000', 22: '051', 49: '985' }), program, 'EUR', '978', 10_000);
  t.match(pln, { amountMinor: 2_300, feeMinor: 10 + 23, fxFeeMinor: 34, originalAmountMinor: 10_000, originalCurrency: 'PLN', rate: '0.23' });
  const billed = price(fields({ 3: '000000', 22: '051', 49: '985', 6: '000000002400', 51: '978' }), program, 'EUR', '978', 10_000);
  t.match(billed, { amountMinor: 2_400, rate: null }, 'field 6 in the balance currency wins over the table');
  const usdBalance = price(fields({ 3: '000000', 22: '051', 49: '985' }), program, 'USD', '840', 10_000);
  t.match(usdBalance, { amountMinor: 2_500, rate: '0.23/0.92' }, 'a USD balance of an EUR program: cross rate');
  t.equal(price(fields({ 3: '000000', 49: '826' }), program, 'EUR', '978', 10_000), 'CURRENCY_MISMATCH', 'GBP: no rate');
  t.equal(price(fields({ 3: '000000', 49: '999' }), program, 'EUR', '978', 10_000), 'CURRENCY_MISMATCH', 'unknown currency');
  t.equal(price(fields({ 3: '000000', 49: '985' }), program, 'EUR', '978', 1), 'INVALID_AMOUNT', 'converts to zero');
});

t.test('partial price: the largest amount whose price fits, in the balance\'s currency and in field 49\'s', async (t) => {
  const total = (p: Priced): number => p.amountMinor + p.feeMinor + p.fxFeeMinor;
  const pos = (o: Record<number, string>) => fields({ 3: '000000', 22: '051', ...o });
  // Checked against prices computed one amount at a time: the partial is the price of the largest
  // amount of field 49's currency (below the one asked) whose price fits, and that price exactly.
  const largest = (o: Record<number, string>, balance: string, n3: string, asked: number, cover: number): Priced | null => {
    for (let x = asked - 1; x >= 1; x--) {
      const p = price(pos(o), program, balance, n3, x) as Priced;
      if (p.amountMinor >= 1 && total(p) <= cover) return p;
    }
    return null;
  };
  for (const [what, o, balance, n3] of [
    ['EUR on an EUR balance', { 49: '978' }, 'EUR', '978'],
    ['PLN on an EUR balance (rate table)', { 49: '985' }, 'EUR', '978'],
    ['JPY (exponent 0) on an EUR balance', { 49: '392' }, 'EUR', '978'],
    ['PLN on a USD balance (cross rate)', { 49: '985' }, 'USD', '840'],
  ] as const) {
    let checked = 0;
    for (const asked of [100, 999, 5_000, 12_345]) {
      const full = price(pos(o), program, balance, n3, asked) as Priced;
      for (const cover of [0, 1, 12, 35, 250, 1_000, total(full) - 1]) {
        const got = partialPrice(program, full, balance, cover);
        const want = largest(o, balance, n3, asked, cover);
        if (want === null) { t.equal(got, null, `${what}: ${asked} asked, ${cover} covered: none`); continue; }
        if (balance === 'EUR' && o[49] === '978') {
          // In the balance's own currency the record keeps the amount asked as its original.
          t.same(got, { ...want, originalAmountMinor: asked }, `${what}: ${asked} asked, ${cover} covered`);
        } else {
          t.same(got, want, `${what}: ${asked} asked, ${cover} covered`);
        }
        checked++;
      }
    }
    t.ok(checked > 0, `${what}: partials found`);
  }
  // The network converted (field 6 in the balance's currency): the same proportion, rounded half up.
  const billed = price(pos({ 49: '985', 6: '000000002400', 51: '978' }), program, 'EUR', '978', 10_000) as Priced;
  const part = partialPrice(program, billed, 'EUR', 1_500)!;
  t.ok(total(part) <= 1_500, 'its price fits');
  t.equal(part.amountMinor, Math.round((part.originalAmountMinor * 2_400) / 10_000), 'at field 6 over field 4');
  const next = Math.round(((part.originalAmountMinor + 1) * 2_400) / 10_000);
  t.ok(next + 10 + Math.floor(next / 100) + Math.floor((next * 150) / 10_000) > 1_500, 'one unit more of PLN would not fit');
});

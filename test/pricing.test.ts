// Pricing of a debit (switch/process/pricing.ts): channel, FX conversion and fees, SPEC §4. Pure
// functions over the request's fields and the program; the end-to-end rows are in e2e-codes.
import t from 'tap';
import { channelOf, convert, price } from '../switch/process/plan/pricing.js';
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

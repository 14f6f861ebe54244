// What a debit costs in the balance's currency (SPEC §4): the channel, the amount converted when
// the transaction currency differs (field 6/51 when they are in the balance currency, else the
// program's rate table), the channel fee and the FX fee; and the limits that apply to it.
import type { IsoFields } from '../../../iso/codec.js';
import type { CardRecord } from '../../../stores/cards.js';
import type { Program } from '../../../stores/programs.js';
import { counterPeriod, type VelocityCounter, type VelocityCounters } from '../../../ledger/index.js';
import type { Reason } from '../../../iso/reasons.js';
import { currencyAlpha, currencyExponent } from '../../../iso/currency.js';
import { amountMinor, text } from '../../../iso/wire.js';

export type Channel = 'POS' | 'ECOM' | 'ATM';

/**
 * The channel of a card transaction: processing code 01 is an ATM withdrawal; a POS entry mode
 * (field 22, first two digits) of 01 (key entered), 10 (credential on file) or 81 (e-commerce) is
 * a card-not-present ECOM transaction; anything else is POS.
 */
export function channelOf(f: IsoFields): Channel {
  if (text(f, 3)?.startsWith('01')) return 'ATM';
  const mode = text(f, 22)?.slice(0, 2);
  return mode === '01' || mode === '10' || mode === '81' ? 'ECOM' : 'POS';
}

/** Field 22 (first two digits) as the seed's `captureMode`. */
export function captureModeOf(f: IsoFields): string | null {
  switch (text(f, 22)?.slice(0, 2)) {
    case '01': return 'MANUAL';
    case '02': case '80': case '90': return 'MAGSTRIPE';
    case '05': case '95': return 'EMV';
    case '07': case '91': return 'NFC';
    case '10': case '81': return 'ECOM';
    case undefined: return null;
    default: return 'UNKNOWN';
  }
}

export interface Priced {
  channel: Channel;
  /** What the balance is debited, in its currency (fees apart). */
  amountMinor: number;
  feeMinor: number;
  fxFeeMinor: number;
  /** Field 4 / 49 as sent, when they differ from the balance's. */
  originalAmountMinor: number;
  originalCurrency: string;
  /** The rate used: program currency units per unit of the original (`a/b` across two configured rates), or null. */
  rate: string | null;
}

/**
 * Prices a request of `amountMinor` (field 4) in field 49's currency for a balance in
 * `balanceCurrency`. CURRENCY_MISMATCH when it cannot be converted.
 */
export function price(f: IsoFields, program: Program, balanceCurrency: string, balanceN3: string, amount: number): Priced | Reason {
  const channel = channelOf(f);
  const f49 = text(f, 49);
  const original = f49 === undefined ? balanceCurrency : currencyAlpha(f49);
  if (original === undefined) return 'CURRENCY_MISMATCH';
  let converted = amount;
  let rate: string | null = null;
  if (original !== balanceCurrency) {
    // Field 6 (cardholder billing amount) is used when field 51 says it is in the balance currency.
    const billing = text(f, 51) === balanceN3 ? amountMinor(text(f, 6)) : NaN;
    if (billing > 0) {
      converted = billing;
    } else {
      const from = unitsOfProgramCurrency(program, original);
      const to = unitsOfProgramCurrency(program, balanceCurrency);
      if (from === null || to === null) return 'CURRENCY_MISMATCH';
      rate = to === '1' ? from : `${from}/${to}`;
      converted = convert(amount, original, balanceCurrency, from, to);
      if (!(converted > 0)) return 'INVALID_AMOUNT';
    }
  }
  const fee = program.fees[channel];
  const feeMinor = fee.fixed + bpsOf(converted, fee.bps);
  const fxFeeMinor = original === balanceCurrency ? 0 : bpsOf(converted, program.fees.fxBps);
  return { channel, amountMinor: converted, feeMinor, fxFeeMinor, originalAmountMinor: amount, originalCurrency: original, rate };
}

/** Basis points of an amount, rounded down (the cardholder is never charged a fraction up). */
function bpsOf(amount: number, bps: number): number {
  return bps === 0 ? 0 : Number((BigInt(amount) * BigInt(bps)) / 10_000n);
}

/** Program currency units bought by one unit of `currency` (decimal string), or null when no rate is configured. */
function unitsOfProgramCurrency(program: Program, currency: string): string | null {
  return currency === program.currency ? '1' : program.fxRates[currency] ?? null;
}

/** A decimal string as an exact fraction. */
function fraction(rate: string): [bigint, bigint] {
  const [int = '0', frac = ''] = rate.split('.');
  return [BigInt(int + frac), 10n ** BigInt(frac.length)];
}

/**
 * `amount` minor units of `from` in minor units of `to`, through the program currency: one unit of
 * `from` buys `fromRate` program units, one unit of `to` buys `toRate` (both decimal strings; a
 * balance in the program currency has rate 1, another balance currency is converted across the
 * two rates). Rounded half up; integer arithmetic only.
 */
export function convert(amount: number, from: string, to: string, fromRate: string, toRate = '1'): number {
  const [fn, fd] = fraction(fromRate);
  const [tn, td] = fraction(toRate);
  if (tn === 0n) return NaN;
  const num = fn * td * 10n ** BigInt(currencyExponent(to) ?? 2);
  const den = fd * tn * 10n ** BigInt(currencyExponent(from) ?? 2);
  return Number((BigInt(amount) * num * 2n + den) / (2n * den));
}

/** The per-transaction limit (card and program, the lower wins), or null. */
export function perTransactionLimit(card: CardRecord, program: Program): number | null {
  return lower(card.limits.perTransaction, program.limits.perTransaction);
}

/**
 * The daily limits of this debit (card and program, the lower wins) as velocity counters for the
 * ledger to check and count inside the hold, or undefined when none are set: `limits.daily`
 * (dailyAmount and dailyCount, every debit) and `limits.atmDaily` (atmDailyAmount, cash only), DAY
 * counters of the UTC day of nowMs, always enforced. The message's scope is CASH for an ATM
 * withdrawal (processing code 01), else PURCHASE. A spend control's VELOCITY limits join the
 * same list (the ledger checks amount limits first, then count limits).
 */
export function dailyLimits(card: CardRecord, program: Program, channel: Channel, nowMs: number): VelocityCounters | undefined {
  const amountMinor = lower(card.limits.dailyAmount, program.limits.dailyAmount);
  const count = lower(card.limits.dailyCount, program.limits.dailyCount);
  const atmAmountMinor = lower(card.limits.atmDailyAmount, program.limits.atmDailyAmount);
  if (amountMinor === null && count === null && atmAmountMinor === null) return undefined;
  const period = utcDay(nowMs);
  const counters: VelocityCounter[] = [];
  if (amountMinor !== null || count !== null) {
    counters.push({ controlId: DAILY_LIMIT_ID, window: 'DAY', period, scope: 'ALL', amountMinor, count, enforced: true });
  }
  if (atmAmountMinor !== null) {
    counters.push({ controlId: ATM_DAILY_LIMIT_ID, window: 'DAY', period, scope: 'CASH', amountMinor: atmAmountMinor, count: null, enforced: true });
  }
  return { cardId: card.id, scope: channel === 'ATM' ? 'CASH' : 'PURCHASE', counters };
}

/** The counter ids of the daily limits (their usage fields a:<id>, n:<id> in the card's DAY usage hash). */
export const DAILY_LIMIT_ID = 'limits.daily';
export const ATM_DAILY_LIMIT_ID = 'limits.atmDaily';

function lower(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}

let dayCacheMs = -1;
let dayCache = '';
/** counterPeriod('DAY', nowMs), computed once per day. */
function utcDay(nowMs: number): string {
  const dayMs = nowMs - (nowMs % 86_400_000);
  if (dayMs !== dayCacheMs) {
    dayCacheMs = dayMs;
    dayCache = counterPeriod('DAY', dayMs);
  }
  return dayCache;
}

/**
 * What a partial approval of a purchase priced by `priced` takes when `coverableMinor` (the
 * balance's currency) is all the funds cover: the price of the largest amount whose price (the
 * amount, the channel's fee on it and, in another currency, the FX fee) fits. In the balance's own
 * currency that amount is field 4's; in another (`balanceCurrency` differs from field 49's) it is
 * the largest amount in field 49's currency whose conversion, by the same rate as the amount asked
 * for (the program's rate table, or field 6 over field 4 when the network converted), fits, and
 * `originalAmountMinor` is that amount. Null when not one minor unit fits, or the whole does.
 */
export function partialPrice(program: Program, priced: Priced, balanceCurrency: string, coverableMinor: number): Priced | null {
  const fee = program.fees[priced.channel];
  const foreign = priced.originalCurrency !== balanceCurrency;
  const bps = fee.bps + (foreign ? program.fees.fxBps : 0);
  const room = coverableMinor - fee.fixed;
  if (room < 1) return null;
  const cost = (a: number): number => a + bpsOf(a, fee.bps) + (foreign ? bpsOf(a, program.fees.fxBps) : 0);
  // cost(a) ≤ room: start from the real solution and step to the largest integer one (the fees
  // are rounded down, so it may lie a little above).
  // Below the amount asked; in another currency an amount below it may convert to the same.
  const ceiling = foreign ? priced.amountMinor : priced.amountMinor - 1;
  let a = Math.min(ceiling, Math.floor((room * 10_000) / (10_000 + bps)));
  while (a < ceiling && cost(a + 1) <= room) a++;
  while (a > 0 && cost(a) > room) a--;
  if (a < 1) return null;
  if (!foreign) return { ...priced, amountMinor: a, feeMinor: fee.fixed + bpsOf(a, fee.bps), fxFeeMinor: 0 };
  // The largest amount in field 49's currency whose conversion is at most `a` (conversion only
  // goes up with the amount): from the proportion of the amount asked, stepped to the exact one.
  const converted = conversionOf(priced, balanceCurrency);
  let t = Math.min(priced.originalAmountMinor - 1, Math.floor((a * priced.originalAmountMinor) / priced.amountMinor));
  while (t + 1 < priced.originalAmountMinor && converted(t + 1) <= a) t++;
  while (t > 0 && converted(t) > a) t--;
  const held = t < 1 ? 0 : converted(t);
  if (held < 1) return null;
  return { ...priced, amountMinor: held, feeMinor: fee.fixed + bpsOf(held, fee.bps), fxFeeMinor: bpsOf(held, program.fees.fxBps), originalAmountMinor: t };
}

/**
 * The conversion `priced` was made with, for other amounts of field 49's currency: its rate
 * (`from` or `from/to`, see Priced.rate) through `convert`, or, when the network converted (field
 * 6, no rate), the same proportion of field 6 to field 4, rounded half up.
 */
function conversionOf(priced: Priced, balanceCurrency: string): (amountMinor: number) => number {
  if (priced.rate === null) {
    const num = BigInt(priced.amountMinor);
    const den = BigInt(priced.originalAmountMinor);
    return (x) => Number((BigInt(x) * num * 2n + den) / (2n * den));
  }
  const [from, to = '1'] = priced.rate.split('/');
  return (x) => convert(x, priced.originalCurrency, balanceCurrency, from!, to);
}

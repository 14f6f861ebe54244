// Formatting for the dashboard: pure functions from the switch's numbers to text.

/** Digits after the decimal point of a currency (ISO 4217 via Intl); 2 when Intl does not know it. */
const fractionDigitsCache = new Map();

/**
 * @param {string} currency alpha-3 code
 * @returns {number}
 */
export function fractionDigits(currency) {
  let d = fractionDigitsCache.get(currency);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    fractionDigitsCache.set(currency, d);
  }
  return d;
}

/**
 * An amount in minor units with its currency: `25.00 EUR`. Without a currency, the minor units.
 * @param {number} minor
 * @param {string | null} currency
 * @returns {string}
 */
export function money(minor, currency) {
  if (currency === null || currency === undefined || currency === '') return `${minor} (minor)`;
  const digits = fractionDigits(currency);
  const major = minor / 10 ** digits;
  return `${major.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${currency}`;
}

/**
 * Local wall-clock time with milliseconds: `14:03:07.125`.
 * @param {number} timeMs
 * @returns {string}
 */
export function clock(timeMs) {
  const t = new Date(timeMs);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}.${String(t.getMilliseconds()).padStart(3, '0')}`;
}

/**
 * Seconds as milliseconds for a tile: `1.25 ms`; `—` when unknown.
 * @param {number | null} seconds
 * @returns {string}
 */
export function millis(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const ms = seconds * 1000;
  return `${ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)} ms`;
}

/**
 * A count or rate for a tile; `—` when the switch has no such number.
 * @param {number | null} n
 * @param {number} [digits]
 * @returns {string}
 */
export function count(n, digits = 0) {
  if (n === null || n === undefined) return '—';
  return n.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Reasons that are not declines: left out of the decline bar list. */
export const NOT_DECLINED = new Set(['APPROVED', 'ACCOUNT_VERIFIED']);

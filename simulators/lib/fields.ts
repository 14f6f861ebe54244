// Field-level helpers shared by the one-message tool and the scheme simulator: the defaults a
// processor fills in (times, field 43's layout, amounts from decimals; iso/acquirer.ts), the fields
// that name an original (90, 95), and how an answer is shown (field names from the dialect table, field 39 with
// the reasons of iso/reasons.ts, field 54 decoded, the PAN masked).
import { currencyAlpha, currencyExponent } from '../../iso/currency.js';
import { maskPan } from '../../iso/mask.js';
import type { IsoDialect } from '../../iso/dialect.js';
import type { IsoFields } from '../../iso/codec.js';
import { localTime, reasonsFor, transmissionTime } from '../../iso/acquirer.js';

// The acquirer-side builders live in the product (iso/acquirer.ts), where the management API's
// sandbox uses them too; the tools import them from here as before.
export { localTime, merchantNameLocation, originalDataElements, reasonsFor, replacementAmounts, transmissionTime, type OriginalRef } from '../../iso/acquirer.js';

/** Who accepts the card: acquirer (field 32), terminal (41), merchant id (42) and field 43. */
export interface Acceptor { acquirer: string; terminal: string; merchantId: string; nameLocation: string }

/**
 * The fields of a request about `pan` as a processor fills them in: times now (7, 12, 13), the
 * STAN and RRN given, processing code `proc` + "0000", MCC 5411, chip entry, the acceptor, EUR;
 * field 4 unless `amountMinor` is null. Sorted by field number.
 */
export function requestFields(pan: string, proc: string, amountMinor: number | null, stan: string, rrn: string, a: Acceptor, now = new Date()): IsoFields {
  const local = localTime(now);
  const f: IsoFields = new Map<number, string | Buffer>([
    [2, pan], [3, proc + '0000'], [7, transmissionTime(now)], [11, stan], [12, local[12]], [13, local[13]],
    [18, '5411'], [22, '051'], [32, a.acquirer], [37, rrn], [41, a.terminal], [42, a.merchantId], [43, a.nameLocation], [49, '978'],
  ]);
  if (amountMinor !== null) f.set(4, String(amountMinor).padStart(12, '0'));
  return new Map([...f].sort((x, y) => x[0] - y[0]));
}

/**
 * Field 48 with subelement 61 (POS extended conditions, 5 positions) saying the terminal accepts
 * a partial approval (position 1 `1`; the others 0), after the subelements `f48` already has
 * (docs/wire-format.md "Card data fields").
 */
export function withPartialApproval(f48 = ''): string {
  return f48 + '6105' + '10000';
}

/**
 * A decimal amount ("12.34") in minor units of a currency with `exponent` decimals, or an error
 * sentence. More decimals than the currency has, or more than n12 can carry, is an error.
 */
export function minorUnits(decimal: string, exponent: number): number | string {
  const m = /^(\d{1,12})(?:\.(\d+))?$/.exec(decimal);
  if (m === null) return `amount "${decimal}" is not a decimal number such as 12.34`;
  const frac = m[2] ?? '';
  if (frac.length > exponent) return `amount "${decimal}" has more than the currency's ${exponent} decimals`;
  const minor = Number((m[1] ?? '0') + frac.padEnd(exponent, '0'));
  if (!Number.isSafeInteger(minor) || minor > 999_999_999_999) return `amount "${decimal}" is more than field 4 (n12) can carry`;
  return minor;
}

/** Minor units of a numeric ISO 4217 currency as a decimal string ("1234", "978" → "12.34"). */
export function decimalOf(minor: bigint | number, numericCurrency: string): string {
  const alpha = currencyAlpha(numericCurrency);
  const exponent = alpha === undefined ? 2 : (currencyExponent(alpha) ?? 2);
  const n = BigInt(minor);
  const sign = n < 0n ? '-' : '';
  const digits = (n < 0n ? -n : n).toString().padStart(exponent + 1, '0');
  return exponent === 0 ? sign + digits : `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** One field 54 entry decoded. */
export interface BalanceEntry { accountType: string; amountType: 'ledger' | 'available' | string; currency: string; minor: bigint }

/** Field 54's 20-character entries, or null when it is not made of them. */
export function decodeAdditionalAmounts(f54: string): BalanceEntry[] | null {
  if (f54.length === 0 || f54.length % 20 !== 0) return null;
  const out: BalanceEntry[] = [];
  for (let i = 0; i < f54.length; i += 20) {
    const m = /^(\d{2})(\d{2})(\d{3})([CD])(\d{12})$/.exec(f54.slice(i, i + 20));
    if (m === null) return null;
    const type = m[2] === '01' ? 'ledger' : m[2] === '02' ? 'available' : `type ${m[2]}`;
    const minor = BigInt(m[5] as string) * (m[4] === 'D' ? -1n : 1n);
    out.push({ accountType: m[1] as string, amountType: type, currency: m[3] as string, minor });
  }
  return out;
}

/** Field 54 for a human: "ledger 100.00 EUR, available 75.00 EUR". */
export function describeAdditionalAmounts(f54: string): string {
  const entries = decodeAdditionalAmounts(f54);
  if (entries === null) return 'not in the 20-character entry format';
  // Amount type 57 is the amount asked for, in the answer to a partial approval (docs/messages.md).
  return entries.map((e) => `${e.amountType === 'type 57' ? 'asked (type 57)' : e.amountType} ${decimalOf(e.minor, e.currency)} ${currencyAlpha(e.currency) ?? e.currency}`).join(', ');
}

/**
 * The lines that show a message field by field: number, ISO name, value. PAN fields are masked,
 * secret fields withheld, binary fields in hex; 39 gets its reasons, 54 and 90 are decoded.
 */
export function describeFields(dialect: IsoDialect, fields: IsoFields): string[] {
  const lines: string[] = [];
  for (const [n, value] of [...fields].sort((a, b) => a[0] - b[0])) {
    const spec = dialect.fields[n];
    const name = spec?.description ?? 'undefined in this dialect';
    let shown = typeof value === 'string' ? value : value.toString('hex');
    if (spec?.sensitivity === 'pan') shown = maskPan(shown);
    else if (spec?.sensitivity === 'secret') shown = `[${value.length} bytes withheld]`;
    let note = '';
    if (n === 39 && typeof value === 'string') note = reasonsFor(value, dialect.name).join(' | ') || 'no reason of the switch has this code';
    if (n === 54 && typeof value === 'string') note = describeAdditionalAmounts(value);
    if (n === 90 && typeof value === 'string' && value.length === 42) {
      note = `original ${value.slice(0, 4)}, STAN ${value.slice(4, 10)}, field 7 ${value.slice(10, 20)}, acquirer ${value.slice(20, 31)}`;
    }
    if (n === 95 && typeof value === 'string') note = `final amount ${value.slice(0, 12)}`;
    lines.push(`${String(n).padStart(3)}  ${name.padEnd(44)}  ${shown}${note ? `   (${note})` : ''}`);
  }
  return lines;
}

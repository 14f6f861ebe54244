// ISO 4217: alpha-3 ↔ numeric and minor-unit exponent for the currencies the switch is configured
// with. A currency outside this table is rejected at configuration time, not on the hot path.

interface CurrencyRow { readonly alpha: string; readonly numeric: string; readonly exponent: number }

const ROWS: readonly CurrencyRow[] = [
  { alpha: 'EUR', numeric: '978', exponent: 2 }, { alpha: 'USD', numeric: '840', exponent: 2 },
  { alpha: 'GBP', numeric: '826', exponent: 2 }, { alpha: 'PLN', numeric: '985', exponent: 2 },
  { alpha: 'CHF', numeric: '756', exponent: 2 }, { alpha: 'CZK', numeric: '203', exponent: 2 },
  { alpha: 'SEK', numeric: '752', exponent: 2 }, { alpha: 'NOK', numeric: '578', exponent: 2 },
  { alpha: 'DKK', numeric: '208', exponent: 2 }, { alpha: 'HUF', numeric: '348', exponent: 2 },
  { alpha: 'RON', numeric: '946', exponent: 2 }, { alpha: 'JPY', numeric: '392', exponent: 0 },
  { alpha: 'CAD', numeric: '124', exponent: 2 }, { alpha: 'AUD', numeric: '036', exponent: 2 },
  { alpha: 'UAH', numeric: '980', exponent: 2 }, { alpha: 'TRY', numeric: '949', exponent: 2 },
  { alpha: 'KWD', numeric: '414', exponent: 3 }, { alpha: 'BHD', numeric: '048', exponent: 3 },
];

const BY_ALPHA = new Map(ROWS.map((r) => [r.alpha, r]));
const BY_NUMERIC = new Map(ROWS.map((r) => [r.numeric, r]));

export function currencyNumeric(alpha: string): string | undefined { return BY_ALPHA.get(alpha)?.numeric; }
export function currencyAlpha(numeric: string): string | undefined { return BY_NUMERIC.get(numeric)?.alpha; }
export function currencyExponent(alpha: string): number | undefined { return BY_ALPHA.get(alpha)?.exponent; }
export function isKnownCurrency(alpha: string): boolean { return BY_ALPHA.has(alpha); }

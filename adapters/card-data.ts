// Card data must never reach the outbox: its entries are stored in Redis in clear for as long as
// a partner takes to answer (hours, for an unbounded force-credit), and are shown by the
// management API. Callers pass the last four digits of a card only, as the seed's transaction
// objects do (`lastFourDigits`). This guard is the last line: a body holding what looks like a PAN
// or a field named like card data is refused before anything is written.

/**
 * A run of 13-19 digits, optionally grouped by single spaces or hyphens ("5557 7012 3456 1234"),
 * not touching another digit. Compiled once.
 */
const PAN_CANDIDATE = /(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)/g;
/** Object keys that name full card data. Matched case-insensitively on the whole key. */
const CARD_DATA_KEY = /^(?:pan|cardno|cardnumber|card_number|cvv|cvv2|cvc|cvc2|track1|track2|pinblock)$/i;

/** Luhn (mod 10) check of a string of digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/**
 * UUIDs (8-4-4-4-12 hex) are read past: the ids of every partner call are UUIDs, and one whose
 * first groups happen to be all digits would otherwise look like a hyphen-grouped PAN.
 */
const UUID_ANYWHERE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Whether `text` holds a 13-19 digit run (plain or grouped by spaces/hyphens) that passes Luhn. */
export function containsPan(text: string): boolean {
  for (const m of text.replace(UUID_ANYWHERE, '#').matchAll(PAN_CANDIDATE)) {
    const digits = m[0].replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhnValid(digits)) return true;
  }
  return false;
}

/**
 * The first object key (depth-first) that names full card data (pan, cardNo, cvv, track2, ...),
 * or null. Depth is bounded by JSON.parse's own limits; bodies are small (see MAX_BODY_BYTES).
 */
export function cardDataKey(value: unknown): string | null {
  if (Array.isArray(value)) {
    for (const v of value) { const k = cardDataKey(v); if (k !== null) return k; }
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  for (const [k, v] of Object.entries(value)) {
    if (CARD_DATA_KEY.test(k)) return k;
    const inner = cardDataKey(v);
    if (inner !== null) return inner;
  }
  return null;
}

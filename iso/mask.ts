// What of a message may be logged. A PAN shows its BIN (first 6) and last 4 digits, which is what
// PCI DSS allows on screens and in logs; track data, PIN blocks and the like never appear at all.

import type { IsoFields } from './codec.js';
import type { IsoDialect } from './dialect.js';

const SHOWN_HEAD = 6;
const SHOWN_TAIL = 4;
// Below this length first-6 + last-4 would reveal (nearly) everything, so nothing is shown.
const MIN_MASKABLE_LENGTH = 13;

/** `5557701234561234` → `555770******1234`; a PAN shorter than 13 characters becomes all `*`. */
export function maskPan(pan: string): string {
  if (pan.length < MIN_MASKABLE_LENGTH) return '*'.repeat(pan.length);
  return pan.slice(0, SHOWN_HEAD) + '*'.repeat(pan.length - SHOWN_HEAD - SHOWN_TAIL) + pan.slice(-SHOWN_TAIL);
}

/**
 * Free text (a URL path, an error message) with every run of 13 or more digits, which may be or
 * hold a PAN, masked to its first 6 and last 4 digits; also when the digits are grouped by single
 * spaces or dashes (`5557 7012 3456 1234` → `555770******1234`). Shorter numbers stay.
 */
export function maskPansIn(text: string): string {
  return text.replace(PAN_LIKE, (run) => maskPan(run.replace(/[ -]/g, '')));
}
/** 13 or more digits, possibly grouped by single spaces or dashes. */
const PAN_LIKE = /\d(?:[ -]?\d){12,}/g;

/**
 * A plain object of the fields that is safe to log: PAN fields masked, secret fields (track data,
 * PIN block) replaced by their length, binary fields as hex. Meant for debug logs, not the hot path.
 */
export function loggableFields(dialect: IsoDialect, fields: IsoFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, value] of fields) {
    const sensitivity = dialect.fields[field]?.sensitivity;
    if (sensitivity === 'secret') out[field] = `[${value.length} bytes withheld]`;
    else if (typeof value !== 'string') out[field] = value.toString('hex');
    else out[field] = sensitivity === 'pan' ? maskPan(value) : value;
  }
  return out;
}

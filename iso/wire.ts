// Small, allocation-light readers for wire fields the deciding code needs.
import type { IsoFields } from './codec.js';

export function text(f: IsoFields, n: number): string | undefined {
  const v = f.get(n);
  return typeof v === 'string' ? v : undefined;
}

/** An n12 amount to an integer of minor units; NaN when absent or not digits (the codec checks digits). */
export function amountMinor(s: string | undefined): number {
  if (s === undefined || s.length === 0) return NaN;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : NaN;
}

/** Acquirer ids appear as LLVAR in field 32 and as n11 inside field 90: compare them as n11. */
export function acquirer11(s: string | undefined): string {
  return (s ?? '').padStart(11, '0');
}

/**
 * The transaction id: derived from the wire so that the request, its repeats, its reversal
 * (field 90) and its clearing name the same transaction without an index lookup:
 * card id, MTI class (first three digits: 010 authorization, 012 advice, 020 financial …),
 * transmission date/time (field 7), STAN (field 11), acquirer id (field 32, as n11) and terminal
 * id (field 41). Two messages that differ in any of these are different transactions (SPEC §2.3);
 * a reversal or clearing names its original through field 90's MTI, STAN, date/time and acquirer,
 * with its own field 41.
 */
export function transactionId(cardId: string, mti: string, f7: string, stan: string, acquirer: string, terminal: string | undefined): string {
  return `${cardId}.${mtiClass(mti)}.${f7}.${stan}.${acquirer11(acquirer)}.${terminalPart(terminal)}`;
}

/**
 * The transaction id of a message itself (its MTI, fields 7, 11, 32 and, unless `withTerminal`
 * is false, 41), or null when field 7 or 11 is absent.
 */
export function ownTransactionId(cardId: string, mti: string, f: IsoFields, withTerminal = true): string | null {
  const f7 = text(f, 7);
  const stan = text(f, 11);
  if (f7 === undefined || stan === undefined) return null;
  return transactionId(cardId, mti, f7, stan, text(f, 32) ?? '', withTerminal ? text(f, 41) : undefined);
}

/** The transaction id field 90 names (its MTI, STAN, date/time and acquirer) with this message's field 41, or null. */
export function namedTransactionId(cardId: string, f: IsoFields): string | null {
  const od = originalData(text(f, 90));
  return od === null ? null : transactionId(cardId, od.mti, od.f7, od.stan, od.acquirer, text(f, 41));
}

/**
 * The message class of an MTI: its first three digits (0100 and its repeat 0101 are both `010`).
 * Duplicate keys, transaction ids and the repeat table are keyed by it.
 */
export function mtiClass(mti: string): string {
  return mti.slice(0, 3);
}

const PLAIN_TERMINAL = /^[A-Za-z0-9 ]*$/;

/** Field 41 as a part of an id: as sent when it is plain letters and digits, else hex (ids reserve '|', '>', ';'). */
function terminalPart(f41: string | undefined): string {
  if (f41 === undefined) return '';
  const t = f41.trimEnd();
  return PLAIN_TERMINAL.test(t) ? t.replace(/ /g, '_') : 'x' + Buffer.from(t, 'latin1').toString('hex');
}

/** Field 90: original MTI n4, STAN n6, transmission date/time n10, acquirer n11, forwarder n11. */
export interface OriginalData { mti: string; stan: string; f7: string; acquirer: string }

export function originalData(f90: string | undefined): OriginalData | null {
  if (f90 === undefined || f90.length < 31) return null;
  const od = { mti: f90.slice(0, 4), stan: f90.slice(4, 10), f7: f90.slice(10, 20), acquirer: f90.slice(20, 31) };
  if (od.mti === '0000' && od.stan === '000000') return null;
  return od;
}

const CODE_ALPHABET = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';

/** A 6-character authorization id (field 38), a pure function of the transaction id, so a repeat gets the same one. */
export function authorizationId(txId: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < txId.length; i++) { h ^= txId.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0; }
  let out = '';
  // 34^6 < 2^32: six digits of the 32-bit hash in base 34.
  for (let i = 0; i < 6; i++) { out += CODE_ALPHABET[h % 34]; h = Math.floor(h / 34); }
  return out;
}

/**
 * Field 54 of an answer that knows the user balance (SPEC §2.2 order): the ledger balance
 * (available + blocked, amount type 01), then the available balance (02), in `currencyN3`.
 */
export function balancesField54(currencyN3: string, availableMinor: number, blockedMinor: number): string {
  return balanceEntry('01', currencyN3, availableMinor + blockedMinor) + balanceEntry('02', currencyN3, availableMinor);
}

/**
 * One field-54 entry: account type 00, amount type (01 ledger balance, 02 available balance, 57
 * original amount: what a partially approved purchase asked for), currency n3, C/D, n12.
 */
export function balanceEntry(amountType: '01' | '02' | '57', currencyN3: string, amount: number): string {
  const sign = amount < 0 ? 'D' : 'C';
  return '00' + amountType + currencyN3 + sign + String(Math.abs(amount)).padStart(12, '0');
}

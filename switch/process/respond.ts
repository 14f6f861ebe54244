// Building answers: the response MTI, the echoed fields of SPEC §2.2 and the one response code.
import type { IsoFields, IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import { responseCode, type Reason } from '../reasons.js';
import { authorizationId, balanceEntry } from './wire.js';

/** Fields every response echoes when the request had them (SPEC §2.2). */
export const ECHO_FIELDS: readonly number[] = [2, 3, 4, 7, 11, 32, 37, 41, 42, 49];
/** Network management answers echo only these (SPEC §2.2, 0800 row). */
export const NETWORK_ECHO_FIELDS: readonly number[] = [7, 11, 70];

/** 0100 → 0110, 0101 → 0110 (a repeat is answered as the original), 0800 → 0810. */
export function responseMti(mti: string): string | null {
  if (mti.length !== 4) return null;
  const fn = mti.charCodeAt(2) - 48;
  if (fn < 0 || fn > 8 || fn % 2 !== 0) return null; // only requests/advices/notifications get answers
  return mti.slice(0, 2) + String(fn + 1) + '0';
}

export function answer(request: IsoFields, mti: string, echo: readonly number[], code: string): IsoMessage {
  const fields: IsoFields = new Map();
  for (const f of echo) {
    const v = request.get(f);
    if (v !== undefined) fields.set(f, v);
  }
  fields.set(39, code);
  return { mti, fields };
}

export function decline(ctx: ProcessContext, m: Inbound, mti: string, reason: Reason): IsoMessage {
  m.o.reason = reason;
  m.o.processing = reason === 'APPROVED' ? 'SUCCESS' : reason === 'FORMAT_ERROR' || reason === 'UNKNOWN_TRANSACTION_TYPE' ? 'INVALID' : 'DECLINED';
  return answer(m.fields, mti, ECHO_FIELDS, responseCode(reason, ctx.dialect));
}

/**
 * Advices report what already happened: always answered 00 (SPEC §2.4). `invalid` names why one
 * could not be posted (it is recorded INVALID with that reason, and still answered 00).
 */
export function acknowledge(ctx: ProcessContext, m: Inbound, mti: string, invalid?: Reason): IsoMessage {
  if (invalid !== undefined) { m.o.reason = invalid; m.o.processing = 'INVALID'; }
  return answer(m.fields, mti, ECHO_FIELDS, responseCode('APPROVED', ctx.dialect));
}

/** The balance after a decision, for field 54: ledger (available + blocked) and available. */
export interface BalanceAfter { currencyN3: string; availableMinor: number; blockedMinor: number }

/**
 * The answer to a request the ledger decided: 39 from the reason; on approval 38 (a function of
 * the transaction id, so a repeat gets the same one); 54 whenever the balance is known.
 */
export function decided(ctx: ProcessContext, m: Inbound, mti: string, reason: Reason, txId: string, b: BalanceAfter): IsoMessage {
  const res = decline(ctx, m, mti, reason);
  if (reason === 'APPROVED') res.fields.set(38, authorizationId(txId));
  res.fields.set(54,
    balanceEntry('01', b.currencyN3, b.availableMinor + b.blockedMinor) +
    balanceEntry('02', b.currencyN3, b.availableMinor));
  return res;
}

/** A stand-in approval at the deadline (deadline.ts): 00 and 38, no field 54 (the balance is not known yet). */
export function standInApproval(ctx: ProcessContext, m: Inbound, mti: string, txId: string): IsoMessage {
  const res = decline(ctx, m, mti, 'APPROVED');
  res.fields.set(38, authorizationId(txId));
  return res;
}

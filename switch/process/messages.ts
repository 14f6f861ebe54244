// The message-class table (SPEC §2.2): request MTI → response MTI, what it is a repeat of, what
// kind of message it is, whether it is an advice (never declined), whether it gets a transaction
// record, the status of the transaction it leaves, and its handler. batch.ts routes by it; an MTI
// that is not here is answered 12.
import type { ProcessContext } from './context.js';
import type { Decision, RecordStatus, Request } from './decision.js';
import { authorize } from './authorize.js';
import { financial } from './financial.js';
import { authorizationAdvice, financialAdvice } from './advice.js';
import { reverse } from './reverse.js';
import { networkManagement } from './network.js';

export type MessageKind = 'AUTHORIZATION' | 'AUTHORIZATION_ADVICE' | 'FINANCIAL' | 'FINANCIAL_ADVICE' | 'REVERSAL' | 'REVERSAL_ADVICE' | 'NETWORK';

export type Handler = (ctx: ProcessContext, req: Request) => Promise<Decision>;

export interface MessageClass {
  readonly requestMti: string;
  readonly responseMti: string;
  /** The MTI this one repeats (0101 → 0100), or null for an original. */
  readonly repeatOf: string | null;
  readonly kind: MessageKind;
  /** Reports what already happened: answered 00 whatever the outcome (SPEC §2.4). */
  readonly advice: boolean;
  /** Gets a transaction record and a duplicate-answer entry (network management does not). */
  readonly recorded: boolean;
  /** Status of the transaction an accepted message of this class leaves (before the processing code says otherwise). */
  readonly status: RecordStatus;
  readonly handler: Handler;
}

const classes: MessageClass[] = [];
function add(mti: string, kind: MessageKind, advice: boolean, status: RecordStatus, handler: Handler, repeat: boolean): void {
  const responseMti = mti.slice(0, 2) + String(Number(mti[2]) + 1) + '0';
  const recorded = kind !== 'NETWORK';
  classes.push(Object.freeze({ requestMti: mti, responseMti, repeatOf: null, kind, advice, recorded, status, handler }));
  if (repeat) classes.push(Object.freeze({ requestMti: mti.slice(0, 3) + '1', responseMti, repeatOf: mti, kind, advice, recorded, status, handler }));
}
add('0100', 'AUTHORIZATION', false, 'AUTHORIZED', authorize, true);
add('0120', 'AUTHORIZATION_ADVICE', true, 'AUTHORIZED', authorizationAdvice, true);
add('0200', 'FINANCIAL', false, 'CLEARED', financial, true);
add('0220', 'FINANCIAL_ADVICE', true, 'CLEARED', financialAdvice, true);
add('0400', 'REVERSAL', false, 'REVERSED', reverse, true);
add('0420', 'REVERSAL_ADVICE', true, 'REVERSED', reverse, true);
add('0800', 'NETWORK', false, 'CLEARED', networkManagement, true);

/** Request MTI (repeats included) → its class. */
export const MESSAGE_CLASSES: ReadonlyMap<string, MessageClass> = new Map(classes.map((c) => [c.requestMti, c]));

/**
 * The response MTI of any request MTI, known or not (third digit + 1, last digit 0: 0100 → 0110,
 * 0101 → 0110, 0300 → 0310), or null for an MTI that is itself a response or malformed: those
 * get no answer (SPEC §2.2).
 */
export function responseMti(mti: string | undefined): string | null {
  if (mti === undefined || mti.length !== 4) return null;
  const fn = mti.charCodeAt(2) - 48;
  if (fn < 0 || fn > 8 || fn % 2 !== 0) return null;
  return mti.slice(0, 2) + String(fn + 1) + '0';
}

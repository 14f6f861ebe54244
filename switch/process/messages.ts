// The message-class table (docs/messages.md): request MTI → response MTI, what it is a repeat of,
// what kind of message it is, whether it is an advice (never declined), whether it gets a
// transaction record, the status of the transaction it leaves, and its planner (plan/): a pure
// function of the request and the facts read for it to the message's Plan. batch.ts routes by
// it; an MTI that is not here is answered 12.
import type { MessageClass, MessageKind, RecordStatus, Request } from './decision.js';
import type { Facts, Plan } from './plan/types.js';
import { planAuthorization, planFinancial } from './plan/requests.js';
import { planAuthorizationAdvice, planFinancialAdvice } from './plan/advices.js';
import { planReversal } from './plan/reversals.js';
import { planNetworkManagement } from './plan/network.js';
import { mtiClass } from '../../iso/wire.js';

/** A message class's planner: pure, (request, facts) → plan. */
export type Planner = (req: Request, facts: Facts) => Plan;

/** A row of the table: the message class and its planner. */
export interface MessageRoute extends MessageClass {
  readonly plan: Planner;
}

const classes: MessageRoute[] = [];
function add(mti: string, kind: MessageKind, advice: boolean, status: RecordStatus, plan: Planner, repeat: boolean): void {
  const responseMti = mti.slice(0, 2) + String(Number(mti[2]) + 1) + '0';
  const recorded = kind !== 'NETWORK';
  classes.push(Object.freeze({ requestMti: mti, responseMti, repeatOf: null, kind, advice, recorded, status, plan }));
  if (repeat) classes.push(Object.freeze({ requestMti: mtiClass(mti) + '1', responseMti, repeatOf: mti, kind, advice, recorded, status, plan }));
}
add('0100', 'AUTHORIZATION', false, 'AUTHORIZED', planAuthorization, true);
add('0120', 'AUTHORIZATION_ADVICE', true, 'AUTHORIZED', planAuthorizationAdvice, true);
add('0200', 'FINANCIAL', false, 'CLEARED', planFinancial, true);
add('0220', 'FINANCIAL_ADVICE', true, 'CLEARED', planFinancialAdvice, true);
add('0400', 'REVERSAL', false, 'REVERSED', planReversal, true);
add('0420', 'REVERSAL_ADVICE', true, 'REVERSED', planReversal, true);
add('0800', 'NETWORK', false, 'CLEARED', planNetworkManagement, true);

/** Request MTI (repeats included) → its class. */
export const MESSAGE_CLASSES: ReadonlyMap<string, MessageRoute> = new Map(classes.map((c) => [c.requestMti, c]));

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

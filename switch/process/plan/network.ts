// 0800 network management: sign-on 001, sign-off 002 and echo 301 are answered 00, echoing 7, 11
// and 70 (render.ts); nothing else changes (sessions are not tracked per connection). Any other
// field 70 (a key change 161, an unknown code) or none is answered 12 (2003: 1015): the switch
// never acknowledges something it did not do.
import { decide, type Request } from '../decision.js';
import { text } from '../../../iso/wire.js';
import type { Facts, Plan } from './types.js';

/** Field 70 codes the switch answers 00. */
export const NETWORK_MANAGEMENT_CODES: ReadonlySet<string> = new Set(['001', '002', '301']);

/** The plan of an 0800 (or its repeat 0801): an answer, no effect. */
export function planNetworkManagement(req: Request, _facts: Facts): Plan {
  const f70 = text(req.msg.fields, 70);
  const known = f70 !== undefined && NETWORK_MANAGEMENT_CODES.has(f70);
  return { op: 'ANSWER', decision: decide(req, { reason: known ? 'APPROVED' : 'UNKNOWN_TRANSACTION_TYPE' }) };
}

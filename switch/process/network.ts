// 0800 network management (SPEC §2.2): sign-on 001, sign-off 002, echo 301. Answered 00, echoing
// 7, 11 and 70; nothing else changes (sessions are not tracked per connection).
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import { answer, NETWORK_ECHO_FIELDS } from './respond.js';
import { responseCode } from '../reasons.js';

export function networkManagement(ctx: ProcessContext, m: Inbound, mti: string): IsoMessage {
  return answer(m.fields, mti, NETWORK_ECHO_FIELDS, responseCode('APPROVED', ctx.dialect));
}

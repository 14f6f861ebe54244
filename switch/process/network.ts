// 0800 network management (SPEC §2.2): sign-on 001, sign-off 002, echo 301. Answered 00, echoing
// 7, 11 and 70 (render.ts); nothing else changes (sessions are not tracked per connection).
import type { ProcessContext } from './context.js';
import { decide, type Decision, type Request } from './decision.js';

export function networkManagement(_ctx: ProcessContext, req: Request): Promise<Decision> {
  return Promise.resolve(decide(req, { reason: 'APPROVED' }));
}

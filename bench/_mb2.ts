import { MESSAGE_CLASSES } from '../switch/process/messages.js';
import type { Request } from '../switch/process/decision.js';
import type { CardRecord } from '../stores/cards.js';
import { normalizeProgram } from '../stores/programs.js';
import { processingCodeOf } from '../iso/processing.js';
import { examine } from '../switch/process/plan/checks.js';
import { planAuthorization } from '../switch/process/plan/requests.js';
import * as wire from '../iso/wire.js';
import * as cf from '../cardauth/fields.js';
import { price } from '../switch/process/plan/pricing.js';
const NOW = Date.now();
const DEMO = normalizeProgram({ configId: '0019167984', bin: '555770', currency: 'EUR', mode: 'INTERNAL', depositRequired: true, creditRequired: false, cardholderVerification: 'RELAXED' } as never, 'test');
const card: CardRecord = { id: 'card-1', customerId: 'cust-1', balanceId: 'bal-1', configId: DEMO.configId, currency: 'EUR', expiry: '3012', status: 'ACTIVE',
    lock: 0, kind: 'VIRTUAL', panLast4: '0001', createdAtMs: NOW, pinFailures: 0, cvv2Failures: 0, pvv: null, pvki: null, cvv2Generation: 0,
    serviceCode: null, debitsBlocked: false, limits: { perTransaction: null, dailyAmount: null, dailyCount: null, atmDailyAmount: null }, controls: [] } as never;
const f = new Map<number, string>(Object.entries({ 2: '5557700000000001', 3: '000000', 4: '000000000100', 7: '1207120000', 11: '000123', 12: '101500', 13: '1207', 14: '3012', 18: '5411', 22: '051', 32: '100000', 37: '000000000123', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978' }).map(([k, v]) => [Number(k), v]));
const req: Request = { msg: { mti: '0100', fields: f }, cls: MESSAGE_CLASSES.get('0100')!, pc: processingCodeOf('000000'), takenMs: NOW } as never;
const facts = { card, program: DEMO, depositId: 'dep', companyId: null, nowMs: NOW } as never;
let sink: unknown;
function time(name: string, fn: () => unknown, n = 200_000) {
  for (let i = 0; i < 20000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink = fn();
  console.log(name.padEnd(30), (Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(2), 'µs');
}
let s: unknown;
for (let i = 0; i < 300000; i++) s = examine(req, facts, true);
console.log(typeof s);

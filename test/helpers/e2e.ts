// End-to-end test world shared by test/e2e-codes.test.ts and test/e2e-sequences.test.ts: one switch
// (in this process, real Redis, real sockets) per dialect, with a PROGRAMS_FILE of programs that
// each isolate one feature (limits, fees, FX, deposits, hold expiry), cards seeded through the card
// store and the ledger module, and the processor peer of test/helpers/iso-client.ts (the npm
// package iso_8583), read frame by frame so every answer's raw bytes can be compared (duplicates
// must be answered byte for byte).
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestSwitch, type TestSwitch } from './switch.js';
import { IsoClient, type IsoJson } from './iso-client.js';
import { Ledger } from '../../ledger/index.js';
import { checkLedger, formatReport } from '../../ledger/check.js';
import { CardStore } from '../../stores/cards.js';
import { CustomerStore } from '../../stores/customers.js';
import { IsoCodec } from '../../iso/codec.js';
import { DIALECT_1987, DIALECT_2003 } from '../../iso/dialect.js';
import { frame } from '../../switch/net/framer.js';

export type { IsoJson } from './iso-client.js';
export type DialectName = '1987' | '2003';

/** Card expiry used by every seeded card unless a row says otherwise (YYMM, in the future). */
export const EXP = '3012';
export const F7 = '1125101500';
export const ACQ = '123456';
/** Fields every response echoes when the request carries them (SPEC §2.2). */
export const ECHOED = ['2', '3', '4', '7', '11', '32', '37', '41', '42', '49'] as const;

/**
 * The programs of the PROGRAMS_FILE, each isolating one feature so that a decline has exactly one
 * possible reason. The demo program (0019167984, BIN 555770) is not listed: the switch adds it.
 */
export const PROGRAMS = {
  DEMO: { configId: '0019167984', bin: '555770' },
  LIM_TX: { configId: '0000000011', bin: '55577011', limits: { perTransaction: 5_000 } },
  LIM_DAY: { configId: '0000000012', bin: '55577012', limits: { dailyAmount: 8_000 } },
  LIM_CNT: { configId: '0000000013', bin: '55577013', limits: { dailyCount: 2 } },
  LIM_ATM: { configId: '0000000014', bin: '55577014', limits: { atmDailyAmount: 3_000 } },
  FEES: {
    configId: '0000000015', bin: '55577015',
    fees: { POS: { fixed: 50, bps: 100 }, ECOM: { fixed: 30, bps: 50 }, ATM: { fixed: 200, bps: 200 }, fxBps: 0 },
  },
  FX: { configId: '0000000016', bin: '55577016', fxRates: { PLN: '0.23' }, fees: { fxBps: 100 } },
  FX_NOFEE: { configId: '0000000017', bin: '55577017', fxRates: { PLN: '0.23' }, fees: { fxBps: 0 } },
  DEP_LOW: { configId: '0000000018', bin: '55577018' },
  DEP_REQ: { configId: '0000000019', bin: '55577019', depositRequired: true },
  // Holds with MCC 4121 expire at once (the sweeper releases them); other MCCs after 7 days.
  EXPIRY: { configId: '0000000020', bin: '55577020', holdExpiryDays: 7, holdExpiryDaysByMcc: { '4121': 0 } },
  // Card and cardholder authentication under the default policy (test/cardauth-e2e.test.ts).
  STRICT: { configId: '0000000030', bin: '55577030', cardholderVerification: 'STRICT' },
} as const;
export type ProgramKey = keyof typeof PROGRAMS;

/** Money each partner balance starts with (DEMO and DEP_LOW have a DEPOSIT; FEES a COMPANY balance). */
export const DEMO_DEPOSIT_MINOR = 10_000_000;
export const LOW_DEPOSIT_MINOR = 1_000;

/**
 * Each program isolates a feature other than card authentication, so it verifies the card data a
 * message carries and requires none (RELAXED, as the demo program): the STRICT policy has its own
 * tests (test/cardauth-e2e.test.ts).
 */
function programsJson(): string {
  const list = Object.entries(PROGRAMS)
    .filter(([k]) => k !== 'DEMO')
    .map(([, p]) => ({ currency: 'EUR', mode: 'INTERNAL', cardholderVerification: 'RELAXED', ...p }));
  return JSON.stringify(list, null, 2);
}

export interface World {
  dialect: DialectName;
  s: TestSwitch;
  c: IsoClient;
  ledger: Ledger;
  cards: CardStore;
  customers: CustomerStore;
  /** Our codec for this dialect: packs what iso_8583 refuses (an unknown MTI) and reads such answers. */
  codec: IsoCodec;
  demoDepositId: string;
  lowDepositId: string;
  feesCompanyId: string;
}

/** One switch for the dialect (ISO_DIALECT unset = 1987), programs from a temp PROGRAMS_FILE, partner balances created. */
export async function startWorld(t: Test, dialect: DialectName, env: Record<string, string> = {}): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-e2e-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const programsFile = join(dir, 'programs.json');
  writeFileSync(programsFile, programsJson());
  const s = await startTestSwitch(t, { env: { PROGRAMS_FILE: programsFile, ...(dialect === '2003' ? { ISO_DIALECT: '2003' } : {}), ...env } });
  const ledger = await Ledger.open(s.redis.client);
  const demoDep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: PROGRAMS.DEMO.configId });
  await ledger.reloadPartnerBalance({ id: demoDep.balance.id, amountMinor: DEMO_DEPOSIT_MINOR, idempotencyKey: 'e2e-dep-demo' });
  const lowDep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: PROGRAMS.DEP_LOW.configId });
  await ledger.reloadPartnerBalance({ id: lowDep.balance.id, amountMinor: LOW_DEPOSIT_MINOR, idempotencyKey: 'e2e-dep-low' });
  const company = await ledger.createPartnerBalance({ type: 'COMPANY', currency: 'EUR', configId: PROGRAMS.FEES.configId });
  const n4 = { 39: { ContentType: 'n', Label: 'Response code', LenType: 'fixed', MaxLen: 4 } };
  const c = await IsoClient.connect(s.app.isoPort, dialect === '2003' ? n4 : undefined);
  t.teardown(() => c.close());
  const cards = CardStore.fromSecrets(s.redis.client, s.app.secrets);
  return {
    dialect, s, c, ledger, cards, customers: new CustomerStore(s.redis.client, cards),
    codec: new IsoCodec(dialect === '2003' ? DIALECT_2003 : DIALECT_1987),
    demoDepositId: demoDep.balance.id, lowDepositId: lowDep.balance.id, feesCompanyId: company.balance.id,
  };
}

export interface Card { pan: string; cardId: string; balanceId: string; expiry: string; customerId: string }

export interface CardSetup {
  program?: ProgramKey;
  topUpMinor?: number;
  /** Seed lock code, set through CardStore.lock after the card is stored. */
  lock?: number;
  /** INACTIVE: a physical card not yet activated. */
  status?: 'ACTIVE' | 'INACTIVE';
  expiry?: string;
  /** A customer (KYC SUCCESS) with this transactional lock reason; the card is issued to them. */
  customerLock?: string;
  /** VIRTUAL (default) or PHYSICAL (personalised with service code 201). */
  kind?: 'VIRTUAL' | 'PHYSICAL';
}

/** A card of its own: PAN = program BIN, zeros, n (6 digits), 16 digits; a user balance topped up with topUpMinor. */
export async function newCard(w: World, n: number, o: CardSetup = {}): Promise<Card> {
  const prog = PROGRAMS[o.program ?? 'DEMO'];
  let customerId = 'cust-' + prog.bin + '-' + n;
  if (o.customerLock !== undefined) customerId = (await w.customers.create({ kyc: 'SUCCESS' })).id;
  const bal = await w.ledger.createUserBalance({ customerId, currency: 'EUR', configId: prog.configId });
  const topUp = o.topUpMinor ?? 10_000;
  if (topUp > 0) {
    const r = await w.ledger.post({ type: 'TOPUP', idempotencyKey: 'seed-' + bal.id, txId: 'seed-' + bal.id, balanceId: bal.id, amountMinor: topUp, partnerId: null });
    if (!r.ok) throw new Error('top-up failed: ' + r.reason);
  }
  let card: Card;
  if (o.customerLock !== undefined) {
    const program = w.s.app.programs.byId(prog.configId);
    if (program === undefined) throw new Error('program missing: ' + prog.configId);
    const issued = await w.cards.issue({ customerId, balanceId: bal.id, currency: 'EUR', kind: 'VIRTUAL', program });
    await w.customers.addLock(customerId, o.customerLock);
    card = { pan: issued.pan, cardId: issued.card.id, balanceId: bal.id, expiry: issued.card.expiry, customerId };
  } else {
    const pan = prog.bin.padEnd(10, '0') + String(n).padStart(6, '0');
    const cardId = 'card-' + prog.bin + '-' + n;
    const expiry = o.expiry ?? EXP;
    await w.cards.put(pan, { id: cardId, customerId, balanceId: bal.id, configId: prog.configId, currency: 'EUR', expiry, status: o.status ?? 'ACTIVE', lock: 0, kind: o.kind ?? 'VIRTUAL' });
    card = { pan, cardId, balanceId: bal.id, expiry, customerId };
  }
  if (o.lock !== undefined && o.lock !== 0) await w.cards.lock(card.cardId, o.lock);
  return card;
}

/** A PAN that no card has (demo BIN). */
export const UNKNOWN_CARD: Card = { pan: '5557709999999999', cardId: 'none', balanceId: 'none', expiry: EXP, customerId: 'none' };

/** A request about `card`: processing code `proc` (2 digits), amount in minor units, fields overridden by `over` (undefined removes one). */
export function msg(mti: string, card: Card, stan: string, proc: string, amountMinor: number, over: Record<string, string | undefined> = {}): IsoJson {
  const m: Record<string, string | undefined> = {
    0: mti, 2: card.pan, 3: proc + '0000', 4: String(amountMinor).padStart(12, '0'), 7: F7, 11: stan,
    12: '101500', 13: '1125', 14: card.expiry, 18: '5411', 22: '051', 32: ACQ, 37: 'RRN' + stan + '000', 41: 'TERM0001',
    42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(23) + 'WARSAW'.padEnd(14) + 'POL', 49: '978', ...over,
  };
  for (const k of Object.keys(m)) if (m[k] === undefined) delete m[k];
  return m as IsoJson;
}

/** Field 90 naming `orig` (original MTI, STAN, field 7, acquirer n11, forwarder n11). */
export function f90(orig: IsoJson): string {
  return (orig['0'] ?? '0100') + orig['11'] + orig['7'] + (orig['32'] ?? '').padStart(11, '0') + '0'.repeat(11);
}

/** Field 95 of a partial reversal to a new final amount. */
export function f95(newAmountMinor: number): string {
  return String(newAmountMinor).padStart(12, '0') + '0'.repeat(30);
}

/** MTI class of the request a message is or answers (0110 → 010): the transaction id's second part. */
function requestClass(mti: string): string {
  return mti.slice(0, 2) + String(Number(mti[2]) & ~1);
}

/** The switch's transaction id of a request (docs/messages.md: card id, MTI class, field 7, STAN, acquirer n11, field 41). */
export function txIdOf(card: Card, m: IsoJson): string {
  return `${card.cardId}.${requestClass(String(m['0'] ?? '0100'))}.${m['7']}.${m['11']}.${(m['32'] ?? '').padStart(11, '0')}.${String(m['41'] ?? '').trimEnd().replace(/ /g, '_')}`;
}

/** Field 54 as the switch sets it: 01 ledger and 02 available, EUR. */
export function field54(ledgerMinor: number, availableMinor: number): string {
  const e = (type: string, n: number) => '00' + type + '978' + (n < 0 ? 'D' : 'C') + String(Math.abs(n)).padStart(12, '0');
  return e('01', ledgerMinor) + e('02', availableMinor);
}

/** SPEC §2.2 field 54 shape: one or more 20-character entries. */
export const FIELD54_FORMAT = /^(?:00(?:01|02)\d{3}[CD]\d{12})+$/;

export async function balance(w: World, card: Card): Promise<[number, number] | null> {
  const b = await w.ledger.getUserBalance(card.balanceId);
  return b === null ? null : [b.availableMinor, b.blockedMinor];
}

export interface Answer { res: IsoJson; raw: Buffer }

/**
 * Sends one request (fields packed by iso_8583, or bytes already framed) and returns the next
 * answer: its raw body and its fields. Requests are sent one at a time, so the next frame is
 * this request's answer; the STAN is checked when both sides carry one.
 */
export async function send(w: World, req: IsoJson | Buffer): Promise<Answer> {
  const bytes = Buffer.isBuffer(req) ? req : w.c.pack(req);
  w.c.frames.splice(0);
  w.c.writeRaw(bytes);
  const raw = await w.c.nextFrame(10_000);
  const res = decode(w, raw);
  if (!Buffer.isBuffer(req) && req['11'] !== undefined && res['11'] !== undefined && res['11'] !== req['11']) {
    throw new Error(`answer for STAN ${res['11']} while waiting for ${req['11']}`);
  }
  return { res, raw };
}

/** Decodes an answer with iso_8583; what it cannot read (a response to an unknown MTI) with our codec. */
export function decode(w: World, raw: Buffer): IsoJson {
  try {
    const m = w.c.unpack(raw) as IsoJson | { error?: string };
    if (typeof m === 'object' && m !== null && typeof (m as IsoJson)['0'] === 'string') return m as IsoJson;
  } catch { /* fall through */ }
  const r = w.codec.unpack(raw);
  if (!r.ok) throw new Error('answer does not decode: ' + JSON.stringify(r.errors));
  const out: IsoJson = { 0: r.msg.mti };
  for (const [k, v] of r.msg.fields) out[String(k)] = typeof v === 'string' ? v : v.toString('hex');
  return out;
}

/** Packs with our codec (iso_8583 refuses some MTIs), framed. */
export function packOwn(w: World, mti: string, fields: Record<number, string>): Buffer {
  return frame(w.codec.pack({ mti, fields: new Map(Object.entries(fields).map(([k, v]) => [Number(k), v])) }));
}

/** The SPEC §2.2 echo rule: every field of ECHOED that the request carries comes back unchanged. */
export function assertEchoed(t: Test, req: IsoJson, res: IsoJson, fields: readonly string[] = ECHOED): void {
  for (const f of fields) if (req[f] !== undefined) t.equal(res[f], req[f], `field ${f} echoed`);
}

/** Runs the ledger invariant checker (what `npm run ledger:check` runs) over the whole Redis. */
export async function assertLedgerSound(t: Test, w: World): Promise<void> {
  const report = await checkLedger(w.s.redis.client, w.s.app.history.reads);
  t.ok(report.ok, 'ledger check passes', report.ok ? {} : { report: formatReport(report) });
}

/** One scenario: a subtest that always ends with the ledger checker, even when its body failed. */
export function scenario(parent: Test, w: () => World, name: string, body: (t: Test, w: World) => Promise<void>): Promise<unknown> {
  return parent.test(name, async (t) => {
    try {
      await body(t, w());
    } finally {
      await assertLedgerSound(t, w());
    }
  });
}

// The expectation model: each message the simulator can send, built from the card and the
// originals it remembers, together with what the switch should answer and how the card's
// available and blocked balances should move (docs/messages.md). Everything a scenario or the
// random mix sends goes through one of these methods.
import type { IsoFields } from '../../iso/codec.js';
import { LOCK_REASONS, type Reason } from '../../iso/reasons.js';
import { merchantNameLocation, originalDataElements, replacementAmounts, requestFields, type Acceptor } from '../lib/fields.js';
import { echoRequest, type Answer, type Engine, type Expectation, type ModelCard, type Request } from './engine.js';
import { cardFieldsForCodec } from '../../cardauth/card-data.js';
import { isFieldError, parseField48 } from '../../cardauth/fields.js';

export const ACQUIRER = '123456';
export const TERMINAL = 'SCHEME01';
const SCHEME_ACCEPTOR: Acceptor = { acquirer: ACQUIRER, terminal: TERMINAL, merchantId: 'SCHEMESIMMERCH1', nameLocation: merchantNameLocation('SCHEME SIM SHOP', 'WARSAW', 'POL') };

/** An approved request the model remembers, so a reversal or clearing can name it in field 90. */
export interface Original {
  card: ModelCard;
  mti: string;
  fields: IsoFields;
  /** hold: 0100/0120 debit held; debit: posted debit; credit: posted credit; refund-hold: 0100 refund, credited at clearing. */
  kind: 'hold' | 'debit' | 'credit' | 'refund-hold';
  amountMinor: number;
  /** What is still held (hold) or posted (debit/credit) and could be moved back. */
  openMinor: number;
  /** The answer's field 38 (an increment is answered with it, a clearing carries it); null before the answer. */
  authId: string | null;
  reversed: boolean;
  cleared: boolean;
}

/** A request and its answer, kept so that a repeat or duplicate can be sent. */
export interface Sent { req: { mti: string; fields: IsoFields }; answer: Answer | null }

const DEBIT = new Set(['00', '01', '09']);
/** Locks that stop credits too (docs/messages.md, checks before the ledger). */
const CREDIT_STOPPING_LOCKS = new Set([1, 2, 5, 8]);

/** The sequence of one scenario or lane: sends on one link, with STANs from a shared counter. */
export class Script {
  constructor(readonly engine: Engine, readonly scenario: string, readonly linkNo: number, private readonly stans: StanCounter) {}

  stan(): string { return this.stans.next(); }

  /** Fields of a request about `pan`: times now, merchant, terminal, a unique RRN. */
  base(mti: string, pan: string, proc: string, amountMinor: number | null, stan = this.stan()): IsoFields {
    return requestFields(pan, proc, amountMinor, stan, this.stans.rrn(stan), SCHEME_ACCEPTOR);
  }

  send(req: Request, exp: Expectation): Promise<Answer | null> { return this.engine.exchange(this.scenario, this.linkNo, req, exp); }

  /**
   * An 0100, 0200 or 0120 with processing code `proc`. Returns the original when the model expects
   * it approved (so it can be reversed or cleared), and what was sent. A field 48 in `over` whose
   * subelement 61 says the terminal accepts a partial approval lets the model expect one.
   */
  async request(card: ModelCard, mti: '0100' | '0200' | '0120', proc: string, amountMinor: number, over: Record<number, string> = {}): Promise<{ orig: Original | null; sent: Sent }> {
    const fields = this.fieldsOf(card, mti, proc, amountMinor, over);
    const plan = planRequest(card, mti, proc, amountMinor, { acceptsPartial: acceptsPartial(over[48]) });
    let orig: Original | null = null;
    const req = { mti, fields };
    const partial = plan.reason === 'PARTIAL_APPROVAL';
    const answer = await this.send(req, {
      mti: respMti(mti), reason: plan.reason, why: plan.why, card, f54: (plan.reason === 'APPROVED' || partial) && mti !== '0120',
      ...(partial ? { answerAmountMinor: plan.approvedMinor, amountAskedMinor: amountMinor } : {}),
      effect: () => {
        plan.apply();
        if (plan.kind !== null) orig = { card, mti, fields, kind: plan.kind, amountMinor: plan.approvedMinor, openMinor: plan.approvedMinor, authId: null, reversed: false, cleared: false };
      },
    });
    const f38 = answer?.fields.get(38);
    if (orig !== null && typeof f38 === 'string') (orig as Original).authId = f38;
    return { orig, sent: { req, answer } };
  }

  /**
   * An incremental authorization: an 0100 of `amountMinor` whose field 90 names the open 0100 `o`
   * of the same card (a hotel adding to a stay). Approved, it adds to o's hold and is answered
   * with o's field 38; declined for funds, o stays as it was (docs/messages.md).
   */
  async increment(o: Original, amountMinor: number, over: Record<number, string> = {}): Promise<Sent> {
    const c = o.card;
    const fields = this.fieldsOf(c, '0100', String(o.fields.get(3)).slice(0, 2), amountMinor, { ...over, 90: this.originalRef(o) });
    const fits = amountMinor <= c.availableMinor;
    const req = { mti: '0100', fields };
    const answer = await this.send(req, {
      mti: '0110', reason: fits ? 'APPROVED' : 'INSUFFICIENT_FUNDS', card: c, f54: fits,
      why: fits ? `an increment of ${amountMinor} to a hold of ${o.openMinor}: one hold of ${o.openMinor + amountMinor}` : `an increment of ${amountMinor}, ${c.availableMinor} available: the original stays`,
      ...(fits && o.authId !== null ? { authId: o.authId } : {}),
      effect: () => {
        if (!fits) return;
        hold(c, amountMinor);
        o.amountMinor += amountMinor;
        o.openMinor += amountMinor;
      },
    });
    return { req, answer };
  }

  /**
   * A completion advice: an 0120 of `amountMinor` whose field 90 names the open 0100 `o` (a fuel
   * pump's final amount): o's hold becomes `amountMinor`, up or down, never a second hold.
   */
  async complete(o: Original, amountMinor: number, over: Record<number, string> = {}): Promise<Sent> {
    const c = o.card;
    const fields = this.fieldsOf(c, '0120', String(o.fields.get(3)).slice(0, 2), amountMinor, { ...over, 90: this.originalRef(o) });
    const req = { mti: '0120', fields };
    const answer = await this.send(req, {
      mti: '0130', reason: 'APPROVED', card: c, why: `a completion of a hold of ${o.openMinor} for ${amountMinor}: one hold of ${amountMinor}`,
      effect: () => {
        const delta = amountMinor - o.openMinor;
        c.availableMinor -= delta;
        c.blockedMinor += delta;
        o.amountMinor = amountMinor;
        o.openMinor = amountMinor;
      },
    });
    return { req, answer };
  }

  /**
   * A request the switch must refuse for its card data (a wrong CVV2, a replayed ATC, a wrong PIN):
   * answered `reason`, nothing moves; `effect` is what the refusal does to the card (a lock).
   */
  async refused(card: ModelCard, mti: '0100' | '0200', proc: string, amountMinor: number, over: Record<number, string>, reason: Reason, why: string, effect?: () => void): Promise<Sent> {
    const req = { mti, fields: this.fieldsOf(card, mti, proc, amountMinor, over) };
    const answer = await this.send(req, { mti: respMti(mti), reason, why, card, ...(effect === undefined ? {} : { effect }) });
    return { req, answer };
  }

  /** A request's fields with `over` applied: card data as cardauth/card-data.ts makes it (field 52 in hex), '' removes a field (a swipe without field 2). */
  private fieldsOf(card: ModelCard, mti: string, proc: string, amountMinor: number, over: Record<number, string>): IsoFields {
    const fields = this.base(mti, card.pan, proc, proc === '30' && amountMinor === 0 ? null : amountMinor);
    for (const [k, v] of cardFieldsForCodec(over)) {
      if (v === '') fields.delete(k);
      else fields.set(k, v);
    }
    return new Map([...fields].sort((a, b) => a[0] - b[0]));
  }

  /** An 0400 (or 0420) naming `o` in field 90, full or down to `finalMinor` (field 95). */
  async reverse(o: Original, opts: { finalMinor?: number; advice?: boolean } = {}): Promise<Sent> {
    const mti = opts.advice ? '0420' : '0400';
    const fields = this.followUp(o, mti, o.amountMinor);
    if (opts.finalMinor !== undefined) fields.set(95, replacementAmounts(opts.finalMinor));
    const moved = o.reversed ? 0 : Math.max(0, o.amountMinor - (opts.finalMinor ?? 0));
    const why = o.reversed
      ? 'a second reversal of the same original moves nothing'
      : `${opts.finalMinor === undefined ? 'full' : `partial (final ${opts.finalMinor})`} reversal of a ${o.kind} of ${o.amountMinor}: ${moved} moves back`;
    const req = { mti, fields };
    const answer = await this.send(req, {
      mti: respMti(mti), reason: 'APPROVED', why, card: o.card,
      effect: () => {
        if (o.reversed) return;
        o.reversed = true;
        moveBack(o, moved);
      },
    });
    return { req, answer };
  }

  /** An 0220 clearing `o` (field 90) for `amountMinor`: less releases the rest, more posts the excess. */
  async clear(o: Original, amountMinor: number): Promise<Sent> {
    const fields = this.followUp(o, '0220', amountMinor);
    const req = { mti: '0220', fields };
    const answer = await this.send(req, {
      mti: '0230', reason: 'APPROVED', why: `clearing of a ${o.kind} of ${o.amountMinor} for ${amountMinor}`, card: o.card,
      effect: () => {
        o.cleared = true;
        if (o.kind === 'refund-hold') { o.card.availableMinor += amountMinor; return; }
        o.card.blockedMinor -= o.openMinor;
        o.card.availableMinor += o.openMinor - amountMinor;
        o.openMinor = 0;
      },
    });
    return { req, answer };
  }

  /** An 0220 that names no original (no field 90, an RRN nothing has): a forced post. */
  async forcedPost(card: ModelCard, amountMinor: number): Promise<Sent> {
    const req = { mti: '0220', fields: this.base('0220', card.pan, '00', amountMinor) };
    const answer = await this.send(req, {
      mti: '0230', reason: 'APPROVED', why: `a clearing with no original is a forced post of ${amountMinor}`, card,
      effect: () => { card.availableMinor -= amountMinor; },
    });
    return { req, answer };
  }

  /** The same request again, as `mti` (its repeat MTI, or the same MTI for a duplicate): the first answer byte for byte. */
  async again(s: Sent, mti: string, why: string): Promise<Answer | null> {
    if (s.answer === null) return null;
    return this.send({ mti, fields: s.req.fields }, { mti: s.answer.mti ?? null, reason: reasonOfAnswer(this.engine, s.answer), why, sameAs: s.answer.raw });
  }

  echo(): Promise<Answer | null> {
    return this.send(echoRequest(this.stan()), { mti: '0810', reason: 'APPROVED', why: 'an 0800 echo is answered 00' });
  }

  /** Fields of a reversal or clearing of `o`: its card, processing code, RRN and terminal, field 90; a clearing also its field 38. */
  followUp(o: Original, mti: string, amountMinor: number): IsoFields {
    const f = this.base(mti, o.card.pan, String(o.fields.get(3)).slice(0, 2), amountMinor);
    f.set(37, String(o.fields.get(37)));
    if (mti === '0220' && o.authId !== null) f.set(38, o.authId);
    f.set(90, this.originalRef(o));
    return new Map([...f].sort((a, b) => a[0] - b[0]));
  }

  /** Field 90 naming `o`. */
  private originalRef(o: Original): string {
    return originalDataElements({ mti: o.mti, stan: String(o.fields.get(11)), f7: String(o.fields.get(7)), acquirer: ACQUIRER });
  }
}

/** The STANs and RRNs of one run: STANs count up from a random start, RRNs are unique per run. */
export class StanCounter {
  private n: number;
  constructor(start: number, private readonly runTag: string) { this.n = start; }
  next(): string { this.n = this.n >= 899_999 ? 1 : this.n + 1; return String(this.n).padStart(6, '0'); }
  rrn(stan: string): string { return this.runTag + stan; }
}

export function respMti(mti: string): string {
  return mti.slice(0, 2) + String(Number(mti[2]) + 1) + '0';
}

/** What the model expects of a request; `approvedMinor` is what it holds or posts (less than asked for a partial approval). */
interface Plan { reason: Reason; why: string; kind: Original['kind'] | null; approvedMinor: number; apply(): void }

/** Whether a field 48 says the terminal accepts a partial approval (subelement 61 position 1, as the switch reads it). */
export function acceptsPartial(f48: string | undefined): boolean {
  if (f48 === undefined) return false;
  const d = parseField48(f48);
  return !isFieldError(d) && d.partialApproval;
}

/**
 * What the switch should decide for an 0100/0200/0120 on `card` as the model holds it.
 * `acceptsPartial`: the terminal accepts a partial approval (48.61), which a purchase (00) the
 * funds do not cover gets for what is available (the demo program has no fees).
 */
export function planRequest(card: ModelCard, mti: string, proc: string, amountMinor: number, o: { acceptsPartial?: boolean } = {}): Plan {
  return { approvedMinor: amountMinor, ...planOf(card, mti, proc, amountMinor, o.acceptsPartial === true) };
}

function planOf(card: ModelCard, mti: string, proc: string, amountMinor: number, partialAccepted: boolean): Omit<Plan, 'approvedMinor'> & { approvedMinor?: number } {
  const none = (): void => undefined;
  const lockReason = card.lock !== 0 ? LOCK_REASONS[card.lock] : undefined;
  if (mti === '0120') {
    return { reason: 'APPROVED', why: `an 0120 advice is a forced hold of ${amountMinor}, never declined`, kind: 'hold', apply: () => hold(card, amountMinor) };
  }
  if (proc === '30') return { reason: lockReason ?? 'APPROVED', why: 'a balance inquiry moves nothing and shows the balance', kind: null, apply: none };
  if (DEBIT.has(proc)) {
    if (lockReason !== undefined) return { reason: lockReason, why: `card lock ${card.lock}`, kind: null, apply: none };
    if (amountMinor === 0 && mti === '0100' && proc === '00') return { reason: 'ACCOUNT_VERIFIED', why: 'a zero-amount 0100 purchase is an account verification', kind: null, apply: none };
    if (amountMinor > card.availableMinor && partialAccepted && proc === '00' && mti !== '0120' && card.availableMinor > 0) {
      const approved = card.availableMinor;
      return {
        reason: 'PARTIAL_APPROVAL', why: `${amountMinor} asked at a terminal that accepts a partial approval, ${approved} available: approved in part`,
        kind: mti === '0100' ? 'hold' : 'debit', approvedMinor: approved,
        apply: mti === '0100' ? () => hold(card, approved) : () => { card.availableMinor -= approved; },
      };
    }
    if (amountMinor > card.availableMinor) return { reason: 'INSUFFICIENT_FUNDS', why: `${amountMinor} asked, ${card.availableMinor} available`, kind: null, apply: none };
    if (mti === '0100') return { reason: 'APPROVED', why: `${amountMinor} of ${card.availableMinor} available: held`, kind: 'hold', apply: () => hold(card, amountMinor) };
    return { reason: 'APPROVED', why: `${amountMinor} of ${card.availableMinor} available: posted`, kind: 'debit', apply: () => { card.availableMinor -= amountMinor; } };
  }
  if (lockReason !== undefined && CREDIT_STOPPING_LOCKS.has(card.lock)) return { reason: lockReason, why: `card lock ${card.lock} stops credits`, kind: null, apply: none };
  if (proc === '20' && mti === '0100') return { reason: 'APPROVED', why: 'a refund in an 0100 is approved and credited at its clearing', kind: 'refund-hold', apply: none };
  return { reason: 'APPROVED', why: `a credit of ${amountMinor} posts at once`, kind: 'credit', apply: () => { card.availableMinor += amountMinor; } };
}

function hold(card: ModelCard, amountMinor: number): void {
  card.availableMinor -= amountMinor;
  card.blockedMinor += amountMinor;
}

/** A reversal's effect: an open hold released, a posted debit credited back, a posted credit debited back. */
function moveBack(o: Original, minor: number): void {
  const c = o.card;
  if (o.kind === 'hold' && !o.cleared) { c.blockedMinor -= minor; c.availableMinor += minor; o.openMinor -= minor; return; }
  if (o.kind === 'debit') { c.availableMinor += minor; return; }
  if (o.kind === 'credit') { c.availableMinor -= minor; }
}

/** The reason the model had for an answer it already accepted (for the tally of its repeat). */
function reasonOfAnswer(engine: Engine, a: Answer): Reason {
  const code = String(a.fields.get(39));
  const order: Reason[] = ['APPROVED', 'PARTIAL_APPROVAL', 'ACCOUNT_VERIFIED', 'INSUFFICIENT_FUNDS', 'CARD_NOT_FOUND', 'ALREADY_REVERSED', 'CARD_LOCK_7_SUSPECTED_FRAUD', 'FORMAT_ERROR', 'UNKNOWN_TRANSACTION_TYPE'];
  return order.find((r) => engine.code(r) === code) ?? 'UNKNOWN_ERROR';
}

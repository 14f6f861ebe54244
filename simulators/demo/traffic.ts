// The demo's live workload: a seeded mix of every kind of message a processor sends, open loop on
// a timer (message i is due at start + i / rate, whether or not earlier ones were answered; the
// timer sends whatever is due and sleeps, it never spins). Answers are matched by response MTI and
// STAN on their link; approvals feed the list of originals that reversals, clearings and repeats
// name, and field 54 tells the funding keeper when a card runs low.
import { performance } from 'node:perf_hooks';
import { IsoCodec, type IsoFields } from '../../iso/codec.js';
import { DIALECT_1987 } from '../../iso/dialect.js';
import { responseCode, type Reason } from '../../iso/reasons.js';
import { IsoLink } from '../../iso/link.js';
import { decodeAdditionalAmounts, merchantNameLocation, originalDataElements, reasonsFor, replacementAmounts, requestFields, transmissionTime, type Acceptor } from '../lib/fields.js';
import { seededRandom } from '../scheme/mix.js';
import { StanCounter, respMti } from '../scheme/model.js';
import { LIMIT_PER_TRANSACTION_MINOR, type DemoCard, type Fleet, type FundingKeeper } from './fleet.js';
import type { DemoStats } from './stats.js';

const ACCEPTOR: Acceptor = { acquirer: '654321', terminal: 'DEMO0001', merchantId: 'ANTACADEMOSHOP1', nameLocation: merchantNameLocation('ANTACA DEMO SHOP', 'WARSAW', 'POL') };

/** Kinds of the mix, their weights, and the reason each expects (to name a code several reasons share). */
const MIX: ReadonlyArray<[kind: string, weight: number, expect: Reason]> = [
  ['purchase', 20, 'APPROVED'], ['purchase 0200', 7, 'APPROVED'], ['ATM withdrawal', 6, 'APPROVED'], ['cashback', 4, 'APPROVED'],
  ['refund', 4, 'APPROVED'], ['balance inquiry', 4, 'APPROVED'], ['account verification', 3, 'ACCOUNT_VERIFIED'],
  ['reversal', 5, 'APPROVED'], ['partial reversal', 4, 'APPROVED'], ['reversal advice', 2, 'APPROVED'],
  ['clearing less', 3, 'APPROVED'], ['clearing same', 3, 'APPROVED'], ['clearing more', 2, 'APPROVED'], ['advice', 2, 'APPROVED'],
  ['repeat', 3, 'APPROVED'], ['echo', 2, 'APPROVED'],
  ['insufficient funds', 3, 'INSUFFICIENT_FUNDS'], ['locked card', 2, 'CARD_LOCK_7_SUSPECTED_FRAUD'], ['unknown card', 2, 'CARD_NOT_FOUND'],
  ['expired card', 2, 'EXPIRED_CARD'], ['AML lock', 2, 'AML_EXCEPTION'], ['over limit', 2, 'EXCEEDS_AMOUNT_LIMIT'],
  ['invalid amount', 2, 'INVALID_AMOUNT'], ['unknown processing code', 2, 'UNKNOWN_TRANSACTION_TYPE'],
];
const WEIGHT_TOTAL = MIX.reduce((s, [, w]) => s + w, 0);

/** How long a request waits for its answer before it counts as unanswered. */
const ANSWER_WAIT_MS = 10_000;
/** Originals remembered for reversals and clearings; the oldest are forgotten past it. */
const ORIGINALS_MAX = 2_000;
/** Answered requests remembered for repeats. */
const RECENT_MAX = 64;
/** Period of the send timer. */
const TICK_MS = 5;

interface Sent { mti: string; fields: IsoFields; card: DemoCard | null; amountMinor: number; expect?: Reason }
interface Pending { sent: Sent; kind: string; expect: Reason; atMs: number }

export class Traffic {
  readonly codec = new IsoCodec(DIALECT_1987);
  private readonly rnd: () => number;
  private readonly stans: StanCounter;
  private readonly waiting: Array<Map<string, Pending[]>>;
  private readonly holds: Sent[] = [];
  private readonly posted: Sent[] = [];
  private readonly recent: Sent[] = [];
  private readonly funded: DemoCard[];
  private readonly byRole: Map<string, DemoCard>;
  private timer: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private scheduled = 0;
  private startMs = 0;
  private closing = false;
  /** Called once when a link closes while the demo still runs. */
  onGone: (why: string) => void = () => undefined;

  constructor(private readonly links: IsoLink[], fleet: Fleet, private readonly keeper: FundingKeeper, private readonly stats: DemoStats, seed: number, private readonly ratePerSecond: number) {
    this.rnd = seededRandom(seed);
    this.stans = new StanCounter(1 + Math.floor(this.rnd() * 800_000), String(100_000 + Math.floor(this.rnd() * 899_999)));
    this.waiting = links.map(() => new Map());
    this.funded = fleet.cards.filter((c) => c.role === 'funded');
    this.byRole = new Map(fleet.cards.filter((c) => c.role !== 'funded').map((c) => [c.role, c]));
    links.forEach((link, i) => {
      link.onFrame = (body) => this.onAnswer(i, body);
      link.onClose = (e) => { if (e !== null && !this.closing) { this.closing = true; this.onGone(e.message); } };
    });
  }

  get inFlight(): number {
    let n = 0;
    for (const w of this.waiting) for (const list of w.values()) n += list.length;
    return n;
  }

  start(): void {
    this.startMs = performance.now();
    this.timer = setInterval(() => this.sendDue(), TICK_MS);
    this.sweeper = setInterval(() => this.sweep(), 1_000);
  }

  /** Stops sending; resolves when every request in flight is answered or `boundMs` has passed. */
  async stop(boundMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const until = Date.now() + boundMs;
    while (this.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.stats.unanswered += this.inFlight;
    if (this.sweeper) clearInterval(this.sweeper);
    this.closing = true;
    for (const l of this.links) l.close();
  }

  private sendDue(): void {
    const due = Math.floor(((performance.now() - this.startMs) * this.ratePerSecond) / 1000) + 1;
    // A timer that fell far behind (a stalled event loop) does not fire a burst of a second's worth.
    if (due - this.scheduled > this.ratePerSecond) this.scheduled = due - this.ratePerSecond;
    while (this.scheduled < due) { this.scheduled++; this.sendOne(); }
  }

  private pick<T>(list: readonly T[]): T { return list[Math.floor(this.rnd() * list.length)] as T; }
  private amount(lo: number, hi: number): number { return lo + Math.floor(this.rnd() * (hi - lo)); }

  private sendOne(): void {
    let roll = this.rnd() * WEIGHT_TOTAL;
    let entry = MIX[0] as (typeof MIX)[number];
    for (const m of MIX) { if (roll < m[1]) { entry = m; break; } roll -= m[1]; }
    const [kind, , expect] = entry;
    const built = this.build(kind);
    if (built === null) { this.send('purchase', 'APPROVED', this.request(this.pick(this.funded), '0100', '00', this.amount(100, 4_000))); return; }
    this.send(kind, built.expect ?? expect, built);
  }

  /** The request of one kind; null when it needs an original and none is open. */
  private build(kind: string): Sent | null {
    const card = this.pick(this.funded);
    switch (kind) {
      case 'purchase': return this.request(card, '0100', '00', this.amount(100, 4_000));
      case 'purchase 0200': return this.request(card, '0200', '00', this.amount(100, 4_000));
      case 'ATM withdrawal': return this.request(card, this.rnd() < 0.5 ? '0200' : '0100', '01', 1_000 * this.amount(2, 11));
      case 'cashback': return this.request(card, '0200', '09', this.amount(500, 3_000));
      case 'refund': return this.request(card, this.rnd() < 0.5 ? '0200' : '0100', '20', this.amount(100, 2_000));
      case 'balance inquiry': return this.request(card, '0100', '30', null);
      case 'account verification': return this.request(card, '0100', '00', 0);
      case 'advice': return this.request(card, '0120', '00', this.amount(100, 2_000));
      case 'reversal': case 'partial reversal': case 'reversal advice': return this.reversal(kind);
      case 'clearing less': case 'clearing same': case 'clearing more': return this.clearing(kind);
      case 'repeat': return this.repeat();
      case 'echo': return { mti: '0800', fields: new Map<number, string | Buffer>([[7, transmissionTime(new Date())], [11, this.stans.next()], [70, '301']]), card: null, amountMinor: 0 };
      case 'insufficient funds': return this.request(this.byRole.get('poor') as DemoCard, '0100', '00', this.amount(2_000, 9_000));
      case 'locked card': return this.request(this.byRole.get('locked') as DemoCard, '0100', '00', this.amount(100, 4_000));
      case 'unknown card': return this.request({ ...card, pan: card.pan.slice(0, 6) + String(this.amount(1e8, 1e9 - 1)).padStart(9, '0') + '0' }, '0100', '00', this.amount(100, 4_000), true);
      case 'expired card': { const r = this.request(card, '0100', '00', this.amount(100, 4_000)); r.fields.set(14, '2001'); return sortFields(r); }
      case 'AML lock': return this.request(this.byRole.get('aml') as DemoCard, '0100', '00', this.amount(100, 4_000));
      case 'over limit': return this.request(this.byRole.get('limited') as DemoCard, '0100', '00', LIMIT_PER_TRANSACTION_MINOR + this.amount(100, 5_000));
      case 'invalid amount': return this.request(card, '0200', '00', 0);
      case 'unknown processing code': return this.request(card, '0100', '40', this.amount(100, 4_000));
      default: return null;
    }
  }

  private request(card: DemoCard, mti: string, proc: string, amountMinor: number | null, ghost = false): Sent {
    const stan = this.stans.next();
    return { mti, fields: requestFields(card.pan, proc, amountMinor, stan, this.stans.rrn(stan), ACCEPTOR), card: ghost ? null : card, amountMinor: amountMinor ?? 0 };
  }

  /** An 0400 / 0420 of an approved hold or debit, full or partial (field 95). */
  private reversal(kind: string): Sent | null {
    const fromHolds = this.holds.length > 0 && (this.posted.length === 0 || this.rnd() < 0.5);
    const list = fromHolds ? this.holds : this.posted;
    if (list.length === 0) return null;
    const o = list.splice(Math.floor(this.rnd() * list.length), 1)[0] as Sent;
    const r = this.followUp(o, kind === 'reversal advice' ? '0420' : '0400', o.amountMinor);
    if (kind === 'partial reversal' && o.amountMinor >= 2) r.fields.set(95, replacementAmounts(this.amount(1, o.amountMinor)));
    return sortFields(r);
  }

  /** An 0220 clearing an approved 0100 hold for less, the same or more. */
  private clearing(kind: string): Sent | null {
    if (this.holds.length === 0) return null;
    const o = this.holds.splice(Math.floor(this.rnd() * this.holds.length), 1)[0] as Sent;
    const amount = kind === 'clearing less' ? this.amount(1, o.amountMinor + 1) : kind === 'clearing same' ? o.amountMinor : o.amountMinor + this.amount(1, 1_000);
    return this.followUp(o, '0220', amount);
  }

  private followUp(o: Sent, mti: string, amountMinor: number): Sent {
    const r = this.request(o.card as DemoCard, mti, String(o.fields.get(3)).slice(0, 2), amountMinor);
    r.fields.set(37, String(o.fields.get(37)));
    r.fields.set(90, originalDataElements({ mti: o.mti, stan: String(o.fields.get(11)), f7: String(o.fields.get(7)), acquirer: ACCEPTOR.acquirer }));
    return sortFields(r);
  }

  /** An 0101 / 0201 carrying an answered request's fields: the switch answers the first answer again. */
  private repeat(): Sent | null {
    if (this.recent.length === 0) return null;
    const o = this.pick(this.recent);
    return { ...o, mti: o.mti === '0100' ? '0101' : '0201' };
  }

  private send(kind: string, expect: Reason, s: Sent): void {
    const linkNo = this.scheduled % this.links.length;
    const key = `${respMti(s.mti)}:${String(s.fields.get(11))}`;
    const waiting = this.waiting[linkNo] as Map<string, Pending[]>;
    const list = waiting.get(key) ?? [];
    list.push({ sent: s, kind, expect, atMs: performance.now() });
    waiting.set(key, list);
    this.stats.sentOne(kind);
    (this.links[linkNo] as IsoLink).send(this.codec.pack({ mti: s.mti, fields: s.fields }));
  }

  private onAnswer(linkNo: number, body: Buffer): void {
    const r = this.codec.unpack(body);
    const mti = r.ok ? r.msg.mti : r.partial.mti;
    const fields = r.ok ? r.msg.fields : r.partial.fields;
    const key = `${mti}:${String(fields.get(11))}`;
    const waiting = this.waiting[linkNo] as Map<string, Pending[]>;
    const list = waiting.get(key);
    const p = list?.shift();
    if (p === undefined) { this.stats.unmatched++; return; }
    if (list?.length === 0) waiting.delete(key);
    const code = String(fields.get(39) ?? '');
    this.stats.answer(code, nameOf(code, p.expect), performance.now() - p.atMs);
    this.learn(p, code, fields.get(54));
  }

  /** What an answer teaches: an original to reverse or clear, a request to repeat, a card's balance. */
  private learn(p: Pending, code: string, f54: string | Buffer | undefined): void {
    const s = p.sent;
    if (s.card === null || p.kind === 'repeat') return;
    const proc = String(s.fields.get(3)).slice(0, 2);
    const debit = proc === '00' || proc === '01' || proc === '09';
    if (code === '00' && debit && s.amountMinor > 0 && (s.mti === '0100' || s.mti === '0200')) {
      const list = s.mti === '0100' ? this.holds : this.posted;
      list.push(s);
      if (list.length > ORIGINALS_MAX) list.shift();
    }
    if (s.mti === '0100' || s.mti === '0200') {
      this.recent.push({ ...s, expect: p.expect });
      if (this.recent.length > RECENT_MAX) this.recent.shift();
    }
    const available = typeof f54 === 'string' ? decodeAdditionalAmounts(f54)?.find((e) => e.amountType === 'available')?.minor : undefined;
    if (available !== undefined) this.keeper.observe(s.card, Number(available));
    else if (code === responseCode('INSUFFICIENT_FUNDS', '1987') && p.kind !== 'insufficient funds') this.keeper.insufficient(s.card);
  }

  /** Requests waiting longer than ANSWER_WAIT_MS count as unanswered and are forgotten. */
  private sweep(): void {
    const oldest = performance.now() - ANSWER_WAIT_MS;
    for (const w of this.waiting) {
      for (const [key, list] of w) {
        const kept = list.filter((p) => p.atMs >= oldest);
        this.stats.unanswered += list.length - kept.length;
        if (kept.length === 0) w.delete(key); else w.set(key, kept);
      }
    }
  }
}

function sortFields(s: Sent): Sent {
  return { ...s, fields: new Map([...s.fields].sort((a, b) => a[0] - b[0])) };
}

/**
 * The reason's name for field 39: the one the request expected when the code is its code, else
 * every reason with that code (locks apart, which only the locked card can give), joined by " | ".
 */
export function nameOf(code: string, expect: Reason): string {
  if (responseCode(expect, '1987') === code) return expect;
  const all = reasonsFor(code, '1987');
  const named = all.length > 1 ? all.filter((r) => !r.startsWith('CARD_LOCK_')) : all;
  return (named.length > 0 ? named : all).join(' | ') || 'no reason of the switch has this code';
}

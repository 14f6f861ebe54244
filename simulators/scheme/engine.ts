// The scheme simulator's engine: several ISO links, each answer matched to its request by response
// MTI and STAN, checked against what the expectation model said (field 39, the same bytes for a
// repeat, field 54 against the model's balance, field 4 and 54's amount asked of a partial
// approval, field 38 of an incremental authorization), and tallied for the summary. A request's
// expected effect on the card's balance is applied only when field 39 is the expected one, so one
// surprising answer is reported once and the model stays what the switch did.
import { IsoCodec, type IsoFields } from '../../iso/codec.js';
import type { IsoDialect } from '../../iso/dialect.js';
import { maskPan } from '../../iso/mask.js';
import { responseCode, type Reason } from '../../iso/reasons.js';
import { IsoLink } from '../../iso/link.js';
import { decodeAdditionalAmounts, reasonsFor } from '../lib/fields.js';
import type { ProvisionedCard } from '../lib/management-api.js';

/** A card as the model expects the switch to hold it. */
export interface ModelCard extends ProvisionedCard {
  label: string;
  availableMinor: number;
  blockedMinor: number;
  /** Card lock code set through the API (0: none). */
  lock: number;
}

/** What one request should get back and do. */
export interface Expectation {
  /** Response MTI; null: the switch drops the frame and answers nothing. */
  mti: string | null;
  reason: Reason;
  /** One sentence: why the model expects this. */
  why: string;
  /** The card whose balance field 54 must show after the effect. */
  card?: ModelCard;
  /** Field 54 must be present and equal the model (approved 0110/0210, inquiries); false: not checked. */
  f54?: boolean;
  /** The answer must be exactly these bytes (a repeat or duplicate of an answered request). */
  sameAs?: Buffer;
  /** The answer's field 4 must be this amount (a partial approval: the amount approved). */
  answerAmountMinor?: number;
  /** Field 54 must carry an entry of amount type 57 with this amount (a partial approval: the amount asked for). */
  amountAskedMinor?: number;
  /** The answer's field 38 must be this authorization id (an incremental authorization: the original's). */
  authId?: string;
  /** The model's change, applied when field 39 is as expected. */
  effect?: () => void;
}

/** A request as sent: an MTI and fields (packed here), or bytes sent as they are. */
export type Request = { mti: string; fields: IsoFields } | { raw: Buffer; mti: string; stan: string; pan?: string };

export interface Answer { raw: Buffer; mti: string | undefined; fields: IsoFields }

export interface Mismatch { scenario: string; request: string; expected: string; got: string; why: string }

interface Waiter { resolve(a: Answer | null): void; timer: NodeJS.Timeout }

/** How long a request waits for its answer before it is reported as unanswered. */
const ANSWER_WAIT_MS = 10_000;

export class Engine {
  readonly codec: IsoCodec;
  /** "request MTI → answer MTI 39 reason" → count. */
  readonly counts = new Map<string, number>();
  readonly mismatches: Mismatch[] = [];
  private readonly waiters: Array<Map<string, Waiter[]>>;

  constructor(readonly links: IsoLink[], readonly dialect: IsoDialect) {
    this.codec = new IsoCodec(dialect);
    this.waiters = links.map(() => new Map());
    links.forEach((link, i) => {
      link.onFrame = (body) => this.onFrame(i, body);
      link.onClose = (e) => { if (e) this.fail('connection', `link ${i + 1}`, 'open', `closed: ${e.message}`, 'the switch keeps connections up'); };
    });
  }

  /** The expected field 39 of a reason in this dialect. */
  code(reason: Reason): string { return responseCode(reason, this.dialect.name); }

  /** Sends one request on link `linkNo`, waits for its answer and checks it. Null when none came. */
  async exchange(scenario: string, linkNo: number, req: Request, exp: Expectation): Promise<Answer | null> {
    const link = this.links[linkNo % this.links.length] as IsoLink;
    const waiters = this.waiters[linkNo % this.links.length] as Map<string, Waiter[]>;
    const { body, stan, pan } = this.bytesOf(req);
    const label = `${req.mti}${pan ? ' ' + maskPan(pan) : ''} STAN ${stan}`;
    if (exp.mti === null) return this.expectDropped(scenario, linkNo, link, body, req.mti);
    const key = `${exp.mti}:${stan}`;
    const answer = await new Promise<Answer | null>((resolve) => {
      const timer = setTimeout(() => { this.dropWaiter(waiters, key, w); resolve(null); }, ANSWER_WAIT_MS);
      const w: Waiter = { resolve, timer };
      waiters.set(key, [...(waiters.get(key) ?? []), w]);
      if ('raw' in req) link.sendRaw(body); else link.send(body);
    });
    this.check(scenario, req.mti, label, exp, answer);
    return answer;
  }

  private bytesOf(req: Request): { body: Buffer; stan: string; pan: string | undefined } {
    if ('raw' in req) return { body: req.raw, stan: req.stan, pan: req.pan };
    const pan = req.fields.get(2);
    return { body: this.codec.pack({ mti: req.mti, fields: req.fields }), stan: String(req.fields.get(11)), pan: typeof pan === 'string' ? pan : undefined };
  }

  /** An undecodable frame: nothing must come back; an echo sent after it on the same link is answered. */
  private async expectDropped(scenario: string, linkNo: number, link: IsoLink, bytes: Buffer, mti: string): Promise<null> {
    link.sendRaw(bytes);
    this.count(mti, '(dropped)', '', '');
    await this.exchange(scenario, linkNo, echoRequest(this.nextEchoStan()), { mti: '0810', reason: 'APPROVED', why: 'an echo after a dropped frame: the connection stays up' });
    return null;
  }

  private echoStan = 900_000;
  private nextEchoStan(): string { this.echoStan = this.echoStan >= 999_999 ? 900_000 : this.echoStan + 1; return String(this.echoStan); }

  private dropWaiter(waiters: Map<string, Waiter[]>, key: string, w: Waiter): void {
    const list = (waiters.get(key) ?? []).filter((x) => x !== w);
    if (list.length === 0) waiters.delete(key); else waiters.set(key, list);
  }

  private onFrame(linkNo: number, raw: Buffer): void {
    const r = this.codec.unpack(raw);
    const mti = r.ok ? r.msg.mti : r.partial.mti;
    const fields = r.ok ? r.msg.fields : r.partial.fields;
    const key = `${mti}:${String(fields.get(11))}`;
    const waiters = this.waiters[linkNo] as Map<string, Waiter[]>;
    const w = waiters.get(key)?.[0];
    if (w === undefined) {
      this.fail('(any)', `answer ${mti ?? '????'} STAN ${String(fields.get(11))}`, 'no answer', `an answer nobody waits for, field 39 ${String(fields.get(39))}`, 'every answer must belong to a request');
      return;
    }
    clearTimeout(w.timer);
    this.dropWaiter(waiters, key, w);
    w.resolve({ raw, mti, fields });
  }

  private check(scenario: string, reqMti: string, label: string, exp: Expectation, a: Answer | null): void {
    const code = this.code(exp.reason);
    const expected = `${exp.mti} 39=${code} ${exp.reason}`;
    if (a === null) {
      this.count(reqMti, `${exp.mti}`, '(none)', '');
      this.fail(scenario, label, expected, `no answer within ${ANSWER_WAIT_MS / 1000} s`, exp.why);
      return;
    }
    const got39 = String(a.fields.get(39) ?? '');
    const codeOk = a.mti === exp.mti && got39 === code;
    this.count(reqMti, a.mti ?? '????', got39, codeOk ? exp.reason : reasonsFor(got39, this.dialect.name).join('|'));
    if (!codeOk) { this.fail(scenario, label, expected, `${a.mti} 39=${got39}`, exp.why); return; }
    if (exp.sameAs !== undefined && !exp.sameAs.equals(a.raw)) {
      this.fail(scenario, label, 'the first answer byte for byte', `different bytes (${diffFields(this.codec, exp.sameAs, a.raw)})`, exp.why);
      return;
    }
    if (!this.checkAnswerFields(scenario, label, exp, a)) return;
    exp.effect?.();
    this.checkBalanceField(scenario, label, exp, a);
  }

  /** Field 4, field 54's amount asked and field 38 where the expectation names them; false (reported) when one differs. */
  private checkAnswerFields(scenario: string, label: string, exp: Expectation, a: Answer): boolean {
    if (exp.answerAmountMinor !== undefined && Number(a.fields.get(4)) !== exp.answerAmountMinor) {
      this.fail(scenario, label, `field 4 ${exp.answerAmountMinor}`, `field 4 ${String(a.fields.get(4) ?? 'absent')}`, exp.why);
      return false;
    }
    if (exp.amountAskedMinor !== undefined) {
      const f54 = a.fields.get(54);
      const asked = typeof f54 === 'string' ? decodeAdditionalAmounts(f54)?.find((e) => e.amountType === 'type 57')?.minor : undefined;
      if (asked !== BigInt(exp.amountAskedMinor)) {
        this.fail(scenario, label, `field 54 amount type 57 ${exp.amountAskedMinor}`, asked === undefined ? 'no amount type 57 in field 54' : `amount type 57 ${asked}`, exp.why);
        return false;
      }
    }
    if (exp.authId !== undefined && a.fields.get(38) !== exp.authId) {
      this.fail(scenario, label, `field 38 ${exp.authId}`, `field 38 ${String(a.fields.get(38) ?? 'absent')}`, exp.why);
      return false;
    }
    return true;
  }

  private checkBalanceField(scenario: string, label: string, exp: Expectation, a: Answer): void {
    const f54 = a.fields.get(54);
    if (exp.f54 !== true || exp.card === undefined) return;
    const c = exp.card;
    const want = `ledger ${c.availableMinor + c.blockedMinor}, available ${c.availableMinor}`;
    if (typeof f54 !== 'string') { this.fail(scenario, label, `field 54 ${want}`, 'no field 54', exp.why); return; }
    const entries = decodeAdditionalAmounts(f54);
    const ledger = entries?.find((e) => e.amountType === 'ledger')?.minor;
    const available = entries?.find((e) => e.amountType === 'available')?.minor;
    if (ledger !== BigInt(c.availableMinor + c.blockedMinor) || available !== BigInt(c.availableMinor)) {
      this.fail(scenario, label, `field 54 ${want}`, `field 54 ledger ${String(ledger)}, available ${String(available)}`, exp.why);
    }
  }

  count(reqMti: string, ansMti: string, code: string, reason: string): void {
    const key = `${reqMti} → ${ansMti.padEnd(9)} ${code.padEnd(4)} ${reason}`.trimEnd();
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  fail(scenario: string, request: string, expected: string, got: string, why: string): void {
    this.mismatches.push({ scenario, request, expected, got, why });
  }

  close(): void { for (const l of this.links) l.close(); }
}

/** An 0800 echo (field 70 301) with this STAN. */
export function echoRequest(stan: string): Request {
  return { mti: '0800', fields: new Map([[7, '0101000000'], [11, stan.padStart(6, '0')], [70, '301']]) };
}

/** Which fields differ between two answers, by number (values not shown: they may hold a PAN). */
function diffFields(codec: IsoCodec, a: Buffer, b: Buffer): string {
  const ra = codec.unpack(a);
  const rb = codec.unpack(b);
  if (!ra.ok || !rb.ok) return 'one does not decode';
  const nums = new Set([...ra.msg.fields.keys(), ...rb.msg.fields.keys()]);
  const differ = [...nums].filter((n) => String(ra.msg.fields.get(n)) !== String(rb.msg.fields.get(n))).sort((x, y) => x - y);
  if (ra.msg.mti !== rb.msg.mti) differ.unshift(0);
  return differ.length === 0 ? 'same fields, different encoding' : `fields ${differ.join(', ')} differ`;
}

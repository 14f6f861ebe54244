// The sandbox's way into the switch: ISO 8583 messages built like an acquirer's
// (iso/acquirer.ts) and sent through the switch's own listener over one plain TCP
// connection (iso/link.ts), so a simulated authorization takes exactly the path of a
// real one: framing, admission, workers, ledger, records. The connection is opened at the first
// request and reused; the requests waiting on it are bounded and each waits a bounded time.
import { randomInt } from 'node:crypto';
import { IsoCodec, type IsoFields, type IsoMessage } from '../iso/codec.js';
import { dialectByName, type IsoDialect } from '../iso/dialect.js';
import { maskPan } from '../iso/mask.js';
import { IsoLink } from '../iso/link.js';
import { localTime, merchantNameLocation, transmissionTime } from '../iso/acquirer.js';
import { AppError } from '../errors/index.js';
import type { SandboxTarget } from './deps.js';

/** Answers awaited at once over the sandbox's connection; one more is refused 503 SANDBOX_BUSY. */
export const SANDBOX_MAX_WAITING = 64;
/** How long a request waits for the switch's answer before it is answered 504 SANDBOX_TIMEOUT. */
export const SANDBOX_ANSWER_TIMEOUT_MS = 5_000;

/** The acquirer and terminal the sandbox's messages come from (fields 32, 41, 42, 22). */
export const SANDBOX_ACQUIRER = {
  acquirer: '999001', terminal: 'SANDBOX1', merchantId: 'ANTACASANDBOX01', posEntry: '051',
  merchantName: 'ANTACA SANDBOX', merchantCity: 'WARSAW', merchantCountry: 'POL', mcc: '5411',
} as const;

/** A message's fields by their ISO names, PAN masked, secret fields withheld, binary fields in hex. */
export function fieldsByName(dialect: IsoDialect, fields: IsoFields): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, value] of [...fields].sort((a, b) => a[0] - b[0])) {
    const spec = dialect.fields[n];
    const name = spec === undefined ? `field ${n}` : `${n} ${spec.description}`;
    if (spec?.sensitivity === 'secret') { out[name] = `[${value.length} bytes withheld]`; continue; }
    const shown = typeof value === 'string' ? value : value.toString('hex');
    out[name] = spec?.sensitivity === 'pan' ? maskPan(shown) : shown;
  }
  return out;
}

/** What a message from the sandbox needs besides its MTI-specific fields. */
export interface CommonFieldsInput {
  now: Date; stan: string; numericCurrency: string; mcc?: string | undefined;
  merchantName?: string | undefined; merchantCity?: string | undefined; merchantCountry?: string | undefined;
  /** Field 41 (the original's, for a follow-up); the sandbox's own terminal otherwise. */
  terminal?: string | undefined;
  /** Field 37 (the original's, for a follow-up); one from the date and STAN otherwise. */
  rrn?: string | undefined;
}

/** Times, STAN, retrieval reference, acquirer, terminal, merchant and currency of a sandbox message. */
export function commonFields(c: CommonFieldsInput): IsoFields {
  const local = localTime(c.now);
  const yearStart = Date.UTC(c.now.getUTCFullYear(), 0, 0);
  const julian = String(Math.floor((c.now.getTime() - yearStart) / 86_400_000)).padStart(3, '0');
  const rrn = c.rrn ?? String(c.now.getUTCFullYear() % 10) + julian + String(c.now.getUTCHours()).padStart(2, '0') + c.stan;
  const a = SANDBOX_ACQUIRER;
  return new Map<number, string | Buffer>([
    [7, transmissionTime(c.now)], [11, c.stan], [12, local[12]], [13, local[13]], [18, c.mcc ?? a.mcc], [22, a.posEntry],
    [32, a.acquirer], [37, rrn], [41, c.terminal ?? a.terminal], [42, a.merchantId],
    [43, merchantNameLocation(c.merchantName ?? a.merchantName, c.merchantCity ?? a.merchantCity, c.merchantCountry ?? a.merchantCountry)],
    [49, c.numericCurrency],
  ]);
}

interface Waiter { resolve(m: IsoMessage): void; reject(e: Error): void; timer: NodeJS.Timeout }

/** One lazily opened, reused ISO 8583 connection to the switch's own listener. */
export class SandboxLink {
  readonly codec: IsoCodec;
  private link: Promise<IsoLink> | null = null;
  private readonly waiting = new Map<string, Waiter>();
  private stan = randomInt(1, 999_999);

  constructor(private readonly target: SandboxTarget, private readonly o = { maxWaiting: SANDBOX_MAX_WAITING, timeoutMs: SANDBOX_ANSWER_TIMEOUT_MS }) {
    this.codec = new IsoCodec(dialectByName(target.dialect));
  }

  /** A STAN (field 11) not awaited on this connection now. */
  nextStan(): string {
    for (;;) {
      this.stan = this.stan >= 999_999 ? 1 : this.stan + 1;
      const s = String(this.stan).padStart(6, '0');
      if (!this.waiting.has(s)) return s;
    }
  }

  /** Sends one message and resolves with the answer carrying its STAN; AppError 503/502/504 otherwise. */
  async exchange(msg: IsoMessage): Promise<IsoMessage> {
    const stan = msg.fields.get(11);
    if (typeof stan !== 'string') throw new Error('a sandbox message needs field 11');
    if (this.waiting.size >= this.o.maxWaiting) {
      throw new AppError('SANDBOX_BUSY', `${this.o.maxWaiting} simulated messages are already waiting for the switch; retry shortly`);
    }
    const body = this.codec.pack(msg);
    const link = await this.connection();
    return new Promise<IsoMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(stan);
        reject(new AppError('SANDBOX_TIMEOUT', `the switch did not answer the simulated ${msg.mti} within ${this.o.timeoutMs} ms`));
      }, this.o.timeoutMs);
      this.waiting.set(stan, { resolve, reject, timer });
      link.send(body);
    });
  }

  /** Closes the connection; requests still waiting are answered 502. */
  close(): void {
    const l = this.link;
    this.link = null;
    void l?.then((x) => x.close(), () => undefined);
  }

  private connection(): Promise<IsoLink> {
    if (this.link !== null) return this.link;
    const opening = IsoLink.open({ host: this.target.host, port: this.target.port }).then((link) => {
      link.onFrame = (body) => this.answered(body);
      link.onClose = (err) => {
        if (this.link === opening) this.link = null;
        this.failAll(err?.message ?? 'the connection was closed');
      };
      return link;
    }, (err: Error) => {
      if (this.link === opening) this.link = null;
      throw new AppError('SANDBOX_LINK_DOWN', `cannot reach the switch's ISO listener: ${err.message}`);
    });
    this.link = opening;
    return opening;
  }

  private answered(body: Buffer): void {
    const r = this.codec.unpack(body);
    const fields = r.ok ? r.msg.fields : r.partial.fields;
    const stan = fields.get(11);
    const w = typeof stan === 'string' ? this.waiting.get(stan) : undefined;
    if (w === undefined) return;
    this.waiting.delete(stan as string);
    clearTimeout(w.timer);
    if (r.ok) w.resolve(r.msg);
    else w.reject(new AppError('SANDBOX_BAD_ANSWER', `the switch's answer does not decode: ${r.errors.map((e) => `field ${e.field} ${e.code}`).join(', ')}`));
  }

  private failAll(why: string): void {
    for (const [stan, w] of this.waiting) {
      clearTimeout(w.timer);
      w.reject(new AppError('SANDBOX_LINK_DOWN', `the switch's ISO connection closed before the answer: ${why}`));
      this.waiting.delete(stan);
    }
  }
}

// Sends the plan open loop: a timer releases the messages that are due by the clock (never a
// busy loop), each on link i mod the link count, and records every answer by STAN. A link that
// is down is reconnected when the next message needs it; a message whose link cannot connect is
// "not sent". Answers missing after ANSWER_WAIT_MS, or cut off by a closing connection, are
// recorded as such.
import { IsoCodec, type IsoFields } from '../../iso/codec.js';
import { DIALECT_1987 } from '../../iso/dialect.js';
import { IsoLink } from '../../iso/link.js';
import { merchantNameLocation, originalDataElements, replacementAmounts, requestFields, type Acceptor } from '../lib/fields.js';
import type { PlannedMessage } from './plan.js';

export const ACQUIRER = '123456';
export const TERMINAL = 'FAULT001';
const ACCEPTOR: Acceptor = { acquirer: ACQUIRER, terminal: TERMINAL, merchantId: 'FAULTRUNMERCH01', nameLocation: merchantNameLocation('FAULT RUN SHOP', 'WARSAW', 'POL') };
const ANSWER_WAIT_MS = 5_000;
const TICK_MS = 10;
const CONNECT_TIMEOUT_MS = 1_000;

export interface SentCard { pan: string; cardId: string }

/** What became of one message. `code` is field 39, or `not-sent`, `no-answer`, `cut-off`. */
export interface Outcome { code: string; f7: string; stan: string; rrn: string; sentAtMs: number | null }

export interface SendOptions {
  host: string;
  port: () => number;
  connections: number;
  rate: number;
  /** Called once when message `i` is due, before it goes out (the run's fault points). */
  onDue?: (i: number) => void;
  runTag: string;
  stanStart: number;
}

interface Waiter { i: number; link: number; timer: NodeJS.Timeout }

export async function sendPlan(plan: PlannedMessage[], cards: SentCard[], o: SendOptions): Promise<Outcome[]> {
  const codec = new IsoCodec(DIALECT_1987);
  const outcomes: Outcome[] = plan.map((_, i) => ({ code: 'pending', f7: '', stan: stanOf(o.stanStart, i), rrn: o.runTag + stanOf(o.stanStart, i), sentAtMs: null }));
  const links: Array<IsoLink | null> = Array.from({ length: o.connections }, () => null);
  const connecting: Array<Promise<IsoLink | null> | null> = Array.from({ length: o.connections }, () => null);
  const waiters = new Map<string, Waiter>();
  let open = plan.length;
  let resolveAll!: () => void;
  const allDone = new Promise<void>((r) => { resolveAll = r; });
  const settle = (i: number, code: string): void => {
    const out = outcomes[i] as Outcome;
    if (out.code !== 'pending') return;
    out.code = code;
    if (--open === 0) resolveAll();
  };

  const connectLink = (n: number): Promise<IsoLink | null> => {
    const existing = links[n];
    if (existing) return Promise.resolve(existing);
    const pending = connecting[n];
    if (pending) return pending;
    const p = Promise.race([
      IsoLink.open({ host: o.host, port: o.port() }),
      new Promise<never>((_, rej) => setTimeout(() => rej(new Error('connect timeout')), CONNECT_TIMEOUT_MS)),
    ]).then((link) => {
      link.onFrame = (body) => onFrame(body);
      link.onClose = () => {
        if (links[n] === link) links[n] = null;
        for (const [stan, w] of waiters) if (w.link === n) { clearTimeout(w.timer); waiters.delete(stan); settle(w.i, 'cut-off'); }
      };
      links[n] = link;
      return link;
    }, () => null).finally(() => { connecting[n] = null; });
    connecting[n] = p;
    return p;
  };

  const onFrame = (body: Buffer): void => {
    const r = codec.unpack(body);
    const fields = r.ok ? r.msg.fields : r.partial.fields;
    const stan = String(fields.get(11));
    const w = waiters.get(stan);
    if (w === undefined) return;
    clearTimeout(w.timer);
    waiters.delete(stan);
    settle(w.i, String(fields.get(39) ?? '(none)'));
  };

  const fieldsOf = (m: PlannedMessage, out: Outcome): IsoFields => {
    const card = cards[m.card] as SentCard;
    const now = new Date();
    const f = requestFields(card.pan, m.proc, m.amountMinor, out.stan, out.rrn, ACCEPTOR, now);
    out.f7 = String(f.get(7));
    if (m.original !== undefined) {
      const orig = plan[m.original] as PlannedMessage;
      const oo = outcomes[m.original] as Outcome;
      f.set(37, oo.rrn);
      f.set(90, originalDataElements({ mti: orig.mti, stan: oo.stan, f7: oo.f7 || out.f7, acquirer: ACQUIRER }));
      if (m.finalMinor !== undefined) f.set(95, replacementAmounts(m.finalMinor));
    }
    return new Map([...f].sort((a, b) => a[0] - b[0]));
  };

  const send = async (i: number): Promise<void> => {
    const m = plan[i] as PlannedMessage;
    const out = outcomes[i] as Outcome;
    const n = i % o.connections;
    const link = await connectLink(n);
    if (link === null) { settle(i, 'not-sent'); return; }
    const body = codec.pack({ mti: m.mti, fields: fieldsOf(m, out) });
    const timer = setTimeout(() => { waiters.delete(out.stan); settle(i, 'no-answer'); }, ANSWER_WAIT_MS);
    waiters.set(out.stan, { i, link: n, timer });
    out.sentAtMs = Date.now();
    link.send(body);
  };

  const started = Date.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(plan.length, Math.floor(((Date.now() - started) / 1000) * o.rate) + 1);
      for (; next < due; next++) {
        o.onDue?.(next);
        void send(next);
      }
      if (next >= plan.length) { resolve(); return; }
      setTimeout(tick, TICK_MS);
    };
    tick();
  });
  if (plan.length > 0) await allDone;
  for (const l of links) l?.close();
  return outcomes;
}

function stanOf(start: number, i: number): string {
  return String(((start + i) % 899_999) + 1).padStart(6, '0');
}

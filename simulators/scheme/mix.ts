// The seeded random mix: a list of intents drawn from a seeded generator (mulberry32), sent open
// loop on a timer at --rate. Each card has its own lane: an intent about a card waits for the
// card's previous answer, so the model (and the switch) see one card's messages in a fixed order
// and the same seed against the same fresh switch gives the same counts. Intents that need a
// target (a reversal, a clearing, a repeat) pick it when their turn comes, from the model's state.
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { ModelCard } from './engine.js';
import type { Original, Script, Sent } from './model.js';
import { badBody } from './scenarios.js';

/** A deterministic generator of floats in [0, 1) from a 32-bit seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

type Kind = 'purchase' | 'financial' | 'atm' | 'cashback' | 'refund' | 'payment' | 'inquiry' | 'verify' | 'reverse' | 'clear'
  | 'forced' | 'advice' | 'repeat' | 'echo' | 'bad-body' | 'unknown-mti';

/** Relative weights of the kinds of the mix. */
const WEIGHTS: ReadonlyArray<[Kind, number]> = [
  ['purchase', 20], ['financial', 10], ['atm', 6], ['cashback', 4], ['refund', 4], ['payment', 4], ['inquiry', 5],
  ['verify', 3], ['reverse', 12], ['clear', 10], ['forced', 3], ['advice', 3], ['repeat', 6], ['echo', 4], ['bad-body', 3], ['unknown-mti', 3],
];
const WEIGHT_TOTAL = WEIGHTS.reduce((s, [, w]) => s + w, 0);

interface Intent { kind: Kind; cardNo: number; r1: number; r2: number; r3: number }

export function drawIntents(seed: number, count: number, cards: number): Intent[] {
  const rnd = seededRandom(seed);
  const out: Intent[] = [];
  for (let i = 0; i < count; i++) {
    let pick = rnd() * WEIGHT_TOTAL;
    let kind: Kind = 'purchase';
    for (const [k, w] of WEIGHTS) { if (pick < w) { kind = k; break; } pick -= w; }
    out.push({ kind, cardNo: Math.floor(rnd() * cards), r1: rnd(), r2: rnd(), r3: rnd() });
  }
  return out;
}

/** One card's lane: the model's memory of it and the tail of its queue. */
interface Lane { card: ModelCard; script: Script; originals: Original[]; last: { sent: Sent; repeatMti: string } | null; tail: Promise<void> }

const amount = (r: number, lo: number, hi: number): number => lo + Math.floor(r * (hi - lo));
const REPEAT_OF: Readonly<Record<string, string>> = { '0100': '0101', '0200': '0201', '0220': '0221', '0400': '0401', '0420': '0421', '0120': '0121' };

async function runIntent(l: Lane, it: Intent): Promise<void> {
  const { card: c, script: x } = l;
  const keep = async (p: Promise<{ orig: Original | null; sent: Sent }>): Promise<void> => {
    const r = await p;
    if (r.orig) l.originals.push(r.orig);
    l.last = { sent: r.sent, repeatMti: REPEAT_OF[r.sent.req.mti] ?? r.sent.req.mti };
  };
  const open = l.originals.filter((o) => !o.reversed && !o.cleared && o.kind !== 'refund-hold');
  const holds = l.originals.filter((o) => o.kind === 'hold' && !o.reversed && !o.cleared);
  switch (it.kind) {
    case 'financial': return keep(x.request(c, '0200', '00', amount(it.r1, 100, 4_000)));
    case 'atm': return keep(x.request(c, it.r2 < 0.5 ? '0200' : '0100', '01', 1_000 * amount(it.r1, 1, 6)));
    case 'cashback': return keep(x.request(c, '0100', '09', amount(it.r1, 500, 3_000)));
    case 'refund': return keep(x.request(c, '0200', '20', amount(it.r1, 100, 2_000)));
    case 'payment': return keep(x.request(c, it.r2 < 0.5 ? '0200' : '0100', '28', amount(it.r1, 500, 5_000)));
    case 'inquiry': return keep(x.request(c, '0100', '30', 0));
    case 'verify': return keep(x.request(c, '0100', '00', 0));
    case 'advice': return keep(x.request(c, '0120', '00', amount(it.r1, 100, 2_000)));
    case 'forced': { const sent = await x.forcedPost(c, amount(it.r1, 100, 2_000)); l.last = { sent, repeatMti: '0221' }; return; }
    case 'reverse': {
      const o = open[Math.floor(it.r1 * open.length)];
      if (o === undefined) break;
      const partial = it.r2 < 0.4 && o.amountMinor >= 2;
      const sent = await x.reverse(o, { ...(partial ? { finalMinor: amount(it.r3, 1, o.amountMinor) } : {}), advice: it.r2 > 0.8 });
      l.last = { sent, repeatMti: REPEAT_OF[sent.req.mti] ?? '0401' };
      return;
    }
    case 'clear': {
      const o = holds[Math.floor(it.r1 * holds.length)];
      if (o === undefined) break;
      const sent = await x.clear(o, it.r2 < 0.4 ? amount(it.r3, 1, o.amountMinor + 1) : it.r2 < 0.8 ? o.amountMinor : o.amountMinor + amount(it.r3, 1, 1_000));
      l.last = { sent, repeatMti: '0221' };
      return;
    }
    case 'repeat':
      if (l.last === null) break;
      await x.again(l.last.sent, l.last.repeatMti, `${l.last.repeatMti} repeats an answered ${l.last.sent.req.mti}`);
      return;
    default: break;
  }
  // A purchase, and what an intent without a target falls back to.
  return keep(x.request(c, '0100', '00', amount(it.r1, 100, 4_000)));
}

/** Intents about no card's balance: an echo, a bad body, an unknown MTI. */
async function runFree(x: Script, it: Intent, anyCard: ModelCard): Promise<void> {
  if (it.kind === 'echo') { await x.echo(); return; }
  if (it.kind === 'bad-body') {
    await x.send(badBody(x, x.base('0100', anyCard.pan, '00', 1_000)), { mti: '0110', reason: 'FORMAT_ERROR', why: 'field 49 with a letter: 30' });
    return;
  }
  await x.send({ mti: '0300', fields: x.base('0300', anyCard.pan, '00', 1_000) }, { mti: '0310', reason: 'UNKNOWN_TRANSACTION_TYPE', why: 'an unknown MTI: 12' });
}

/**
 * Sends the intents open loop: intent i is due at start + i / rate seconds, whether or not earlier
 * answers have come (a card's own intents queue behind each other). Resolves when all are answered.
 */
export async function runMix(intents: readonly Intent[], cards: ModelCard[], scripts: (linkNo: number) => Script, connections: number, ratePerSecond: number): Promise<void> {
  const lanes: Lane[] = cards.map((card, i) => ({ card, script: scripts(i % connections), originals: [], last: null, tail: Promise.resolve() }));
  const free: Promise<void>[] = [];
  const start = performance.now();
  for (let i = 0; i < intents.length; i++) {
    const wait_ms = start + (i * 1000) / ratePerSecond - performance.now();
    if (wait_ms > 0) await sleep(wait_ms);
    const it = intents[i] as Intent;
    if (it.kind === 'echo' || it.kind === 'bad-body' || it.kind === 'unknown-mti') {
      free.push(runFree(scripts(i % connections), it, (lanes[it.cardNo] as Lane).card));
      continue;
    }
    const lane = lanes[it.cardNo] as Lane;
    lane.tail = lane.tail.then(() => runIntent(lane, it));
  }
  await Promise.all([...free, ...lanes.map((l) => l.tail)]);
}

// Codec benchmark: full pack + unpack of the same realistic messages with our codec and with the
// npm package `iso_8583` (the wire contract's reference), in one process, alternating rounds so
// that both see the same machine state. Prints medians of ops/s and ends with the ratio line that
// docs and CI read:   codec pack+unpack ratio: 12.3x
//
// Run: npm run bench:codec   (builds with tsc, then runs dist/bench/codec.js)
// Options (environment): BENCH_ROUNDS (default 7), BENCH_ROUND_MS (default 400).

import { createRequire } from 'node:module';
import { DIALECT_1987, IsoCodec, type IsoMessage } from '../switch/iso/index.js';
import { sample0100, sample0110, sample0400 } from '../switch/iso/samples.js';

interface ReferenceMessage {
  getBufferMessage(): Buffer | { error: string };
  getIsoJSON(buf: Buffer, config: object): Record<string, string> | { error: string };
}
type ReferenceCtor = new (message?: Record<string, string>) => ReferenceMessage;
const Reference = createRequire(import.meta.url)('iso_8583') as ReferenceCtor;

const ROUNDS = positiveInt(process.env['BENCH_ROUNDS'], 7);
const ROUND_MS = positiveInt(process.env['BENCH_ROUND_MS'], 400);
const WARMUP_MS = 500;

function positiveInt(value: string | undefined, fallback: number): number {
  const parsed = Number(value);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : fallback;
}

const MESSAGES: readonly IsoMessage[] = [sample0100(), sample0110(), sample0400()];
const REFERENCE_JSON: ReadonlyArray<Record<string, string>> = MESSAGES.map((msg) => {
  const json: Record<string, string> = { 0: msg.mti };
  for (const [field, value] of msg.fields) json[field] = typeof value === 'string' ? value : value.toString('hex');
  return json;
});

const codec = new IsoCodec(DIALECT_1987);
// Consumed at the end so that no work can be optimised away.
let sink = 0;

/** One operation = pack one message and unpack the bytes again. Returns operations done. */
function runOurs(iterations: number): number {
  for (let i = 0; i < iterations; i++) {
    for (const msg of MESSAGES) {
      const bytes = codec.pack(msg);
      const result = codec.unpack(bytes);
      if (!result.ok) throw new Error('our codec failed on a benchmark message');
      sink += result.msg.fields.size;
    }
  }
  return iterations * MESSAGES.length;
}

function runReference(iterations: number): number {
  for (let i = 0; i < iterations; i++) {
    for (const json of REFERENCE_JSON) {
      const bytes = new Reference(json).getBufferMessage();
      if (!Buffer.isBuffer(bytes)) throw new Error(`iso_8583 failed on a benchmark message: ${bytes.error}`);
      const decoded = new Reference().getIsoJSON(bytes, {});
      if (typeof decoded['error'] === 'string') throw new Error('iso_8583 failed to decode');
      sink += bytes.length;
    }
  }
  return iterations * MESSAGES.length;
}

function opsPerSecond(run: (iterations: number) => number, iterations: number): number {
  const startedNs = process.hrtime.bigint();
  const ops = run(iterations);
  const elapsedSeconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return ops / elapsedSeconds;
}

/** Runs for about `budgetMs` while calibrating; returns iterations that fill one round. */
function calibrate(run: (iterations: number) => number, budgetMs: number): number {
  let iterations = 1;
  let totalIterations = 0;
  const startedMs = performance.now();
  while (performance.now() - startedMs < budgetMs) {
    run(iterations);
    totalIterations += iterations;
    iterations *= 2;
  }
  const perMs = totalIterations / (performance.now() - startedMs);
  return Math.max(1, Math.round(perMs * ROUND_MS));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (opsPerSec: number): string => Math.round(opsPerSec).toLocaleString('en-US').padStart(11);

function main(): void {
  const sizes = MESSAGES.map((m) => `${m.mti} (${m.fields.size} fields, ${codec.pack(m).length} bytes)`).join(', ');
  console.log(`codec benchmark: pack + unpack of ${sizes}; ${ROUNDS} rounds of ~${ROUND_MS} ms each`);
  console.log(`node ${process.version}, ${process.arch}`);
  const ourIterations = calibrate(runOurs, WARMUP_MS);
  const referenceIterations = calibrate(runReference, WARMUP_MS);
  const ours: number[] = [];
  const reference: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    ours.push(opsPerSecond(runOurs, ourIterations));
    reference.push(opsPerSecond(runReference, referenceIterations));
    console.log(`round ${round}: ours ${fmt(ours.at(-1)!)} ops/s   iso_8583 ${fmt(reference.at(-1)!)} ops/s`);
  }
  const oursMedian = median(ours);
  const referenceMedian = median(reference);
  console.log(`median:  ours ${fmt(oursMedian)} ops/s (${(1e6 / oursMedian).toFixed(2)} µs per message)`);
  console.log(`median:  iso_8583 ${fmt(referenceMedian)} ops/s (${(1e6 / referenceMedian).toFixed(2)} µs per message)`);
  if (sink === 0) console.log('(nothing was measured)');
  console.log(`codec pack+unpack ratio: ${(oursMedian / referenceMedian).toFixed(1)}x`);
}

main();

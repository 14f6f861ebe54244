// Codec benchmark: full pack + unpack of the same realistic messages with our codec and with the
// npm package `iso_8583` (the wire contract's reference), in one process, alternating rounds so
// that both see the same machine state. Prints medians of ops/s and ends with the ratio line that
// docs and CI read:   codec pack+unpack ratio: 12.3x
//
// Run: npm run bench:codec   (builds with tsc, then runs dist/bench/codec.js)
// Options (environment): BENCH_ROUNDS (default 7), BENCH_ROUND_MS (default 400).
// benchCodec() returns the same figures as data (npm run bench collects them).

import { createRequire } from 'node:module';
import { DIALECT_1987, IsoCodec, type IsoMessage } from '../iso/index.js';
import { sample0100, sample0110, sample0400 } from '../iso/samples.js';
import { envOptionLines, isMain, parseCommandLine, type EnvOptions } from '../scripts/cli.js';

interface ReferenceMessage {
  getBufferMessage(): Buffer | { error: string };
  getIsoJSON(buf: Buffer, config: object): Record<string, string> | { error: string };
}
type ReferenceCtor = new (message?: Record<string, string>) => ReferenceMessage;
const Reference = createRequire(import.meta.url)('iso_8583') as ReferenceCtor;

export const CODEC_OPTIONS: EnvOptions = [
  ['BENCH_ROUNDS', '7', 'alternating rounds of ours and iso_8583'],
  ['BENCH_ROUND_MS', '400', 'milliseconds per round'],
];
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

/** Runs for about `budgetMs` while calibrating; returns iterations that fill one round of `roundMs`. */
function calibrate(run: (iterations: number) => number, budgetMs: number, roundMs: number): number {
  let iterations = 1;
  let totalIterations = 0;
  const startedMs = performance.now();
  while (performance.now() - startedMs < budgetMs) {
    run(iterations);
    totalIterations += iterations;
    iterations *= 2;
  }
  const perMs = totalIterations / (performance.now() - startedMs);
  return Math.max(1, Math.round(perMs * roundMs));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (opsPerSec: number): string => Math.round(opsPerSec).toLocaleString('en-US').padStart(11);

/** The codec benchmark's figures: medians over the rounds. */
export interface CodecFigures {
  rounds: number; roundMs: number; messages: string;
  oursOpsPerSecond: number; referenceOpsPerSecond: number;
  oursUsPerMessage: number; referenceUsPerMessage: number;
  /** ours / iso_8583, pack + unpack. */
  ratio: number;
}

/** Runs the codec benchmark, printing a line per round through `log`; returns the medians. */
export function benchCodec(o: { rounds: number; roundMs: number }, log: (line: string) => void = console.log): CodecFigures {
  const sizes = MESSAGES.map((m) => `${m.mti} (${m.fields.size} fields, ${codec.pack(m).length} bytes)`).join(', ');
  log(`codec benchmark: pack + unpack of ${sizes}; ${o.rounds} rounds of ~${o.roundMs} ms each`);
  log(`node ${process.version}, ${process.arch}`);
  const ourIterations = calibrate(runOurs, WARMUP_MS, o.roundMs);
  const referenceIterations = calibrate(runReference, WARMUP_MS, o.roundMs);
  const ours: number[] = [];
  const reference: number[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    ours.push(opsPerSecond(runOurs, ourIterations));
    reference.push(opsPerSecond(runReference, referenceIterations));
    log(`round ${round}: ours ${fmt(ours.at(-1)!)} ops/s   iso_8583 ${fmt(reference.at(-1)!)} ops/s`);
  }
  if (sink === 0) log('(nothing was measured)');
  const oursMedian = median(ours);
  const referenceMedian = median(reference);
  return {
    rounds: o.rounds, roundMs: o.roundMs, messages: sizes, oursOpsPerSecond: oursMedian, referenceOpsPerSecond: referenceMedian,
    oursUsPerMessage: 1e6 / oursMedian, referenceUsPerMessage: 1e6 / referenceMedian, ratio: oursMedian / referenceMedian,
  };
}

function usage(): string {
  return ['usage: npm run bench:codec', '', 'Pack + unpack of realistic messages, ours against the npm package iso_8583; prints the ratio.', '',
    'Options (environment variables):', ...envOptionLines(CODEC_OPTIONS)].join('\n');
}

function main(): void {
  parseCommandLine('bench:codec', process.argv.slice(2), usage);
  const f = benchCodec({ rounds: positiveInt(process.env['BENCH_ROUNDS'], 7), roundMs: positiveInt(process.env['BENCH_ROUND_MS'], 400) });
  console.log(`median:  ours ${fmt(f.oursOpsPerSecond)} ops/s (${f.oursUsPerMessage.toFixed(2)} µs per message)`);
  console.log(`median:  iso_8583 ${fmt(f.referenceOpsPerSecond)} ops/s (${f.referenceUsPerMessage.toFixed(2)} µs per message)`);
  console.log(`codec pack+unpack ratio: ${f.ratio.toFixed(1)}x`);
}

if (isMain(import.meta.url)) main();

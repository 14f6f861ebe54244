// `npm run bench` — every benchmark suite in one run, each printing its progress as it goes:
// the codec against `iso_8583` (bench/codec.ts), the ledger against redis-benchmark
// (bench/ledger.ts), the switch end to end at fixed offered loads per placement with the Redis
// ceiling (bench/switch.ts), and, unless BENCH_PARTNER=0, the same against the partner simulator.
// The report goes to bench/results/<date>.json with SVG plots and a Markdown summary (bench/report.ts).
// The defaults keep the whole run to about three and a half minutes on the 2-core reference machine.
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { projectRoot } from '../ledger/scripts.js';
import { envOptionLines, isMain, parseCommandLine, type EnvOptions } from '../scripts/cli.js';
import { benchCodec } from './codec.js';
import { benchLedger } from './ledger.js';
import { writeReport, type BenchReport, type PlacementFigures, type SwitchFigures } from './report.js';
import type { Results } from './switch.js';

const OPTIONS: EnvOptions = [
  ['BENCH_SUITES', 'codec,ledger,switch', 'suites to run, in this order'],
  ['BENCH_CODEC_ROUNDS', '5', 'codec: alternating rounds'],
  ['BENCH_CODEC_ROUND_MS', '400', 'codec: milliseconds per round'],
  ['BENCH_LEDGER_HOLDS', '20000', 'ledger: holds per measurement'],
  ['BENCH_LEDGER_ROUNDS', '2', 'ledger: API / redis-benchmark pairs per AOF mode'],
  ['BENCH_PLACEMENTS', 'floor,workers,main', 'end to end: placements (floor: one EVALSHA per message, no switch; workers; main)'],
  ['BENCH_RATES', '500,1000,2000,3000', 'end to end: offered loads, authorizations per second'],
  ['BENCH_SECONDS', '4', 'end to end: seconds per offered load'],
  ['BENCH_CEILING_REQUESTS', '30000', 'end to end: requests per redis-benchmark run of the ceiling'],
  ['BENCH_PARTNER', '1', '1: also end to end with an EXTERNAL_BALANCE program against the partner simulator (2 ms latency); 0 leaves it out'],
  ['BENCH_RESULTS_DIR', 'bench/results', 'where the report is written (relative to the repository)'],
];

function opt(name: string): string {
  const v = process.env[name];
  return v === undefined || v === '' ? OPTIONS.find((o) => o[0] === name)![1] : v;
}

function positive(name: string): number {
  const n = Number(opt(name));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}=${opt(name)} is not a positive integer`);
  return n;
}

function usage(): string {
  return ['usage: npm run bench', '',
    'Every benchmark suite in one run (codec, ledger, switch end to end), progress printed as it goes;',
    'the report is written to bench/results/<date>.json, <date>-*.svg and <date>.md.', '',
    'Options (environment variables):', ...envOptionLines(OPTIONS), '',
    'Other options of npm run bench:switch (BENCH_CONNECTIONS, BENCH_CARDS, ...) and switch settings pass through.'].join('\n');
}

/** The end-to-end figures the report shows, from bench/switch.ts's full results. */
export function switchFigures(r: Results): SwitchFigures {
  const reduce = (p: Results['placements'][number]): PlacementFigures => ({
    placement: p.placement,
    rates: p.rates.map((x) => ({
      offeredPerSecond: x.offeredPerSecond, answeredPerSecond: x.report.answersPerSecond, answered: x.report.answered, sent: x.report.sent,
      p50Ms: x.report.latencyUs.p50 / 1000, p99Ms: x.report.latencyUs.p99 / 1000, p999Ms: x.report.latencyUs.p999 / 1000, maxMs: x.report.latencyUs.max / 1000,
      codes: x.report.codes,
    })),
  });
  return {
    ceiling: r.ceiling === null ? null : { unpipelinedPerSecond: r.ceiling.unpipelinedPerSecond, pipelined16PerSecond: r.ceiling.pipelined16PerSecond },
    placements: r.placements.map(reduce),
    partner: r.partner === null ? null : reduce(r.partner),
    cost: r.cost === null ? null : r.cost.map((c) => ({ variant: c.variant, redisUs: c.redisUs, writes: c.writes, scriptCalls: c.scriptCalls, aofBytes: c.aofBytes })),
  };
}

async function main(): Promise<void> {
  parseCommandLine('bench', process.argv.slice(2), usage);
  const suites = opt('BENCH_SUITES').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of suites) if (!['codec', 'ledger', 'switch'].includes(s)) throw new Error(`BENCH_SUITES: ${s} is not codec, ledger or switch`);
  const started = new Date();
  const t0 = performance.now();
  const report: BenchReport = {
    date: started.toISOString().slice(0, 10), startedAt: started.toISOString(), finishedAt: '',
    machine: { cpus: cpus().length, node: process.version, note: 'The load generator, Redis and the switch share the machine.' },
    options: Object.fromEntries(OPTIONS.map(([name]) => [name, opt(name)])), codec: null, ledger: null, switch: null, failures: {},
  };
  const step = (i: number, what: string) => console.log(`\n[${i}/${suites.length}] ${what} (${((performance.now() - t0) / 1000).toFixed(0)} s elapsed)`);
  for (const [i, suite] of suites.entries()) {
    try {
      await runSuite(suite, i, step, report);
    } catch (e) {
      // One broken suite does not cost the figures of the others; the report says it failed.
      report.failures[suite] = (e as Error).message.split('\n')[0]!.slice(0, 300);
      console.log(`${suite} failed: ${report.failures[suite]}`);
    }
  }
  report.finishedAt = new Date().toISOString();
  const written = writeReport(report, join(projectRoot(), opt('BENCH_RESULTS_DIR')));
  console.log(`\ndone in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(`report: ${written.json}`);
  for (const f of written.svgs) console.log(`plot:   ${f}`);
  console.log(`summary: ${written.markdown}`);
  if (Object.keys(report.failures).length > 0) process.exitCode = 1;
}

async function runSuite(suite: string, i: number, step: (i: number, what: string) => void, report: BenchReport): Promise<void> {
  {
    if (suite === 'codec') {
      step(i + 1, 'codec: ours against iso_8583');
      report.codec = benchCodec({ rounds: positive('BENCH_CODEC_ROUNDS'), roundMs: positive('BENCH_CODEC_ROUND_MS') });
      console.log(`codec pack+unpack ratio: ${report.codec.ratio.toFixed(1)}x`);
    } else if (suite === 'ledger') {
      step(i + 1, 'ledger: holds through the API against redis-benchmark');
      report.ledger = await benchLedger({ holds: positive('BENCH_LEDGER_HOLDS'), rounds: positive('BENCH_LEDGER_ROUNDS'), clients: 8, pipeline: 16 });
      console.log(`ledger hold ratio vs redis-benchmark: ${report.ledger.ratioAlways.toFixed(2)}`);
    } else {
      step(i + 1, 'switch end to end at fixed offered loads');
      // bench/switch.ts reads its options from the environment when it is loaded.
      Object.assign(process.env, {
        BENCH_PARTS: process.env.BENCH_PARTS || 'ceiling,cost,rates', BENCH_PLACEMENTS: opt('BENCH_PLACEMENTS'), BENCH_RATES: opt('BENCH_RATES'),
        BENCH_SECONDS: opt('BENCH_SECONDS'), BENCH_CEILING_REQUESTS: opt('BENCH_CEILING_REQUESTS'), BENCH_PARTNER: opt('BENCH_PARTNER'),
      });
      const { benchSwitch, installInterruptCleanup } = await import('./switch.js');
      installInterruptCleanup();
      report.switch = switchFigures(await benchSwitch());
    }
  }
}

if (isMain(import.meta.url)) {
  main().catch((e: unknown) => { console.error(`bench failed: ${(e as Error).message}`); process.exit(1); });
}

// The report of `npm run bench`: the figures of every suite as one JSON document, SVG plots drawn
// by the small line-chart writer below (no dependency), and a Markdown summary that embeds the
// plots by relative link. The writer takes figures as data, so a test can feed it fixed ones.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodecFigures } from './codec.js';
import type { LedgerFigures } from './ledger.js';

/** One offered load of the end-to-end run, reduced to what the report shows. */
export interface RatePoint {
  offeredPerSecond: number; answeredPerSecond: number; answered: number; sent: number;
  p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; codes: Record<string, number>;
}

/** The end-to-end figures of one placement (or of the partner variant). */
export interface PlacementFigures { placement: string; rates: RatePoint[] }

export interface SwitchFigures {
  /** redis-benchmark running a minimal hold script: what Redis alone allows here. */
  ceiling: { unpipelinedPerSecond: number; pipelined16PerSecond: number } | null;
  placements: PlacementFigures[];
  /** BENCH_PARTNER=1: an EXTERNAL_BALANCE program against the partner simulator; null: skipped. */
  partner: PlacementFigures | null;
  /** Redis per approved 0100, one at a time (bench/approval-cost.ts); null: not run. */
  cost: Array<{ variant: string; redisUs: number; writes: number; scriptCalls: number; aofBytes: number }> | null;
}

export interface BenchReport {
  /** YYYY-MM-DD: names the files. */
  date: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; node: string; note: string };
  options: Record<string, string>;
  codec: CodecFigures | null;
  ledger: LedgerFigures | null;
  switch: SwitchFigures | null;
  /** Suites that failed, by name: the message; the others still ran. */
  failures: Record<string, string>;
}

// ---------------------------------------------------------------- SVG line charts

export interface Series { name: string; points: ReadonlyArray<readonly [x: number, y: number]>; dashed?: boolean }

export interface Chart {
  title: string; xLabel: string; yLabel: string; series: readonly Series[];
  /** A logarithmic y axis (latencies spanning ms to seconds). */
  logY?: boolean;
}

const WIDTH = 720;
const HEIGHT = 420;
const MARGIN = { left: 78, right: 190, top: 44, bottom: 58 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f'];

/** Text safe inside an XML element or attribute. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A round step for about `count` ticks over [0, max]. */
function niceStep(max: number, count: number): number {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const n = raw / mag;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * mag;
}

function label(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return Number(v.toPrecision(3)).toString();
}

/** A line chart as a standalone SVG document: axes with ticks, one polyline per series, a legend. */
export function lineChartSvg(c: Chart): string {
  const pts = c.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const xMax = Math.max(1, ...pts.map((p) => p[0]));
  const xStep = niceStep(xMax, 5);
  const xTop = Math.ceil(xMax / xStep) * xStep;
  const positive = pts.map((p) => p[1]).filter((y) => y > 0);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  let yOf: (y: number) => number;
  let yTicks: number[];
  if (c.logY === true) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(1, ...positive)));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(lo * 10, ...positive)));
    yOf = (y) => MARGIN.top + plotH - ((Math.log10(Math.max(y, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
    yTicks = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) yTicks.push(t);
  } else {
    const yMax = Math.max(1, ...pts.map((p) => p[1]));
    const yStep = niceStep(yMax, 5);
    const yTop = Math.ceil(yMax / yStep) * yStep;
    yOf = (y) => MARGIN.top + plotH - (y / yTop) * plotH;
    yTicks = [];
    for (let t = 0; t <= yTop + yStep / 2; t += yStep) yTicks.push(t);
  }
  const xOf = (x: number): number => MARGIN.left + (x / xTop) * plotW;
  const f = (n: number): string => n.toFixed(1);
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${xmlEscape(c.title)}</title>`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15">${xmlEscape(c.title)}</text>`);
  out.push(`<g class="grid" stroke="#e5e5e5">`);
  for (const t of yTicks) out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${f(yOf(t))}" y2="${f(yOf(t))}"/>`);
  out.push(`</g>`);
  out.push(`<g class="axes" stroke="#333333">`);
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${MARGIN.top + plotH}" y2="${MARGIN.top + plotH}"/>`);
  out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}"/>`);
  out.push(`</g>`);
  out.push(`<g class="ticks" fill="#333333">`);
  for (let t = 0; t <= xTop + xStep / 2; t += xStep) out.push(`<text x="${f(xOf(t))}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${label(t)}</text>`);
  for (const t of yTicks) out.push(`<text x="${MARGIN.left - 8}" y="${f(yOf(t) + 4)}" text-anchor="end">${label(t)}</text>`);
  out.push(`</g>`);
  out.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 14}" text-anchor="middle">${xmlEscape(c.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${xmlEscape(c.yLabel)}</text>`);
  c.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const finite = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    const path = finite.map(([x, y]) => `${f(xOf(x))},${f(yOf(y))}`).join(' ');
    out.push(`<g class="series" data-name="${xmlEscape(s.name)}">`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''} points="${path}"/>`);
    for (const [x, y] of finite) out.push(`<circle cx="${f(xOf(x))}" cy="${f(yOf(y))}" r="3" fill="${color}"><title>${xmlEscape(`${s.name}: ${label(x)} → ${label(y)}`)}</title></circle>`);
    const ly = MARGIN.top + 10 + i * 20;
    const lx = WIDTH - MARGIN.right + 16;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${xmlEscape(s.name)}</text>`);
    out.push(`</g>`);
  });
  out.push(`</svg>`);
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------- the plots of a report

/** Every end-to-end run of the report: the placements, then the partner variant if it ran. */
function runsOf(r: BenchReport): PlacementFigures[] {
  if (r.switch === null) return [];
  return [...r.switch.placements, ...(r.switch.partner === null ? [] : [r.switch.partner])];
}

/** Latency percentiles against offered load, one chart per placement. */
export function latencyChart(p: PlacementFigures): Chart {
  const at = (pick: (x: RatePoint) => number) => p.rates.map((x) => [x.offeredPerSecond, pick(x)] as const);
  return {
    title: `Latency vs offered load (${p.placement})`, xLabel: 'offered load, authorizations/s', yLabel: 'latency, ms (log scale)', logY: true,
    series: [{ name: 'p50', points: at((x) => x.p50Ms) }, { name: 'p99', points: at((x) => x.p99Ms) }, { name: 'p99.9', points: at((x) => x.p999Ms) }],
  };
}

/** Answers/s against offered load per placement, with the Redis ceiling and the offered load itself. */
export function throughputChart(r: BenchReport): Chart {
  const runs = runsOf(r);
  const xs = runs.flatMap((p) => p.rates.map((x) => x.offeredPerSecond));
  const xMax = Math.max(1, ...xs);
  const series: Series[] = runs.map((p) => ({ name: `answered/s (${p.placement})`, points: p.rates.map((x) => [x.offeredPerSecond, x.answeredPerSecond] as const) }));
  series.push({ name: 'offered = answered', points: [[0, 0], [xMax, xMax]], dashed: true });
  const ceiling = r.switch?.ceiling;
  if (ceiling !== null && ceiling !== undefined) series.push({ name: 'Redis ceiling', points: [[0, ceiling.unpipelinedPerSecond], [xMax, ceiling.unpipelinedPerSecond]], dashed: true });
  return { title: 'Throughput vs the Redis ceiling', xLabel: 'offered load, authorizations/s', yLabel: 'answers/s', series };
}

/** File-name part of a placement: `workers+partner` → `workers-partner`. */
function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

export interface WrittenReport { json: string; markdown: string; svgs: string[] }

/**
 * Writes `<date>.json`, `<date>-latency-<placement>.svg` per end-to-end run,
 * `<date>-throughput.svg` and `<date>.md` into `dir`; returns their paths.
 */
export function writeReport(r: BenchReport, dir: string): WrittenReport {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${r.date}.json`);
  writeFileSync(json, JSON.stringify(r, null, 2) + '\n');
  const plots: Array<{ file: string; alt: string }> = [];
  for (const p of runsOf(r)) {
    const file = `${r.date}-latency-${slug(p.placement)}.svg`;
    writeFileSync(join(dir, file), lineChartSvg(latencyChart(p)));
    plots.push({ file, alt: `latency percentiles vs offered load, ${p.placement}` });
  }
  if (r.switch !== null) {
    const file = `${r.date}-throughput.svg`;
    writeFileSync(join(dir, file), lineChartSvg(throughputChart(r)));
    plots.push({ file, alt: 'throughput vs the Redis ceiling' });
  }
  const markdown = join(dir, `${r.date}.md`);
  writeFileSync(markdown, summaryMarkdown(r, plots));
  return { json, markdown, svgs: plots.map((p) => join(dir, p.file)) };
}

const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');
const ms = (x: number): string => (x >= 100 ? n0(x) : x.toFixed(2));

/** The Markdown summary: figures as tables, plots embedded by relative link. */
export function summaryMarkdown(r: BenchReport, plots: ReadonlyArray<{ file: string; alt: string }>): string {
  const out: string[] = [`# Benchmark run of ${r.date}`, ''];
  out.push(`\`npm run bench\`, ${r.startedAt} to ${r.finishedAt}; ${r.machine.cpus} CPUs, node ${r.machine.node}. ${r.machine.note}`, '');
  out.push(`Figures: [${r.date}.json](${r.date}.json). Options: ${Object.entries(r.options).map(([k, v]) => `\`${k}=${v}\``).join(', ') || 'defaults'}.`, '');
  if (r.codec !== null) {
    const c = r.codec;
    out.push('## Codec', '', `Pack + unpack, medians of ${c.rounds} rounds: ours ${c.oursUsPerMessage.toFixed(2)} µs per message, \`iso_8583\` ${c.referenceUsPerMessage.toFixed(2)} µs: **${c.ratio.toFixed(1)}x**.`, '');
  }
  if (r.ledger !== null) {
    const l = r.ledger;
    out.push('## Ledger', '', `Holds through the ledger API against \`redis-benchmark\` running the same script (${n0(l.holds)} holds per run, ${l.rounds} rounds, ${l.clients} connections × ${l.pipeline} in flight, redis-server ${l.redisVersion}); medians:`, '');
    out.push('| appendfsync | API holds/s | redis-benchmark holds/s | ratio | API p50 / p99 |', '|---|---|---|---|---|');
    for (const row of l.rows) out.push(`| ${row.mode} | ${n0(row.apiPerSec)} | ${n0(row.benchPerSec)} | ${row.ratio.toFixed(2)} | ${row.p50Ms.toFixed(1)} / ${row.p99Ms.toFixed(1)} ms |`);
    out.push('');
  }
  if (r.switch !== null) {
    const s = r.switch;
    out.push('## End to end', '');
    if (s.ceiling !== null) out.push(`Redis ceiling (\`redis-benchmark -c 50\`, minimal hold script, AOF always): ${n0(s.ceiling.unpipelinedPerSecond)}/s unpipelined, ${n0(s.ceiling.pipelined16PerSecond)}/s with \`-P 16\`.`, '');
    if (s.cost !== null) {
      const floor = s.cost.find((c) => c.variant === 'floor');
      out.push('Redis per approved 0100, one at a time (medians of interleaved rounds, AOF always):', '', '| variant | Redis µs | vs floor | write commands | script calls | AOF bytes |', '|---|---|---|---|---|---|');
      for (const c of s.cost) out.push(`| ${c.variant} | ${c.redisUs.toFixed(1)} | ${floor === undefined ? '' : (c.redisUs / floor.redisUs).toFixed(2) + 'x'} | ${c.writes.toFixed(1)} | ${c.scriptCalls.toFixed(1)} | ${n0(c.aofBytes)} |`);
      out.push('');
    }
    out.push('| run | offered/s | answered/s | answered / sent | p50 ms | p99 ms | p99.9 ms | max ms |', '|---|---|---|---|---|---|---|---|');
    for (const p of runsOf(r)) {
      for (const x of p.rates) out.push(`| ${p.placement} | ${n0(x.offeredPerSecond)} | ${n0(x.answeredPerSecond)} | ${x.answered}/${x.sent} | ${ms(x.p50Ms)} | ${ms(x.p99Ms)} | ${ms(x.p999Ms)} | ${ms(x.maxMs)} |`);
    }
    out.push('');
    if (s.partner === null) out.push('Partner variant: skipped (`BENCH_PARTNER=1` runs it).', '');
  }
  for (const [suite, message] of Object.entries(r.failures)) out.push(`**${suite} failed**: ${message}`, '');
  if (plots.length > 0) {
    out.push('## Plots', '');
    for (const p of plots) out.push(`![${p.alt}](${p.file})`, '');
  }
  return out.join('\n');
}

// The report writer of `npm run bench` on a small fixed set of figures: every SVG is well-formed
// XML carrying the expected series, and the Markdown summary links every plot and the JSON.
// No benchmark runs here.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeReport, type BenchReport, type RatePoint } from '../bench/report.js';

const point = (offered: number, p50: number): RatePoint => ({
  offeredPerSecond: offered, answeredPerSecond: offered * 0.99, answered: offered * 4, sent: offered * 4,
  p50Ms: p50, p99Ms: p50 * 4, p999Ms: p50 * 9, maxMs: p50 * 20, codes: { '00': offered * 4 },
});

const FIGURES: BenchReport = {
  date: '2026-01-02', startedAt: '2026-01-02T10:00:00.000Z', finishedAt: '2026-01-02T10:03:00.000Z',
  machine: { cpus: 2, node: 'v20.0.0', note: 'fixed figures for a test' }, options: { BENCH_RATES: '500,1000' },
  codec: { rounds: 5, roundMs: 400, messages: '0100', oursOpsPerSecond: 200_000, referenceOpsPerSecond: 8_000, oursUsPerMessage: 5, referenceUsPerMessage: 125, ratio: 25 },
  ledger: {
    holds: 20_000, rounds: 2, clients: 8, pipeline: 16, redisVersion: '7.0.15', ratioAlways: 0.9,
    rows: [{ mode: 'off', apiPerSec: 11_000, benchPerSec: 12_000, ratio: 0.92, p50Ms: 10, p99Ms: 25 }, { mode: 'always', apiPerSec: 8_000, benchPerSec: 8_800, ratio: 0.9, p50Ms: 15, p99Ms: 28 }],
  },
  failures: {},
  switch: {
    ceiling: { unpipelinedPerSecond: 7_500, pipelined16PerSecond: 14_000 },
    placements: [
      { placement: 'workers', rates: [point(500, 1.2), point(1000, 2.5)] },
      { placement: 'main', rates: [point(500, 0.9), point(1000, 1.8)] },
    ],
    partner: { placement: 'workers+partner', rates: [point(500, 4.1)] },
    cost: [
      { variant: 'floor', redisUs: 50, writes: 6, scriptCalls: 1, aofBytes: 600 },
      { variant: 'switch', redisUs: 150, writes: 12, scriptCalls: 2, aofBytes: 2_500 },
    ],
  },
};

/** Well-formed: one root, every element closed in order, attributes quoted, no stray `<` or `&`. */
function wellFormed(xml: string): string | null {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const stack: string[] = [];
  let roots = 0;
  const token = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < body.length) {
    token.lastIndex = at;
    m = token.exec(body);
    if (m === null) return `cannot read at ${at}: ${body.slice(at, at + 40)}`;
    at = token.lastIndex;
    if (m[5] !== undefined) {
      if (/&(?!(amp|lt|gt|quot|apos);)/.test(m[5])) return `bare & in text: ${m[5].slice(0, 40)}`;
      if (stack.length === 0 && m[5].trim() !== '') return 'text outside the root';
      continue;
    }
    const [, close, name, , selfClose] = m;
    if (close === '/') {
      if (stack.pop() !== name) return `</${name}> closes the wrong element`;
    } else if (selfClose !== '/') {
      if (stack.length === 0) roots++;
      stack.push(name as string);
    } else if (stack.length === 0) roots++;
  }
  if (stack.length > 0) return `unclosed: ${stack.join(' > ')}`;
  return roots === 1 ? null : `${roots} root elements`;
}

t.test('the report writer: JSON, well-formed SVG plots with their series, a summary that links them', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-bench-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const w = writeReport(FIGURES, dir);

  t.same(JSON.parse(readFileSync(w.json, 'utf8')), FIGURES, 'the JSON holds the figures as given');
  t.same(w.svgs.map((f) => f.slice(dir.length + 1)).sort(), [
    '2026-01-02-latency-main.svg', '2026-01-02-latency-workers-partner.svg', '2026-01-02-latency-workers.svg', '2026-01-02-throughput.svg',
  ]);
  for (const f of w.svgs) {
    const svg = readFileSync(f, 'utf8');
    t.equal(wellFormed(svg), null, `${f} is well-formed XML`);
    t.match(svg, /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  }
  const names = (f: string) => [...readFileSync(join(dir, f), 'utf8').matchAll(/<g class="series" data-name="([^"]*)">/g)].map((m) => m[1]);
  t.same(names('2026-01-02-latency-workers.svg'), ['p50', 'p99', 'p99.9'], 'latency percentiles per placement');
  t.same(names('2026-01-02-throughput.svg'), ['answered/s (workers)', 'answered/s (main)', 'answered/s (workers+partner)', 'offered = answered', 'Redis ceiling']);
  const workers = readFileSync(join(dir, '2026-01-02-latency-workers.svg'), 'utf8');
  t.equal((workers.match(/<circle /g) ?? []).length, 6, 'one marker per point: 2 loads × 3 percentiles');

  const md = readFileSync(w.markdown, 'utf8');
  for (const f of w.svgs) {
    const name = f.slice(dir.length + 1);
    t.match(md, `](${name})`, `summary embeds ${name}`);
    t.ok(existsSync(join(dir, name)));
  }
  t.match(md, '[2026-01-02.json](2026-01-02.json)', 'summary links the figures');
  t.match(md, '**25.0x**', 'codec ratio');
  t.match(md, '| always | 8,000 | 8,800 | 0.90 |', 'ledger row');
  t.match(md, '| workers | 1,000 | 990 | 4000/4000 | 2.50 | 10.00 | 22.50 | 50.00 |', 'end-to-end row');
  t.match(md, '| switch | 150.0 | 3.00x | 12.0 | 2.0 | 2,500 |', 'the one-at-a-time Redis cost, against the floor');
});

t.test('a report without the partner variant says it was skipped, and escapes text', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-bench-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const w = writeReport({ ...FIGURES, switch: { ...FIGURES.switch!, partner: null, placements: [{ placement: 'a<b&c', rates: [point(500, 1)] }] } }, dir);
  const md = readFileSync(w.markdown, 'utf8');
  t.match(md, 'Partner variant: skipped');
  for (const f of w.svgs) t.equal(wellFormed(readFileSync(f, 'utf8')), null, `${f} is well-formed`);
  t.match(readFileSync(join(dir, '2026-01-02-throughput.svg'), 'utf8'), 'data-name="answered/s (a&lt;b&amp;c)"');
});

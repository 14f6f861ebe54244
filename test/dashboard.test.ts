// The dashboard (GET /dashboard) on both HTTP servers: its static files as HTTP answers (content
// types, ETag and 304, GET only, no path outside the table reachable), GET /dashboard/stats.json
// against its schema, and the page itself in headless Debian chromium (puppeteer-core): a card
// made through the API, authorizations sent over ISO 8583 while the page is open, the page shows
// each by masked PAN and response code, the decline in the reason list, the partner balances;
// no console error, no failed request, never the full PAN; a screenshot under var/test-artifacts/.
// Last, the switch goes away and comes back on the same port: the page's feed reconnects.
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { serverKinds, startApiSwitch, type ApiSwitch, type ServerKind } from './helpers/api.js';
import { IsoClient } from './helpers/iso-client.js';
import { ARTIFACTS, CHROMIUM, auth, feedLive, fundedCard, launch, openDashboard, rowShown, text, until } from './helpers/dashboard-page.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { DASHBOARD_STATS } from '../api/routes/dashboard.js';
import { quantile, RegistrySampler, subtractBuckets } from '../api/stats.js';
import { Counter, Histogram, Registry } from 'prom-client';
import { projectRoot } from '../ledger/scripts.js';

async function staticAnswers(t: Test, s: ApiSwitch): Promise<void> {
  const api = s.api;
  const page = await api.get('/dashboard');
  t.equal(page.status, 200);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(page.headers['cache-control'], 'no-cache');
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.match(page.headers['content-security-policy'], /default-src 'self'/);
  t.match(page.text, /<script type="module" src="\/dashboard\/dashboard\.js">/);
  t.equal((await api.get('/dashboard/')).text, page.text, '/dashboard/ is the same page');
  for (const [path, type] of [
    ['/dashboard/dashboard.js', 'text/javascript; charset=utf-8'], ['/dashboard/format.js', 'text/javascript; charset=utf-8'],
    ['/dashboard/dashboard.css', 'text/css; charset=utf-8'], ['/dashboard/vendor/uPlot.esm.js', 'text/javascript; charset=utf-8'],
    ['/dashboard/vendor/uPlot.min.css', 'text/css; charset=utf-8'],
  ] as const) {
    const r = await api.get(path);
    t.equal(r.status, 200, path);
    t.equal(r.headers['content-type'], type, `${path} content type`);
    t.match(r.headers.etag, /^"[A-Za-z0-9_-]+"$/, `${path} has an ETag`);
    const again = await api.get(path, { headers: { 'if-none-match': String(r.headers.etag) } });
    t.equal(again.status, 304, `${path}: 304 with the ETag`);
    t.equal(again.text, '', `${path}: no body with 304`);
  }
  const uplot = readFileSync(join(projectRoot(), 'node_modules', 'uplot', 'dist', 'uPlot.esm.js'), 'utf8');
  t.equal((await api.get('/dashboard/vendor/uPlot.esm.js')).text, uplot, 'uPlot is the installed package\'s file');
  const post = await api.post('/dashboard', {});
  t.equal(post.status, 405);
  t.equal(post.headers.allow, 'GET');
  const secret = readFileSync(join(projectRoot(), 'package.json'), 'utf8');
  for (const path of [
    '/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/..%2fpackage.json', '/dashboard/vendor/..%2f..%2f..%2fpackage.json',
    '/dashboard/vendor/%2e%2e/%2e%2e/%2e%2e/package.json', '/dashboard/index.html', '/dashboard/vendor/uPlot.d.ts', '/dashboard//dashboard.js',
    '/dashboard/dashboard.js/', '/dashboard/%64ashboard.js', '/dashboard/vendor/', '/dashboard/dashboard', '/api/dashboard/dashboard.js',
  ]) {
    const r = await api.get(path);
    t.equal(r.status, 404, `${path}: 404`);
    t.notOk(r.text.includes(secret.slice(0, 60)), `${path}: no file outside the table`);
  }
}

async function statsAnswer(t: Test, s: ApiSwitch): Promise<void> {
  const r = await s.api.get('/dashboard/stats.json');
  t.equal(r.status, 200);
  t.equal(r.headers['cache-control'], 'no-store');
  const valid = new Ajv2020({ strict: false, allErrors: true }).compile(DASHBOARD_STATS);
  t.ok(valid(r.json), `stats.json matches its schema: ${JSON.stringify(valid.errors ?? [])}`);
  t.equal(r.json.outboxDepth, 0, 'the outbox is empty: depth 0');
  t.same(r.json.decisions, []);
}

for (const { kind, skip } of serverKinds()) {
  t.test(`dashboard, HTTP on ${kind}`, { skip }, async (t) => {
    if (!existsSync(CHROMIUM)) {
      t.fail(`chromium is not installed at ${CHROMIUM}: run \`npm test\` as a user that may install packages (root or passwordless sudo), which installs Debian's chromium`);
      return;
    }
    const s = await startApiSwitch(t, kind);
    t.ok(s.logs.some((l) => l.includes('"switch listening"') && l.includes(`"dashboard":"http://127.0.0.1:${s.app.httpPort}/dashboard"`)), 'the start-up line names the dashboard URL');
    await t.test('static files', (t) => staticAnswers(t, s));
    await t.test('stats.json', (t) => statsAnswer(t, s));
    await t.test('the page in chromium', (t) => pageInBrowser(t, s, kind));
  });
}

async function pageInBrowser(t: Test, s: ApiSwitch, kind: ServerKind): Promise<void> {
  const card = await fundedCard(s.api);
  const browser = await launch(t);
  const { page, trouble } = await openDashboard(browser, s.app.httpPort);
  await feedLive(page);

  const iso = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => iso.close());
  t.equal((await iso.request(auth(card.pan, card.expiry, '000001', 2_500)))['39'], '00', 'approved over ISO');
  await rowShown(page, card.masked, '00');
  t.equal((await iso.request(auth(card.pan, card.expiry, '000002', 900_000)))['39'], '51', 'more than the balance: declined 51');
  await rowShown(page, card.masked, '51');
  await until(page, `${text('declines')}.includes('INSUFFICIENT_FUNDS (51)')`);
  await until(page, `document.querySelectorAll('#partners tbody tr').length === 3 && ${text('tile-total')} === '2'`);

  const rows = await page.$$eval('#transactions tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  t.match(rows[1], [/^\d\d:\d\d:\d\d\.\d{3}$/, '0100', card.masked, '25.00 EUR', '00', 'APPROVED'], 'the approval: time, MTI, masked PAN, amount, code, reason');
  t.match(rows[0], [/./, '0100', card.masked, /EUR$/, '51', 'INSUFFICIENT_FUNDS'], 'the decline, newest first');
  const partners = await page.$$eval('#partners tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  t.same(partners.map((r) => r[0]).sort(), ['COMPANY', 'CREDIT', 'DEPOSIT'], 'the three partner balances');
  t.equal(await page.$eval('#tile-outbox', (e) => e.textContent), '0', 'outbox depth: 0 (nothing waiting for a partner)');

  const html = await page.content();
  t.ok(html.includes(card.masked), 'the page shows the masked PAN');
  t.notOk(html.includes(card.pan), 'the page never holds the full PAN');
  mkdirSync(ARTIFACTS, { recursive: true });
  const shot = join(ARTIFACTS, `dashboard-${kind}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  t.comment(`screenshot: ${shot}`);
  t.same(trouble, { console: [], failed: [] }, 'no console error, no failed request');

  // uWS refuses to listen again on the port it just closed within the same process (EADDRINUSE),
  // so the restart on the same port runs on node:http only.
  if (kind === 'node') await reconnects(t, s, kind, page);
}

/** The switch stops and another starts on the same HTTP port: the page's feed comes back by itself. */
async function reconnects(t: Test, s: ApiSwitch, kind: ServerKind, page: Page): Promise<void> {
  const port = s.app.httpPort;
  await s.app.stop();
  await until(page, `${text('feed-status')}.startsWith('feed: reconnecting')`);
  const next = await startApiSwitch(t, kind, { HTTP_PORT: String(port) });
  const card = await fundedCard(next.api);
  await feedLive(page);
  const iso = await IsoClient.connect(next.app.isoPort);
  t.teardown(() => iso.close());
  t.equal((await iso.request(auth(card.pan, card.expiry, '000003', 1_000)))['39'], '00');
  await rowShown(page, card.masked, '00');
  t.pass('after the feed dropped, the page reconnected and shows the next authorization');
}

t.test('the first reading after a quiet spell shows no rate: only a baseline of the last 5 s makes one', async (t) => {
  const registry = new Registry();
  const answers = new Counter({ name: 'switch_messages_total', help: 'h', labelNames: ['mti', 'code'], registers: [registry] });
  const latency = new Histogram({ name: 'switch_message_latency_seconds', help: 'h', labelNames: ['mti', 'code'], buckets: [0.001, 0.01], registers: [registry] });
  let nowMs = 1_000_000;
  const sampler = new RegistrySampler(async () => registry, nowMs, () => nowMs);
  answers.labels('0100', '00').inc(2000);
  latency.labels('0100', '00').observe(0.0005);
  nowMs += 60_000;
  const first = await sampler.stats();
  t.equal(first.answersTotal, 2000);
  t.equal(first.answersPerSecond, null, 'a minute since the last reading: no rate (not 2000/60)');
  t.equal(first.latencySecondsP50, null);
  nowMs += 1000;
  answers.labels('0100', '00').inc(10);
  const next = await sampler.stats();
  t.equal(next.answersPerSecond, 10, 'a second later: the rate of that second');
  nowMs += 1000;
  t.equal((await sampler.stats()).answersPerSecond, 0, 'an idle second: 0');
});

t.test('latency quantiles from histogram buckets, as histogram_quantile estimates them', async (t) => {
  const le = [0.001, 0.002, 0.005, Infinity];
  const rows: Array<[string, number[], number, number | null]> = [
    ['nothing observed', [0, 0, 0, 0], 0.5, null],
    ['all in the first bucket: interpolated from 0', [4, 4, 4, 4], 0.5, 0.0005],
    ['median inside the second bucket', [2, 6, 8, 8], 0.5, 0.0015],
    ['p99 in the +Inf bucket: the largest finite bound', [0, 0, 90, 100], 0.99, 0.005],
    ['p99 exactly at a bound', [0, 0, 100, 100], 0.99, 0.00497],
  ];
  for (const [name, cumulative, q, want] of rows) {
    const got = quantile(q, { le, cumulative });
    if (want === null) t.equal(got, null, name);
    else t.ok(got !== null && Math.abs(got - want) < 1e-9, `${name}: ${got} ≈ ${want}`);
  }
  t.same(subtractBuckets({ le, cumulative: [5, 7, 9, 10] }, { le: [0.001, Infinity], cumulative: [1, 3] }).cumulative, [4, 7, 9, 7], 'a bound missing from the baseline counts 0');
});

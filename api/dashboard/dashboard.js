// The dashboard page (docs/dashboard.md). Two sources, both on the switch that served the page:
//   /feed                     WebSocket: each decided money message (PAN already masked), reconnected when it drops
//   /dashboard/stats.json     polled every second: answers/s, latency quantiles, decisions by reason,
//                             in-flight, worker queue, outbox depth, partner balances
// Everything is written with textContent: nothing from the switch is parsed as HTML.
// When the switch needs API keys (API_KEYS_FILE), both answer 401: the page then asks for a read
// key, keeps it in this tab's sessionStorage, and sends it as `Authorization: Bearer` on stats.json
// and as the WebSocket subprotocol `antaca.bearer.<key>` on /feed (a browser cannot set headers there).
import uPlot from '/dashboard/vendor/uPlot.esm.js';
import { clock, count, millis, money, NOT_DECLINED } from '/dashboard/format.js';

/** Rows kept in the live transactions table. */
const TRANSACTIONS_SHOWN_MAX = 50;
/** Points kept in each chart: two minutes at one poll per second. */
const CHART_POINTS_MAX = 120;
const STATS_POLL_MS = 1000;
/** Reconnect delays of the feed: doubled after each failed attempt, back to the first once open. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 10_000;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

// ---- the API key, when the switch asks for one ----

const KEY_STORAGE = 'antaca.apiKey';

/** @returns {string|null} */
function apiKey() {
  try { return sessionStorage.getItem(KEY_STORAGE); } catch { return null; }
}

/** Shows the key form (the switch answered 401); a key entered there is used from the next request on. */
function askForKey() {
  const form = /** @type {HTMLFormElement} */ ($('key-form'));
  if (!form.hidden) return;
  form.hidden = false;
  form.onsubmit = (ev) => {
    ev.preventDefault();
    const key = /** @type {HTMLInputElement} */ ($('key-input')).value.trim();
    if (key === '') return;
    try { sessionStorage.setItem(KEY_STORAGE, key); } catch { /* storage off: the key is lost on reload */ }
    form.hidden = true;
  };
}

/**
 * @param {string} tag
 * @param {string} text
 * @param {string} [className]
 */
function cell(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

// ---- live transactions (the feed) ----

/** @param {{timeMs:number, mti:string, responseCode:string, reason:string, maskedPan:string|null, amountMinor:number, currency:string|null}} e */
function transactionRow(e) {
  const tr = document.createElement('tr');
  const approved = e.reason === 'APPROVED' || e.reason === 'ACCOUNT_VERIFIED';
  tr.className = 'fresh';
  tr.dataset.pan = e.maskedPan ?? '';
  tr.dataset.code = e.responseCode;
  tr.append(
    cell('td', clock(e.timeMs), 'mono'),
    cell('td', e.mti, 'mono'),
    cell('td', e.maskedPan ?? '—', 'mono'),
    cell('td', money(e.amountMinor, e.currency), 'num'),
    cell('td', e.responseCode, `mono ${approved ? 'code-ok' : 'code-bad'}`),
    cell('td', e.reason),
  );
  setTimeout(() => tr.classList.remove('fresh'), 1500);
  return tr;
}

/** @param {readonly any[]} events in decision order */
function showTransactions(events) {
  const body = /** @type {HTMLTableSectionElement} */ ($('transactions').querySelector('tbody'));
  for (const e of events) body.prepend(transactionRow(e));
  while (body.rows.length > TRANSACTIONS_SHOWN_MAX) body.deleteRow(-1);
  $('transactions-empty').hidden = body.rows.length > 0;
}

/** @param {boolean} up @param {string} text */
function feedStatus(up, text) {
  const el = $('feed-status');
  el.textContent = `feed: ${text}`;
  el.className = `status ${up ? 'status-up' : 'status-down'}`;
}

/** Opens /feed and keeps it open: a dropped socket is reopened after a growing delay. */
function connectFeed() {
  let delayMs = RECONNECT_FIRST_MS;
  const open = () => {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/feed`;
    const key = apiKey();
    let ws;
    try {
      ws = new WebSocket(url, key === null ? [] : ['antaca.feed', `antaca.bearer.${key}`]);
    } catch {
      // A key with characters a subprotocol cannot carry.
      feedStatus(false, 'this API key cannot be sent on a WebSocket');
      askForKey();
      setTimeout(open, RECONNECT_MAX_MS);
      return;
    }
    ws.onopen = () => { delayMs = RECONNECT_FIRST_MS; feedStatus(true, 'live'); };
    ws.onmessage = (m) => {
      let frame;
      try { frame = JSON.parse(String(m.data)); } catch { return; }
      if (frame.type === 'transactions' && Array.isArray(frame.events)) showTransactions(frame.events);
    };
    ws.onclose = () => {
      feedStatus(false, `reconnecting in ${(delayMs / 1000).toFixed(1)} s`);
      setTimeout(open, delayMs);
      delayMs = Math.min(delayMs * 2, RECONNECT_MAX_MS);
    };
  };
  open();
}

// ---- charts ----

/**
 * A time-series chart in `el`, series after the time axis.
 * @param {HTMLElement} el
 * @param {{label:string, stroke:string}[]} series
 */
function chart(el, series) {
  const width = () => Math.max(300, el.clientWidth);
  const data = [[], ...series.map(() => [])];
  const plot = new uPlot({
    width: width(), height: 220,
    legend: { show: true },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(max, min, 1) * 1.1] } },
    series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: false }))],
    axes: [{}, { size: 60 }],
  }, /** @type {any} */ (data), el);
  addEventListener('resize', () => plot.setSize({ width: width(), height: 220 }));
  return {
    /** @param {number} timeMs @param {(number|null)[]} values */
    push(timeMs, values) {
      data[0].push(timeMs / 1000);
      values.forEach((v, i) => data[i + 1].push(v));
      if (data[0].length > CHART_POINTS_MAX) for (const col of data) col.shift();
      plot.setData(/** @type {any} */ (data));
    },
  };
}

// ---- polled numbers ----

/** @param {readonly {reason:string, responseCode:string, count:number}[]} decisions */
function showDeclines(decisions) {
  const declines = decisions.filter((d) => !NOT_DECLINED.has(d.reason));
  const list = $('declines');
  const most = Math.max(1, ...declines.map((d) => d.count));
  list.replaceChildren(...declines.map((d) => {
    const li = document.createElement('li');
    const bar = cell('span', '', 'bar');
    bar.style.width = `${(100 * d.count) / most}%`;
    li.append(cell('span', `${d.reason} (${d.responseCode})`, 'name'), cell('span', count(d.count), 'count'), bar);
    return li;
  }));
  $('declines-empty').hidden = declines.length > 0;
}

/** @param {readonly {type:string, currency:string, configId:string, available:number, blocked:number}[]} balances @param {boolean} truncated */
function showPartners(balances, truncated) {
  const body = /** @type {HTMLTableSectionElement} */ ($('partners').querySelector('tbody'));
  body.replaceChildren(...balances.map((b) => {
    const tr = document.createElement('tr');
    tr.append(cell('td', b.type), cell('td', b.configId, 'mono'), cell('td', money(b.available, b.currency), 'num'), cell('td', money(b.blocked, b.currency), 'num'));
    return tr;
  }));
  const empty = $('partners-empty');
  empty.hidden = balances.length > 0 && !truncated;
  empty.textContent = truncated ? `Showing the first ${balances.length} partner balances.` : 'No partner balance yet.';
}

/** @param {any} s the answer of /dashboard/stats.json */
function showStats(s, throughput, latency) {
  $('tile-rate').textContent = count(s.answersPerSecond, 1);
  $('tile-p50').textContent = millis(s.latencySecondsP50);
  $('tile-p99').textContent = millis(s.latencySecondsP99);
  $('tile-inflight').textContent = count(s.inflight);
  $('tile-queue').textContent = count(s.poolQueue);
  $('tile-connections').textContent = count(s.connections);
  $('tile-outbox').textContent = count(s.outboxDepth);
  $('tile-total').textContent = count(s.answersTotal);
  throughput.push(s.timeMs, [s.answersPerSecond]);
  latency.push(s.timeMs, [s.latencySecondsP50 === null ? null : s.latencySecondsP50 * 1000, s.latencySecondsP99 === null ? null : s.latencySecondsP99 * 1000]);
  showDeclines(s.decisions);
  showPartners(s.partnerBalances, s.partnerBalancesTruncated);
}

/** Polls stats.json once a second, one request at a time. */
function pollStats() {
  const throughput = chart($('chart-throughput'), [{ label: 'answers/s', stroke: '#2563eb' }]);
  const latency = chart($('chart-latency'), [{ label: 'p50', stroke: '#2563eb' }, { label: 'p99', stroke: '#d97706' }]);
  const status = $('stats-status');
  const once = async () => {
    try {
      const key = apiKey();
      const r = await fetch('/dashboard/stats.json', { cache: 'no-store', headers: key === null ? {} : { authorization: `Bearer ${key}` } });
      if (r.status === 401) askForKey();
      if (!r.ok) throw new Error(r.status === 401 ? 'an API key is needed' : `HTTP ${r.status}`);
      showStats(await r.json(), throughput, latency);
      status.textContent = `stats: ${clock(Date.now()).slice(0, 8)}`;
      status.className = 'status status-up';
    } catch (e) {
      status.textContent = `stats: unavailable (${e instanceof Error ? e.message : String(e)})`;
      status.className = 'status status-down';
    }
    setTimeout(once, STATS_POLL_MS);
  };
  void once();
}

connectFeed();
pollStats();

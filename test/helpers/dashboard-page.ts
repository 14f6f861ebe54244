// The dashboard page in headless Debian chromium (puppeteer-core), for the dashboard tests: a
// browser with a throwaway profile, the page opened with everything it reports as wrong collected,
// waits on the page's own state, and a funded card to authorize with over ISO 8583.
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { issueVirtualCard, walletWithBalance, type ApiClient } from './api.js';
import type { IsoJson } from './iso-client.js';
import { projectRoot } from '../../ledger/scripts.js';

const DEMO = '0019167984';
export const CHROMIUM = process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium';
export const ARTIFACTS = join(projectRoot(), 'var', 'test-artifacts');
/** A guard against a hung browser, not a speed target: the page normally shows a row within a second or two. */
export const PAGE_WAIT_MS = 60_000;

export function auth(pan: string, expiry: string, stan: string, amountMinor: number): IsoJson {
  return {
    0: '0100', 2: pan, 3: '000000', 4: String(amountMinor).padStart(12, '0'), 7: '1125101500', 11: stan,
    12: '101500', 13: '1125', 14: expiry, 18: '5411', 22: '051', 32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001',
    42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(23) + 'WARSAW'.padEnd(14) + 'POL', 49: '978',
  } as IsoJson;
}

/** Deposit and credit partner balances reloaded, a customer with 200.00 EUR and a virtual card: what an approval needs. */
export async function fundedCard(api: ApiClient): Promise<{ pan: string; expiry: string; masked: string }> {
  for (const [type, amount] of [['DEPOSIT', 1_000_000], ['CREDIT', 500_000], ['COMPANY', 0]] as const) {
    const p = await api.post('/secure/partner-balances', { type, currency: 'EUR', configId: DEMO });
    if (p.status !== 201) throw new Error(`${type}: ${p.status} ${p.text}`);
    if (amount > 0) await api.post(`/secure/partner-balances/${p.json.id}/reload`, { amount });
  }
  const { customerId, balanceId } = await walletWithBalance(api);
  const top = await api.post(`/secure/customers/${customerId}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: 20_000, currency: 'EUR' });
  if (top.status !== 201) throw new Error(`top-up: ${top.status} ${top.text}`);
  const card = await issueVirtualCard(api, customerId, balanceId);
  return { pan: card.pan, expiry: card.expiry, masked: `${card.pan.slice(0, 6)}******${card.pan.slice(-4)}` };
}

/** Everything the browser reported as wrong, from the moment the page is opened. */
export interface Trouble { console: string[]; failed: string[] }

export async function openDashboard(browser: Browser, port: number): Promise<{ page: Page; trouble: Trouble }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1440, height: 1000 });
  const trouble: Trouble = { console: [], failed: [] };
  page.on('console', (m) => { if (m.type() === 'error') trouble.console.push(m.text()); });
  page.on('pageerror', (e) => trouble.console.push(String(e)));
  page.on('requestfailed', (r) => trouble.failed.push(`${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
  page.on('response', (r) => { if (r.status() >= 400) trouble.failed.push(`${r.url()}: ${r.status()}`); });
  await page.goto(`http://127.0.0.1:${port}/dashboard`, { waitUntil: 'load' });
  return { page, trouble };
}

/** Waits until `expression` (JavaScript run in the page) is true. Strings: the test is type-checked without the DOM library. */
export function until(page: Page, expression: string): Promise<unknown> {
  return page.waitForFunction(expression, { timeout: PAGE_WAIT_MS });
}

export const text = (id: string) => `(document.getElementById(${JSON.stringify(id)})?.textContent ?? '')`;

/** Waits until the live transactions table has a row of this masked PAN with this response code. */
export function rowShown(page: Page, masked: string, code: string): Promise<unknown> {
  return until(page, `[...document.querySelectorAll('#transactions tbody tr')].some((r) => r.dataset.pan === ${JSON.stringify(masked)} && r.dataset.code === ${JSON.stringify(code)})`);
}

export function feedLive(page: Page): Promise<unknown> {
  return until(page, `${text('feed-status')} === 'feed: live'`);
}

export async function launch(t: Test): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'antaca-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true, pipe: true, userDataDir: profile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  t.teardown(async () => { await browser.close().catch(() => {}); rmSync(profile, { recursive: true, force: true }); });
  return browser;
}


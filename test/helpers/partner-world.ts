// A switch with partner-mode programs against partner simulators over HTTPS with client
// certificates (real redis-server, real sockets), for the partner tests: one EXTERNAL_BALANCE and
// one SHARED_AUTHORIZATION program by default, each with a funded DEPOSIT balance; program fields
// and switch environment may be overridden per test.
import type { Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki, type Pki } from './pki.js';
import { startSim } from './partner.js';
import { EXP, startWorld, type Card, type World } from './e2e.js';
import { ApiClient } from './api.js';
import type { RunningPartnerSim } from '../../simulators/partner/server.js';

export const EXT = { configId: '0000000041', bin: '55577041' };
export const SHA = { configId: '0000000042', bin: '55577042' };

export interface PartnerWorld { w: World; ext: RunningPartnerSim; sha: RunningPartnerSim; pki: Pki; api: ApiClient }

/** Programs `budgetMs` 1000, `partner.timeoutMs` 400 unless overridden; deposits of 1,000,000 minor units. */
export async function partnerWorld(t: Test, o: { ext?: Record<string, unknown>; sha?: Record<string, unknown>; env?: Record<string, string> } = {}): Promise<PartnerWorld> {
  const pki = makePki(t);
  const ext = await startSim(t, pki, { mode: 'EXTERNAL_BALANCE' });
  const sha = await startSim(t, pki, { mode: 'SHARED_AUTHORIZATION' });
  const dir = mkdtempSync(join(tmpdir(), 'antaca-partner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const partner = (url: string) => ({ baseUrl: url, timeoutMs: 400, cert: pki.path('client.pem'), key: pki.path('client.key'), ca: pki.path('ca.pem') });
  const file = join(dir, 'programs.json');
  // The partner modes are what these programs test: they verify the card data a message carries
  // and require none (RELAXED), as the e2e programs do (test/cardauth-e2e.test.ts covers STRICT).
  writeFileSync(file, JSON.stringify([
    { ...EXT, currency: 'EUR', mode: 'EXTERNAL_BALANCE', budgetMs: 1000, partner: partner(ext.url), cardholderVerification: 'RELAXED', ...o.ext },
    { ...SHA, currency: 'EUR', mode: 'SHARED_AUTHORIZATION', budgetMs: 1000, partner: partner(sha.url), cardholderVerification: 'RELAXED', ...o.sha },
  ]));
  const w = await startWorld(t, '1987', { PROGRAMS_FILE: file, ...o.env });
  for (const p of [EXT, SHA]) {
    const dep = await w.ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: p.configId });
    await w.ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: 1_000_000, idempotencyKey: 'dep-' + p.configId });
  }
  return { w, ext, sha, pki, api: new ApiClient(w.s.app.httpPort) };
}

let customers = 0;

/** A customer with KYC SUCCESS, created through the API; its id. */
export async function newCustomer(pw: PartnerWorld): Promise<string> {
  const n = ++customers;
  const r = await pw.api.post('/lifecycle/v1/wallet', { firstName: 'Eva', lastName: `Lind${n}`, phone: `+4670000${String(n).padStart(4, '0')}`, email: `eva${n}@example.se`, birthDate: '1990-02-03', state: 'Stockholm', kyc: 'SUCCESS' });
  if (r.status !== 201) throw new Error(`customer not created: ${r.status} ${r.text}`);
  return String(r.json.id);
}

/**
 * An EXTERNAL_BALANCE balance created through the API (linked at the partner), funded at the
 * partner with `amountMinor`, and a card on it.
 */
export async function externalCard(pw: PartnerWorld, n: number, amountMinor: number, customerId?: string): Promise<Card> {
  const cust = customerId ?? await newCustomer(pw);
  const bal = await pw.api.post(`/secure/customers/${cust}/balances`, { currency: 'EUR', configId: EXT.configId });
  if (bal.status !== 201) throw new Error(`balance not created: ${bal.status} ${bal.text}`);
  const balanceId = bal.json.id as string;
  const b = pw.ext.sim.balance(balanceId)!;
  pw.ext.sim.setBalance({ ...b, amount: amountMinor });
  const pan = EXT.bin + String(n).padStart(8, '0');
  const cardId = `ext-card-${n}`;
  await pw.w.cards.put(pan, { id: cardId, customerId: cust, balanceId, configId: EXT.configId, currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock: 0 });
  return { pan, cardId, balanceId, expiry: EXP, customerId: cust };
}

/** A SHARED_AUTHORIZATION balance of the switch, topped up with `topUpMinor`, and a card on it. */
export async function sharedCard(pw: PartnerWorld, n: number, topUpMinor: number): Promise<Card> {
  const customerId = `sha-${n}`;
  const bal = await pw.w.ledger.createUserBalance({ customerId, currency: 'EUR', configId: SHA.configId });
  await pw.w.ledger.post({ type: 'TOPUP', idempotencyKey: `sha-top-${n}`, txId: `sha-top-${n}`, balanceId: bal.id, amountMinor: topUpMinor, partnerId: null });
  const pan = SHA.bin + String(n).padStart(8, '0');
  const cardId = `sha-card-${n}`;
  await pw.w.cards.put(pan, { id: cardId, customerId, balanceId: bal.id, configId: SHA.configId, currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock: 0 });
  return { pan, cardId, balanceId: bal.id, expiry: EXP, customerId };
}

/** Waits (bounded: 20 s) until `cond()` holds; returns whether it did. */
export async function eventually(cond: () => boolean | Promise<boolean>, boundMs = 20_000): Promise<boolean> {
  const until = Date.now() + boundMs;
  while (Date.now() < until) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

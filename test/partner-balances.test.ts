// External Balance's list and delete of balances (seed "Get balance collection", "Delete balance"),
// wired into the management API: GET /secure/customers/{id}/balances lists the customer's balances
// with EXTERNAL_BALANCE amounts from the partner's list, and DELETE .../balances/{balanceId}
// deletes a balance only at zero, at the partner too. Against the partner simulator over HTTPS with
// client certificates and a real redis-server.
import t from 'tap';
import { externalCard, newCustomer, partnerWorld, sharedCard } from './helpers/partner-world.js';
import { msg, send, assertLedgerSound, f90 } from './helpers/e2e.js';

t.test('list: EXTERNAL_BALANCE amounts as the partner lists them; a partner down answers 503', async (t) => {
  const pw = await partnerWorld(t);
  const cust = await newCustomer(pw);
  const a = await externalCard(pw, 1, 7_000, cust);
  const b = await externalCard(pw, 2, 0, cust);
  const list = await pw.api.get(`/secure/customers/${cust}/balances`);
  t.equal(list.status, 200);
  const byId = new Map((list.json.items as { id: string }[]).map((x) => [x.id, x]));
  t.same([...byId.keys()].sort(), [a.balanceId, b.balanceId].sort(), 'both balances of the customer');
  t.match(byId.get(a.balanceId), { available: 7_000, blocked: 0, partnerListed: true, cards: [{ id: 'ext-card-1' }] }, 'the amount the partner lists');
  t.match(byId.get(b.balanceId), { available: 0, partnerListed: true });
  const lists = pw.ext.sim.calls(`/users/${cust}/balances`).filter((c) => c.method === 'GET');
  t.equal(lists.length, 1, 'one list call at the partner for the program');

  pw.ext.sim.configure({ errorRate: 1 });
  const down = await pw.api.get(`/secure/customers/${cust}/balances`);
  t.equal(down.status, 503, 'a partner that answers 500');
  t.equal(down.json.title, 'PARTNER_UNAVAILABLE');
  pw.ext.sim.configure({ errorRate: 0 });
  t.equal((await pw.api.get('/secure/customers/999999/balances')).status, 404, 'an unknown customer');
});

t.test('delete: only at zero, at the partner first, the partner\'s titles passed on', async (t) => {
  const pw = await partnerWorld(t);
  const cust = await newCustomer(pw);
  const card = await externalCard(pw, 3, 5_000, cust);
  const path = `/secure/customers/${cust}/balances/${card.balanceId}`;
  const withCard = await pw.api.delete(path);
  t.equal(withCard.status, 409, 'a card on it can still be used');
  t.equal(withCard.json.title, 'BALANCE_HAS_CARDS');
  t.equal((await pw.api.post(`/secure/customers/${cust}/cards/${card.cardId}/lock`, { reason: 1 })).status, 204, 'card reported lost');

  const money = await pw.api.delete(path);
  t.equal(money.status, 409, 'the partner holds money on it');
  t.equal(money.json.title, 'BALANCE_NOT_EMPTY');
  t.equal(pw.ext.sim.calls(`/users/${cust}/balances/`).filter((c) => c.method === 'DELETE').length, 0, 'the partner was not asked to delete it');
  t.ok(pw.ext.sim.balance(card.balanceId), 'the partner still has it');

  // The partner's own answers: another user's balance (403 FORBIDDEN), then money arriving between
  // the read and the delete, as the partner sees it (409 CLIENT_ERROR).
  const sim = pw.ext.sim.balance(card.balanceId)!;
  pw.ext.sim.setBalance({ ...sim, amount: 0, userId: 'someone-else' });
  const forbidden = await pw.api.delete(path);
  t.equal(forbidden.status, 403, "the partner's status");
  t.equal(forbidden.json.title, 'FORBIDDEN', "and title");
  pw.ext.sim.setBalance({ ...sim, amount: 0 });

  const ok = await pw.api.delete(path);
  t.equal(ok.status, 204, 'deleted at zero');
  t.notOk(pw.ext.sim.balance(card.balanceId), 'the partner deleted it');
  const del = pw.ext.sim.calls(`/users/${cust}/balances/${card.balanceId}`).filter((c) => c.method === 'DELETE' && c.status === 204);
  t.equal(del.length, 1, 'one DELETE answered 204');
  t.ok(del[0]?.idempotencyKey, 'with an X-Idempotency-Key');
  t.equal((await pw.api.get(path)).status, 404, 'the balance is gone from the API');
  t.same((await pw.api.get(`/secure/customers/${cust}/balances`)).json.items, [], 'and from the list');
  t.equal((await pw.api.delete(path)).status, 404, 'a second delete: not found');
  t.equal((await pw.api.post(`${path}/transactions`, { type: 'TOPUP', amount: 100, currency: 'EUR' })).status, 404, 'no money goes to it');

  // A second balance of the customer, card replaced, nothing on it: deleted too.
  const other = await externalCard(pw, 4, 0, cust);
  await pw.api.post(`/secure/customers/${cust}/cards/${other.cardId}/lock`, { reason: 8 });
  const gone = await pw.api.delete(`/secure/customers/${cust}/balances/${other.balanceId}`);
  t.equal(gone.status, 204);
  await assertLedgerSound(t, pw.w);
});

t.test('delete: EXTERNAL_BALANCE refuses while the switch holds an authorization; a switch-held balance needs zero', async (t) => {
  const pw = await partnerWorld(t);
  const card = await externalCard(pw, 5, 3_000);
  const auth = msg('0100', card, '000001', '00', 3_000);
  t.equal((await send(pw.w, auth)).res['39'], '00', 'the partner approves and takes it all');
  t.equal(pw.ext.sim.balance(card.balanceId)?.amount, 0, 'the partner holds nothing now');
  await pw.api.post(`/secure/customers/${card.customerId}/cards/${card.cardId}/lock`, { reason: 2 });
  const held = await pw.api.delete(`/secure/customers/${card.customerId}/balances/${card.balanceId}`);
  t.equal(held.status, 409, 'the deposit hold of the authorization is still open here');
  t.equal(held.json.title, 'BALANCE_NOT_EMPTY');
  t.equal((await send(pw.w, msg('0400', card, '000002', '00', 3_000, { 7: '1126101500', 90: f90(auth) }))).res['39'], '00', 'the scheme reverses it');
  const partnerHasIt = async () => pw.ext.sim.balance(card.balanceId)?.amount === 3_000;
  for (let i = 0; i < 400 && !(await partnerHasIt()); i++) await new Promise((r) => setTimeout(r, 50));
  const back = await pw.api.delete(`/secure/customers/${card.customerId}/balances/${card.balanceId}`);
  t.equal(back.status, 409, 'the money is back at the partner: not empty');

  const shared = await sharedCard(pw, 6, 1_000);
  const sh = await pw.api.delete(`/secure/customers/${shared.customerId}/balances/${shared.balanceId}`);
  t.equal(sh.status, 409);
  t.equal(sh.json.title, 'BALANCE_NOT_EMPTY', 'a SHARED_AUTHORIZATION balance with money on it (the switch holds it)');
  t.equal(pw.sha.sim.calls('/users/').length, 0, 'a SHARED_AUTHORIZATION partner is never asked about balances');
  await assertLedgerSound(t, pw.w);
});

// The ISO 8583 link over TLS with required client certificates (ISO_TLS_CERT, ISO_TLS_KEY,
// ISO_TLS_CA; SPEC §1), with a PKI made by openssl at run time. A client with a certificate from
// the CA gets its 0800 echoed and its 0100 decided; a client without a certificate, with one from
// another CA, or speaking plain TCP is refused during the handshake, counted in a metric and
// logged (at most once a second), while the good client's connection keeps being served.
import t from 'tap';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { writeFileSync } from 'node:fs';
import { frame } from '../switch/net/framer.js';
import { loadConfig } from '../app/config.js';
import { handshakeFailure } from '../switch/net/transport.js';
import { startTestSwitch } from './helpers/switch.js';
import { ApiClient, issueVirtualCard, walletWithBalance } from './helpers/api.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { makePki, type Pki } from './helpers/pki.js';

const ECHO = (stan: string): IsoJson => ({ 0: '0800', 7: '1125101500', 11: stan, 70: '301' });

function auth(pan: string, expiry: string, stan: string, amountMinor: number): IsoJson {
  return {
    0: '0100', 2: pan, 3: '000000', 4: String(amountMinor).padStart(12, '0'), 7: '1125101500', 11: stan,
    12: '101500', 13: '1125', 14: expiry, 18: '5411', 22: '051', 32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001',
    42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(22) + 'WARSAW'.padEnd(15) + 'POL', 49: '978',
  } as IsoJson;
}

/** What a refused peer sees: every byte it got before the close (an ISO answer would start with a length and 0810). */
interface Refusal { bytes: Buffer; error: string | null }

/** Connects over TLS, sends an 0800 as soon as the client side thinks it is connected, and waits for the close. */
function tlsAttempt(port: number, pki: Pki, opts: ConnectionOptions, echo: Buffer): Promise<Refusal> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | null = null;
    const s = tlsConnect({ port, host: '127.0.0.1', servername: 'localhost', ca: pki.read('ca.pem'), ...opts }, () => s.write(echo));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e: Error & { code?: string }) => { error = e.code ?? e.message; });
    s.on('close', () => resolve({ bytes: Buffer.concat(chunks), error }));
  });
}

/** Plain TCP to the TLS port: an ISO 0800 frame where a ClientHello is expected. */
function plainAttempt(port: number, echo: Buffer): Promise<Refusal> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | null = null;
    const s = netConnect({ port, host: '127.0.0.1' }, () => s.write(echo));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', (e: Error & { code?: string }) => { error = e.code ?? e.message; });
    s.on('close', () => resolve({ bytes: Buffer.concat(chunks), error }));
  });
}

/** The refusal counter by reason, read from GET /metrics. */
async function refusals(api: ApiClient): Promise<Record<string, number>> {
  const text = (await api.get('/metrics')).text;
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^switch_iso_tls_handshake_failures_total\{reason="([a-z_]+)"\} (\d+)$/gm)) out[m[1] as string] = Number(m[2]);
  return out;
}

/** Polls the metric until `want` is reached (a refusal is counted when the server side sees it, which may be after the client's close). */
async function untilRefusals(api: ApiClient, want: Record<string, number>): Promise<Record<string, number>> {
  for (;;) {
    const have = await refusals(api);
    if (Object.entries(want).every(([k, v]) => (have[k] ?? 0) >= v)) return have;
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('ISO link over TLS with required client certificates', async (t) => {
  const pki = makePki(t);
  const s = await startTestSwitch(t, { env: { ISO_TLS_CERT: pki.path('server.pem'), ISO_TLS_KEY: pki.path('server.key'), ISO_TLS_CA: pki.path('ca.pem') } });
  const port = s.app.isoPort;
  const api = new ApiClient(s.app.httpPort);
  t.ok(s.logs.some((l) => l.includes('ISO 8583 link speaks TLS')), 'start-up says the link is TLS');

  const { customerId, balanceId } = await walletWithBalance(api);
  t.equal((await api.post(`/secure/customers/${customerId}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: 10_000, currency: 'EUR' })).status, 201);
  const card = await issueVirtualCard(api, customerId, balanceId);

  const good = await IsoClient.connectTls(port, { ca: pki.read('ca.pem'), cert: pki.read('client.pem'), key: pki.read('client.key') });
  t.teardown(() => good.close());
  const e1 = await good.request(ECHO('000001'));
  t.match(e1, { 0: '0810', 11: '000001', 39: '00' }, 'an accepted client certificate: 0800 echoed');
  t.equal((await good.request(auth(card.pan, card.expiry, '000002', 2_500)))['39'], '00', 'and an 0100 approved');
  const echoFrame = good.pack(ECHO('000009'));
  const started = Date.now();

  const cases: Array<[string, () => Promise<Refusal>]> = [
    ['no client certificate', () => tlsAttempt(port, pki, {}, echoFrame)],
    ['a certificate from another CA', () => tlsAttempt(port, pki, { cert: pki.read('rogue.pem'), key: pki.read('rogue.key') }, echoFrame)],
    ['plain TCP', () => plainAttempt(port, echoFrame)],
  ];
  let stan = 10;
  for (const [name, attempt] of cases) {
    const r = await attempt();
    t.notOk(r.bytes.includes(Buffer.from('0810')), `${name}: refused, the 0800 is never answered`);
    const e = await good.request(ECHO(String(++stan).padStart(6, '0')));
    t.equal(e['39'], '00', `${name}: the good connection is still served`);
  }
  t.same(await untilRefusals(api, { no_certificate: 1, untrusted_certificate: 1, not_tls: 1 }), { no_certificate: 1, untrusted_certificate: 1, not_tls: 1 },
    'each refusal is counted once, by reason');

  // A burst of refusals: each is counted, the log says so at most once a second.
  const burst = 15;
  for (let i = 0; i < burst; i++) await plainAttempt(port, echoFrame);
  await untilRefusals(api, { not_tls: 1 + burst });
  const elapsedMs = Date.now() - started;
  const lines = s.logs.filter((l) => l.includes('TLS handshake refused')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.ok(lines.length >= 1, 'refusals are logged');
  t.ok(lines.length <= 1 + Math.ceil(elapsedMs / 1000), `at most one line a second (${lines.length} lines in ${elapsedMs} ms for ${3 + burst} refusals)`);
  t.match(lines[0], { level: 'warn', peer: /^127\.0\.0\.1:\d+$/, reason: /^(no_certificate|untrusted_certificate|not_tls)$/, detail: String });
  const unlogged = lines.reduce((n, l) => n + Number(l.refusedUnloggedSinceLastLine), 0);
  t.ok(unlogged <= 3 + burst - lines.length, 'the lines account for the refusals they skipped');

  t.equal((await good.request(auth(card.pan, card.expiry, '000099', 1_000)))['39'], '00', 'the good client is served throughout');
  t.notOk(s.logs.some((l) => l.includes(card.pan)), 'no PAN in any log line');
});

t.test('ISO_TLS_* go together; unreadable or unusable files stop start-up with one line', async (t) => {
  t.throws(() => loadConfig({ ISO_TLS_CERT: 'server.pem' }), { message: 'ISO_TLS_CERT, ISO_TLS_KEY and ISO_TLS_CA go together: set all three or none (missing: ISO_TLS_KEY, ISO_TLS_CA)' });
  t.throws(() => loadConfig({ ISO_TLS_KEY: 'k', ISO_TLS_CA: 'c' }), { message: /\(missing: ISO_TLS_CERT\)$/ });
  t.equal(loadConfig({}).isoTls, null, 'plain TCP by default');

  const pki = makePki(t);
  const missing = pki.path('nope.pem');
  const bad = startTestSwitch(t, { env: { ISO_TLS_CERT: pki.path('server.pem'), ISO_TLS_KEY: missing, ISO_TLS_CA: pki.path('ca.pem') } });
  await t.rejects(bad, { code: 'SW_ERR_CONFIG', message: `ISO_TLS_KEY=${missing} cannot be read: ENOENT` });

  writeFileSync(pki.path('garbage.pem'), 'not a certificate\n');
  const err = await startTestSwitch(t, { env: { ISO_TLS_CERT: pki.path('garbage.pem'), ISO_TLS_KEY: pki.path('server.key'), ISO_TLS_CA: pki.path('ca.pem') } })
    .then(() => null, (e: Error & { code?: string }) => e);
  t.equal(err?.code, 'SW_ERR_CONFIG');
  t.match(err?.message, /^ISO_TLS_CERT, ISO_TLS_KEY and ISO_TLS_CA do not form a usable TLS server/);
  t.notOk(err?.message.includes('\n'), 'one line');
});

t.test('handshake failures map to a bounded set of reasons', async (t) => {
  const rows: Array<[string, string, string]> = [
    ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'peer did not return a certificate', 'no_certificate'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number', 'not_tls'],
    ['ERR_SSL_HTTP_REQUEST', 'http request', 'not_tls'],
    ['ERR_TLS_HANDSHAKE_TIMEOUT', 'TLS handshake timeout', 'timeout'],
    ['ECONNRESET', 'socket hang up', 'peer_closed'],
    ['ERR_SSL_SOMETHING_ELSE', 'odd', 'other'],
  ];
  for (const [code, message, want] of rows) t.equal(handshakeFailure(Object.assign(new Error(message), { code })), want, code);
});

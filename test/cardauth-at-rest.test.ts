// No card secret at rest or in a log: a switch started as `npm start` starts it (a child process,
// LOG_LEVEL=debug so every decided message is a log line too) takes every kind of card data —
// e-commerce with CVV2, swipes with and without field 2, ATM withdrawals with PIN blocks, chip reads
// with ARQCs and their repeats and replays, set PIN as an encrypted request, malformed card data,
// right and wrong — then every Redis key and value, the AOF (rewritten) and the RDB, every file of
// the history database (its managed PostgreSQL: WAL and tables), and every line
// the process wrote are searched for the PANs, the tracks, the PIN blocks (clear and encrypted),
// the PINs, the CVV2s as sent, the ARQCs and the ARPCs. (The PAN-only scan over the API and every
// MTI is test/field-faults.test.ts; this extends it to card data.)
import t from 'tap';
import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { startTestRedis } from './helpers/redis.js';
import { ApiClient } from './helpers/api.js';
import { IsoClient } from './helpers/iso-client.js';
import { CardDataBuilder, type CardRef } from '../cardauth/card-data.js';
import { encodeFormat0 } from '../cardauth/pin-block.js';
import { parseTlv } from '../cardauth/tlv.js';
import { dumpAll, filesUnder } from './helpers/at-rest.js';

const MAIN = new URL('../app/main.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');
const DEMO = '0019167984';
const ACQ = '123456';



t.test('card data at rest and in the log: none, after every kind of card data', async (t) => {
  const redis = await startTestRedis(t, { appendfsync: 'always' });
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-at-rest-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const child = spawn(process.execPath, [`--import=${TSX}`, MAIN], {
    cwd, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env as Record<string, string>, NODE_OPTIONS: '', REDIS_URL: redis.url, ISO_PORT: '0', HTTP_PORT: '0', LOG_LEVEL: 'debug', WORKERS: '2', PLACEMENT: 'workers', PG_DIR: 'var/pg' },
  });
  let log = '';
  child.stderr.on('data', (d: Buffer) => { log += d.toString(); });
  child.stdout.on('data', (d: Buffer) => { log += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.teardown(() => { child.kill('SIGKILL'); });
  let iso = 0;
  let http = 0;
  for (let i = 0; i < 600 && iso === 0; i++) {
    const m = /"msg":"switch listening","iso":"127\.0\.0\.1:(\d+)","http":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(log);
    if (m !== null) { iso = Number(m[1]); http = Number(m[2]); } else await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(iso > 0, 'the switch is listening');
  const api = new ApiClient(http);
  const cd = CardDataBuilder.fromFile(join(cwd, 'var', 'keys.json'));
  const secrets: Array<{ what: string; bytes: Buffer }> = [];
  /** Short all-digit values: found only where no digit stands right before or after them. */
  const shortSecrets: Array<{ what: string; bytes: Buffer }> = [];
  const secret = (what: string, v: string | Buffer): void => {
    const b = Buffer.isBuffer(v) ? v : Buffer.from(v, 'latin1');
    secrets.push({ what, bytes: b });
    if (!Buffer.isBuffer(v) && /^[0-9A-Fa-f]+$/.test(v) && v.length >= 16) {
      secrets.push({ what: `${what} (lower-case hex)`, bytes: Buffer.from(v.toLowerCase(), 'latin1') }, { what: `${what} (bytes)`, bytes: Buffer.from(v, 'hex') });
    }
  };

  // Customer, balance, a virtual and a physical card, PINs set through encrypted requests.
  const w = await api.post('/lifecycle/v1/wallet', { firstName: 'Ann', lastName: 'Nowak', phone: '+48600700800', email: 'ann@example.pl', birthDate: '1990-01-01', state: 'Mazowieckie', kyc: 'SUCCESS' });
  const customer = `/secure/customers/${w.json.id}`;
  const bal = await api.post(`${customer}/balances`, { currency: 'EUR' });
  await api.post(`${customer}/balances/${bal.json.id}/transactions`, { type: 'TOPUP', amount: 500_000, currency: 'EUR' }, { headers: { 'X-Idempotency-Key': 'at-rest-topup' } });
  const mine = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwe = { 'Encrypt-Response': 'true', 'Public-Key': Buffer.from(mine.publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') };
  const reveal = async (payload: string): Promise<Record<string, string>> => JSON.parse(new TextDecoder().decode((await compactDecrypt(payload, mine.privateKey)).plaintext)) as Record<string, string>;
  const virtual = await reveal((await api.post(`${customer}/cards/virtual`, { balanceId: bal.json.id }, { headers: jwe })).json.payload);
  const physId = (await api.post(`${customer}/cards/physical`, { balanceId: bal.json.id, deliveryAddress: { line1: 'Street 1', city: 'Warszawa', postalCode: '00-001', country: 'POL' } })).json.id as string;
  await api.post(`${customer}/cards/${physId}/activate`);
  const physical = await reveal((await api.get(`${customer}/cards/${physId}`, { headers: jwe })).json.payload);
  const yymm = (exp: string): string => exp.slice(2, 4) + exp.slice(5, 7);
  const v: CardRef = { configId: DEMO, pan: virtual.cardNo!, expiry: yymm(virtual.exp!) };
  const p: CardRef = { configId: DEMO, pan: physical.cardNo!, expiry: yymm(physical.exp!) };
  const PIN_V = '951357864213';
  const PIN_P = '864213951357';
  const switchKey = createPublicKey((await api.get('/secure/encryption-key')).json.publicKey as string);
  for (const [id, pin] of [[virtual.id!, PIN_V], [physId, PIN_P]] as const) {
    const payload = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify({ pin }))).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' }).encrypt(switchKey);
    t.equal((await api.post(`${customer}/cards/${id}/pin`, { payload }, { headers: { 'Encrypted-Request': 'true' } })).status, 204, 'PIN set');
    secret('a PIN', pin);
  }
  for (const c of [v, p]) {
    secret('a PAN', c.pan);
    secret('a clear PIN block', encodeFormat0(c === v ? PIN_V : PIN_P, c.pan).toString('hex').toUpperCase());
  }

  const client = await IsoClient.connect(iso);
  t.teardown(() => client.close());
  let stan = 0;
  const m = (c: CardRef, mti: string, proc: string, amount: number, f: Record<number, string>, drop: string[] = []): Record<string, string> => {
    const s = String(++stan).padStart(6, '0');
    const out: Record<string, string> = {
      0: mti, 2: c.pan, 3: proc + '0000', 4: String(amount).padStart(12, '0'), 7: '1125101500', 11: s, 14: c.expiry, 18: '5411', 22: '051',
      32: ACQ, 37: 'RRN' + s + '000', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
    };
    for (const [k, val] of Object.entries(f)) out[k] = val;
    for (const k of drop) delete out[k];
    for (const k of ['35', '52', '55']) if (out[k] !== undefined) secret(`field ${k}`, out[k]!);
    // Field 48 is a few digits ('9203' and the CVV2): searched as it would be kept — in an ISO 8583
    // frame behind its LLLVAR length, or on its own between non-digits — since a bare run of seven
    // digits also turns up by chance inside the timestamps and ids Redis holds.
    if (out['48'] !== undefined) {
      const f48 = out['48']!;
      secret('field 48 with a CVV2, as an LLLVAR', String(f48.length).padStart(3, '0') + f48);
      shortSecrets.push({ what: 'field 48 with a CVV2', bytes: Buffer.from(f48, 'latin1') });
    }
    return out;
  };
  const sent: Array<Record<string, string>> = [];
  const wrongCvv2 = String((Number(cd.cvv2(v)) + 3) % 1000).padStart(3, '0');
  sent.push(
    m(v, '0100', '00', 1_000, cd.ecommerce(v)), m(v, '0100', '00', 1_000, cd.ecommerce(v, { cvv2: wrongCvv2 })),
    m(v, '0200', '01', 2_000, { 22: '012', 52: cd.pinBlock(v, ACQ, PIN_V) }), m(v, '0200', '01', 2_000, { 22: '012', 52: cd.pinBlock(v, ACQ, '000000') }),
    m(p, '0100', '00', 1_500, cd.swipe(p, { acquirer: ACQ })), m(p, '0100', '00', 1_500, cd.swipe(p, { acquirer: ACQ }), ['2', '14']),
    m(p, '0100', '00', 1_500, cd.swipe(p, { acquirer: ACQ, cvv: '000' })),
    m(p, '0200', '01', 3_000, { ...cd.swipe(p, { acquirer: ACQ, pin: PIN_P }), 18: '6011' }), m(p, '0200', '01', 3_000, { ...cd.swipe(p, { acquirer: ACQ, pin: '111111' }), 18: '6011' }),
    m(p, '0100', '00', 500, { 35: '5557709' }), m(p, '0100', '00', 500, { 48: '9299' }),
  );
  const chipMsg = m(p, '0100', '00', 2_500, cd.chipRead(p, { atc: 17, amountMinor: 2_500, currencyN3: '978' }, { acquirer: ACQ, pin: PIN_P }));
  sent.push(chipMsg, chipMsg, { ...chipMsg, 11: String(++stan).padStart(6, '0') }, m(p, '0100', '00', 2_500, cd.chipRead(p, { atc: 18, amountMinor: 2_500, currencyN3: '978' }, { acquirer: ACQ, arqc: '0011223344556677' })));
  for (const c of [v, p]) secret('a full track 2', cd.track2(c));
  secret('a chip track-2 equivalent', cd.track2(p, { icvv: true }));
  const codes: string[] = [];
  for (const msg of sent) {
    const r = await client.request(msg);
    codes.push(r['39'] ?? '');
    const f55 = r['55'];
    if (f55 !== undefined) {
      secret('an answer\'s field 55', f55);
      const parsed = parseTlv(Buffer.from(f55, 'hex'));
      if (parsed.ok) secret('an ARPC', parsed.tags.get('91')!.subarray(0, 8).toString('hex').toUpperCase());
    }
  }
  for (const msg of sent) {
    const tags = msg['55'] === undefined ? null : parseTlv(Buffer.from(msg['55'], 'hex'));
    if (tags?.ok) secret('an ARQC', tags.tags.get('9F26')!.toString('hex').toUpperCase());
  }
  t.same(codes, ['00', '63', '00', '55', '00', '00', '63', '00', '55', '30', '30', '00', '00', '63', '63'], 'the answers: each datum verified');
  t.ok(secrets.some((s) => s.what === 'an ARPC'), 'answers carried ARPCs');
  await new Promise((r) => setTimeout(r, 500)); // records are written just after the answers

  await redis.client.bgrewriteaof();
  for (let i = 0; i < 200 && (await redis.client.info('persistence')).includes('aof_rewrite_in_progress:1'); i++) await new Promise((r) => setTimeout(r, 25));
  await redis.client.save();
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'the switch stopped cleanly');
  const dump = await dumpAll(redis.client);
  const files = filesUnder(redis.dir).map(({ path, bytes }) => ({ f: path, bytes }));
  t.ok(files.some((x) => x.f.includes('appendonly')) && files.some((x) => x.f.endsWith('.rdb')), 'the AOF and the RDB are scanned');
  // The history database the switch copied every record and posting to: its managed PostgreSQL,
  // stopped with the switch (a shutdown checkpoint writes the tables out), every file of it.
  const pgDir = join(cwd, 'var', 'pg');
  const pgFiles = filesUnder(pgDir).map(({ path, bytes }) => ({ f: path, bytes }));
  t.ok(pgFiles.some((x) => x.f.includes('pg_wal')) && pgFiles.some((x) => x.f.includes('/base/')), 'the history database\'s WAL and tables are scanned');
  t.ok(log.includes('card data refused'), 'the refusals were logged');
  t.ok(log.includes('"detail":"CVV2"') && log.includes('"detail":"ATC"'), 'naming what failed');
  const logBytes = Buffer.from(log, 'latin1');
  const found = new Set<string>();
  for (const s of secrets) {
    if (dump.includes(s.bytes)) found.add(`${s.what} in Redis`);
    for (const x of files) if (x.bytes.includes(s.bytes)) found.add(`${s.what} in ${x.f.slice(redis.dir.length)}`);
    for (const x of pgFiles) if (x.bytes.includes(s.bytes)) found.add(`${s.what} in the history database's ${x.f.slice(pgDir.length)}`);
    if (logBytes.includes(s.bytes)) found.add(`${s.what} in the log`);
  }
  const standsAlone = (hay: Buffer, needle: Buffer): boolean => {
    const digit = (b: number | undefined) => b !== undefined && b >= 0x30 && b <= 0x39;
    for (let at = hay.indexOf(needle); at >= 0; at = hay.indexOf(needle, at + 1)) {
      if (!digit(hay[at - 1]) && !digit(hay[at + needle.length])) return true;
    }
    return false;
  };
  for (const s of shortSecrets) {
    if (standsAlone(dump, s.bytes)) found.add(`${s.what} in Redis`);
    for (const x of [...files, ...pgFiles]) if (standsAlone(x.bytes, s.bytes)) found.add(`${s.what} in ${x.f}`);
    if (standsAlone(logBytes, s.bytes)) found.add(`${s.what} in the log`);
  }
  t.same([...found], [], `no PAN, track, PIN, PIN block, CVV2, ARQC or ARPC anywhere (${secrets.length} values searched)`);
});

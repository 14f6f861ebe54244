// The TCP listener as a processor sees it: framing, network management, malformed input,
// pipelining. The peer is the npm package iso_8583, not our codec.
import t from 'tap';
import { connect } from 'node:net';
import { startTestSwitch } from './helpers/switch.js';
import { IsoClient } from './helpers/iso-client.js';
import { IsoCodec } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { frame } from '../switch/net/framer.js';

const echo = (stan: string, code = '301') => ({ 0: '0800', 7: '1125093000', 11: stan, 70: code }) as unknown as Record<string, string>;

t.test('switch over a real socket', async (t) => {
  const { app, logs } = await startTestSwitch(t);
  const port = app.isoPort;

  t.test('0800 echo, sign-on and sign-off are answered 00 echoing 7, 11, 70', async (t) => {
    const c = await IsoClient.connect(port);
    t.teardown(() => c.close());
    for (const [stan, code] of [['000001', '301'], ['000002', '001'], ['000003', '002']] as const) {
      const r = await c.request(echo(stan, code));
      t.same(r, { 0: '0810', 7: '1125093000', 11: stan, 39: '00', 70: code }, `0800/${code}`);
    }
  });

  t.test('keep-alive frames are ignored and the connection stays usable', async (t) => {
    const c = await IsoClient.connect(port);
    t.teardown(() => c.close());
    c.writeRaw(Buffer.from([0, 0, 0, 0]));
    const r = await c.request(echo('000010'));
    t.equal(r['39'], '00');
  });

  t.test('an unknown MTI gets the response MTI with 12', async (t) => {
    const c = await IsoClient.connect(port);
    t.teardown(() => c.close());
    // iso_8583 refuses to pack an MTI it does not know, so this one is packed with our codec.
    const codec = new IsoCodec(DIALECT_1987);
    const body = codec.pack({ mti: '0300', fields: new Map([[7, '1125093000'], [11, '000020'], [41, 'TERM0001']]) });
    c.writeRaw(frame(body));
    const got = codec.unpack(await c.nextFrame());
    t.ok(got.ok);
    if (!got.ok) return;
    t.equal(got.msg.mti, '0310');
    t.equal(got.msg.fields.get(39), '12');
    t.equal(got.msg.fields.get(41), 'TERM0001');
    t.equal(got.msg.fields.get(11), '000020');
  });

  t.test('a body that does not decode but names MTI and STAN gets 30, echoing only clean fields', async (t) => {
    const c = await IsoClient.connect(port);
    t.teardown(() => c.close());
    const framed = c.pack(echo('000030'));
    // Field 70 is the last 3 bytes: make it non-numeric.
    framed[framed.length - 2] = 0x41;
    const p = c.expect('000030');
    c.writeRaw(framed);
    const r = await p;
    t.equal(r['0'], '0810');
    t.equal(r['39'], '30');
    t.equal(r['70'], undefined, 'the bad field is not echoed');
  });

  t.test('garbage is dropped without an answer and the connection stays up', async (t) => {
    const c = await IsoClient.connect(port);
    t.teardown(() => c.close());
    const junk = Buffer.from([0, 5, 0xff, 0xfe, 0x00, 0x41, 0x42]);
    c.writeRaw(junk);
    const r = await c.request(echo('000040'));
    t.equal(r['39'], '00');
    t.equal(c.frames.length, 0, 'no answer for the garbage frame');
  });

  t.test('an oversize frame closes only that connection', async (t) => {
    const bad = await IsoClient.connect(port);
    const good = await IsoClient.connect(port);
    t.teardown(() => { bad.close(); good.close(); });
    const head = Buffer.alloc(2); head.writeUInt16BE(9000);
    bad.writeRaw(Buffer.concat([head, Buffer.alloc(64)]));
    await bad.whenClosed();
    t.ok(bad.closed, 'offending connection closed');
    t.ok(logs.some((l) => l.includes('"code":"SW_ERR_FRAME_TOO_LONG"')), 'the log line carries the code SW_ERR_FRAME_TOO_LONG');
    const r = await good.request(echo('000050'));
    t.equal(r['39'], '00', 'other connection unaffected');
  });

  t.test('1,000 requests pipelined on one connection are all answered with the right STANs', async (t) => {
    const c = await IsoClient.connect(port);
    t.teardown(() => c.close());
    const stans = Array.from({ length: 1000 }, (_, i) => String(100000 + i));
    const waits = stans.map((s) => c.expect(s));
    c.writeRaw(Buffer.concat(stans.map((s) => c.pack(echo(s)))));
    const answers = await Promise.all(waits);
    t.equal(answers.length, 1000);
    t.ok(answers.every((a, i) => a['11'] === stans[i] && a['39'] === '00' && a['0'] === '0810'), 'every answer carries its STAN');
  });

  t.test('many connections at once', async (t) => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => IsoClient.connect(port)));
    t.teardown(() => clients.forEach((c) => c.close()));
    const rs = await Promise.all(clients.flatMap((c, i) => Array.from({ length: 25 }, (_, j) => c.request(echo(String(200000 + i * 100 + j))))));
    t.ok(rs.every((r) => r['39'] === '00'));
  });

  t.test('GET /health and /metrics', async (t) => {
    const h = await fetch(`http://127.0.0.1:${app.httpPort}/health`);
    t.equal(h.status, 200);
    t.match(await h.json(), { status: 'ok', redis: 'up', history: 'up', listener: 'up' });
    const m = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
    t.match(m, /switch_messages_total\{mti="0800",code="00"\} \d+/);
    t.match(m, /switch_message_latency_seconds_bucket/);
    t.match(m, /switch_malformed_frames_total\{kind="oversize"\} 1/);
  });
});

t.test('graceful shutdown answers every request already read', async (t) => {
  const { app } = await startTestSwitch(t);
  const c = await IsoClient.connect(app.isoPort);
  t.teardown(() => c.close());
  const stans = Array.from({ length: 300 }, (_, i) => String(300000 + i));
  const waits = stans.map((s, i) => c.expect(s, i === 0 ? 10_000 : 3000));
  c.writeRaw(Buffer.concat(stans.map((s) => c.pack(echo(s)))));
  await waits[0]; // reading has begun
  // Whatever was read before stop() is answered; the rest is simply not read (the peer retries).
  const stopped = app.stop();
  const settled = await Promise.allSettled(waits);
  await stopped;
  const answered = settled.filter((s) => s.status === 'fulfilled').length;
  const { framesRead, inflight } = app.listenerStats();
  t.equal(inflight, 0, 'nothing left unanswered inside the switch');
  t.equal(answered, framesRead, `every request read was answered (${answered} of 300 read before closing)`);
  await c.whenClosed();
  t.ok(c.closed, 'connection closed after the answers');
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect({ port: app.isoPort, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
  t.ok(refused, 'no longer accepting');
});

t.test('backpressure: with 4 requests in flight allowed per connection, 500 pipelined are all answered', async (t) => {
  const { app } = await startTestSwitch(t, { env: { MAX_INFLIGHT_PER_CONNECTION: '4', MAX_INFLIGHT_TOTAL: '6' } });
  const clients = await Promise.all([IsoClient.connect(app.isoPort), IsoClient.connect(app.isoPort)]);
  t.teardown(() => clients.forEach((c) => c.close()));
  const all = clients.map((c, k) => {
    const stans = Array.from({ length: 250 }, (_, i) => String(400000 + k * 1000 + i));
    const waits = stans.map((s) => c.expect(s));
    c.writeRaw(Buffer.concat(stans.map((s) => c.pack(echo(s)))));
    return Promise.all(waits);
  });
  const answers = (await Promise.all(all)).flat();
  t.equal(answers.length, 500);
  t.ok(answers.every((a) => a['39'] === '00'));
});

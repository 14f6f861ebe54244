// SPEC §2.1: messages of the default dialect decode correctly in Wireshark's ISO 8583 dissector.
// Real answers of a running switch (and the requests that caused them) are written into a pcap
// as one TCP stream and decoded by tshark; every field Wireshark shows must equal ours.
// tshark and text2pcap are installed by `npm test` itself when missing and permitted (scripts/ensure-system-packages.mjs).
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestSwitch } from './helpers/switch.js';
import { IsoCodec, type IsoMessage } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { Framer, frame } from '../switch/net/framer.js';
import { sample0100, sample0400 } from '../iso/samples.js';
import { Ledger } from '../ledger/index.js';
import { CardStore } from '../stores/cards.js';

const haveTshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

function hexdump(framed: Buffer): string {
  let out = '';
  for (let i = 0; i < framed.length; i += 16) {
    out += i.toString(16).padStart(6, '0') + ' ' + [...framed.subarray(i, i + 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ') + '\n';
  }
  return out + '\n';
}

/** tshark's view: one map of field number → text per ISO 8583 message, in order. */
function dissect(frames: Buffer[], dir: string): Array<{ mti: string; fields: Map<number, string>; text: string }> {
  writeFileSync(join(dir, 'msgs.hex'), frames.map(hexdump).join(''));
  execFileSync('text2pcap', ['-q', '-T', '8583,40000', join(dir, 'msgs.hex'), join(dir, 'msgs.pcap')]);
  const out = execFileSync('tshark', ['-r', join(dir, 'msgs.pcap'), '-o', 'iso8583.len_endian:Big endian',
    '-o', 'iso8583.binencode:Bin data not encoded', '-d', 'tcp.port==8583,iso8583', '-V'], { encoding: 'utf8' });
  const blocks = out.split(/^ISO 8583-1:/m).slice(1);
  return blocks.map((b) => {
    const fields = new Map<number, string>();
    for (const m of b.matchAll(/^\s+Bit (\d+): (.*)$/gm)) fields.set(Number(m[1]), m[2] as string);
    return { mti: /^\s+MTI: (\d{4})$/m.exec(b)?.[1] ?? '', fields, text: b };
  });
}

t.test('Wireshark decodes the switch\'s messages field for field', { skip: haveTshark ? false : 'tshark is not installed (apt-get install -y tshark)' }, async (t) => {
  const { app, redis } = await startTestSwitch(t);
  // The sample card exists and has money, so the 0110 is an approval with fields 38 and 54.
  const ledger = await Ledger.open(redis.client);
  const bal = await ledger.createUserBalance({ customerId: 'ws', currency: 'EUR', configId: '0019167984' });
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'ws', txId: 'ws', balanceId: bal.id, amountMinor: 100_000, partnerId: null });
  await CardStore.fromSecrets(redis.client, app.secrets).put('5557701234561234', {
    id: 'ws-card', customerId: 'ws', balanceId: bal.id, configId: '0019167984', currency: 'EUR', expiry: '2812', status: 'ACTIVE', lock: 0,
  });
  const codec = new IsoCodec(DIALECT_1987);
  const requests: IsoMessage[] = [
    { mti: '0800', fields: new Map([[7, '1125101500'], [11, '000001'], [70, '301']]) },
    sample0100(),
    sample0400(),
    { mti: '0300', fields: new Map([[7, '1125101500'], [11, '000004'], [41, 'TERM0001']]) },
  ];
  const answers: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = connect({ port: app.isoPort, host: '127.0.0.1' }, () => s.write(Buffer.concat(requests.map((m) => frame(codec.pack(m))))));
    const f = new Framer({ frame: (b) => { answers.push(Buffer.from(b)); if (answers.length === requests.length) { s.destroy(); resolve(); } }, keepAlive: () => undefined, oversize: reject });
    s.on('data', (d: Buffer) => f.push(d));
    s.on('error', reject);
  });
  const dir = mkdtempSync(join(tmpdir(), 'antaca-ws-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const all = [...requests.map((m) => codec.pack(m)), ...answers];
  const seen = dissect(all.map(frame), dir);
  const approval = codec.unpack(answers[1] as Buffer);
  t.ok(approval.ok && approval.msg.fields.get(39) === '00' && approval.msg.fields.has(38) && approval.msg.fields.has(54), 'the 0110 is an approval with 38 and 54');
  t.equal(seen.length, all.length, 'every message is recognised as ISO 8583');
  all.forEach((body, i) => {
    const ours = codec.unpack(body);
    const theirs = seen[i];
    if (!ours.ok || theirs === undefined) { t.fail(`message ${i} did not decode`); return; }
    t.equal(theirs.mti, ours.msg.mti, `message ${i}: MTI ${ours.msg.mti}`);
    t.notMatch(theirs.text, /Malformed|Expert Info/, `message ${i}: no dissector complaints`);
    const expected = new Map([...ours.msg.fields].map(([k, v]) => [k, typeof v === 'string' ? v : v.toString('hex')]));
    t.same(theirs.fields, expected, `message ${i} (${ours.msg.mti}): every field as we sent it`);
  });
});

// The processor simulator against a running switch: it seeds its demo cards, sends its scenario
// and prints every exchange with masked PANs only.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { startTestSwitch } from './helpers/switch.js';

const SIM = new URL('../simulators/processor.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');

t.test('npm run sim shows transactions flowing, PANs masked', async (t) => {
  const master = randomBytes(32);
  const { app } = await startTestSwitch(t, { masterSecret: master });
  const child = spawn(process.execPath, [`--import=${TSX}`, SIM], {
    env: { ...process.env, REDIS_URL: app.redisUrl ?? '', SWITCH_SECRET: master.toString('hex'), ISO_PORT: String(app.isoPort), SIM_COUNT: '20', SIM_RATE: '100' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  t.equal(code, 0, 'simulator exits 0');
  const lines = out.trim().split('\n').filter((l) => l.includes('→'));
  t.equal(lines.length, 20, 'every message answered');
  t.ok(lines.some((l) => /^0100 → 0110 .* 39=00 {2}38=[0-9A-Z]{6}/.test(l)), 'approvals');
  t.ok(lines.some((l) => /^0100 → 0110 .* 39=51/.test(l)), 'a decline for insufficient funds');
  t.ok(lines.some((l) => /^0400 → 0410 .* 39=00/.test(l)), 'reversals');
  t.ok(lines.some((l) => /^0800 → 0810 .* 39=00/.test(l)), 'echoes');
  t.notMatch(out, /\d{16}/, 'no full PAN printed');
  t.match(out, /555770\*{6}\d{4}/, 'PANs masked first-6/last-4');
});

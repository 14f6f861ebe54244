// No tool prints a full PAN. A switch runs as a process of its own with LOG_LEVEL=debug (a line per
// decided message); the demo, the scheme simulator, the processor simulator, the one-message tool,
// the card tool and the sandbox all run against it; then every byte they printed, and every log
// line of the switch, is searched for the PANs of the cards (read through the JWE path here) and
// for any Luhn-valid run of 13-19 digits in the demo program's BIN. The one exception is asked for
// by name: `npm run card -- show <id> --reveal` prints the card it shows.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../ledger/redis-server.js';
import { startTestRedis } from './helpers/redis.js';
import { ApiClient, issueVirtualCard, walletWithBalance } from './helpers/api.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Run { name: string; code: number | null; out: string }

/** A tool as a child process (node with tsx, or npm run), its stdout and stderr together. */
function run(name: string, args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
  const child = spawn(args[0] === 'npm' ? 'npm' : process.execPath, args[0] === 'npm' ? args.slice(1) : [`--import=${TSX}`, ...args], {
    cwd: ROOT, env: { ...process.env, ISO_PAN: '', ...env }, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return new Promise((resolve) => child.once('close', (code) => resolve({ name, code, out })));
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Luhn-valid runs of 13-19 digits in the demo program's BIN (555770), as a PAN of this switch would be. */
function panLike(text: string): string[] {
  return [...text.matchAll(/(?<!\d)555770\d{7,13}(?!\d)/g)].map((m) => m[0]).filter(luhn);
}

t.test('no output of demo, sim, sim:scheme, iso, card or the sandbox, and no log line, holds a full PAN', async (t) => {
  const redis = await startTestRedis(t);
  const [iso, http] = [await freePort(), await freePort()];
  const secret = randomBytes(32).toString('hex');
  const switchEnv = { ISO_PORT: String(iso), HTTP_PORT: String(http), REDIS_URL: redis.url, SWITCH_SECRET: secret, SANDBOX: '1', LOG_LEVEL: 'debug', NODE_OPTIONS: '' };
  const sw = spawn(process.execPath, [`--import=${TSX}`, 'app/main.ts'], { cwd: ROOT, env: { ...process.env, ...switchEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
  let logs = '';
  sw.stderr.on('data', (d: Buffer) => { logs += d.toString(); });
  const stopped = new Promise<number | null>((r) => sw.once('exit', r));
  t.teardown(() => { sw.kill('SIGKILL'); });
  const api = new ApiClient(http);
  for (let i = 0; i < 300; i++) {
    try { if ((await api.get('/health')).status === 200) break; } catch { /* starting */ }
    await new Promise((r) => setTimeout(r, 100));
  }

  const { customerId, balanceId } = await walletWithBalance(api);
  t.equal((await api.post(`/secure/customers/${customerId}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: 50_000, currency: 'EUR' })).status, 201);
  const card = await issueVirtualCard(api, customerId, balanceId);
  const pans = new Set([card.pan]);
  const viaApi = { ANTACA_URL: `http://127.0.0.1:${http}` };
  const state = mkdtempSync(join(tmpdir(), 'antaca-pan-hygiene-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  const link = ['--port', String(iso), '--state', state];

  const runs: Run[] = [];
  runs.push(await run('iso send', ['simulators/iso/main.ts', 'send', '0100', '--card-id', card.id, '--amount', '12.34', '--raw', ...link], viaApi));
  runs.push(await run('iso reverse', ['simulators/iso/main.ts', 'reverse', ...link], { ISO_PAN: card.pan }));
  runs.push(await run('iso send --pan -', ['simulators/iso/main.ts', 'send', '0100', '--pan', '-', '--amount', '1', ...link], {}, `${card.pan}\n`));
  runs.push(await run('card show', ['simulators/card/main.ts', 'show', card.id], viaApi));
  runs.push(await run('card show --json', ['simulators/card/main.ts', 'show', card.id, '--json'], viaApi));
  runs.push(await run('npm run iso', ['npm', 'run', 'iso', '--', 'send', '0100', '--card-id', card.id, '--amount', '2', ...link], viaApi));
  runs.push(await run('sim:scheme', ['simulators/scheme/main.ts', '--iso', `127.0.0.1:${iso}`, '--http', `http://127.0.0.1:${http}`, '--count', '30', '--rate', '200', '--connections', '2']));
  runs.push(await run('sim', ['simulators/processor.ts'], { REDIS_URL: redis.url, SWITCH_SECRET: secret, ISO_PORT: String(iso), SIM_COUNT: '12', SIM_RATE: '100' }));
  runs.push(await run('demo', ['npm', 'run', '--silent', 'demo', '--', '--non-interactive', '--duration', '3', '--rate', '40', '--http', `127.0.0.1:${http}`, '--iso', `127.0.0.1:${iso}`]));
  const sandbox = await api.post('/sandbox/simulate/authorization', { cardId: card.id, amount: 100 });
  runs.push({ name: 'sandbox', code: sandbox.status === 200 ? 0 : sandbox.status, out: sandbox.text });
  const revealed = await run('card show --reveal', ['simulators/card/main.ts', 'show', card.id, '--reveal'], viaApi);

  for (const r of runs) t.equal(r.code, 0, `${r.name} ran (exit 0)`, { out: r.out.slice(-500) });
  t.ok(revealed.out.includes(card.pan), 'card show --reveal prints the card asked for, and only it does');
  sw.kill('SIGTERM');
  t.equal(await stopped, 0, 'the switch stopped cleanly');
  t.match(logs, /"msg":"message decided"/, 'the log has a line per decided message (LOG_LEVEL=debug)');
  runs.push({ name: 'switch log', code: 0, out: logs });

  for (const r of runs) {
    for (const pan of pans) t.notOk(r.out.includes(pan), `${r.name}: the card's PAN is not in it`);
    t.same(panLike(r.out), [], `${r.name}: no Luhn-valid run of 13-19 digits in the BIN`);
  }
});

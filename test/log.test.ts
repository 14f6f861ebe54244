// The switch's log lines (log/index.ts) as an operator reads them from stderr of a real process:
// JSON with the level as a name, PANs masked wherever they appear, card secrets never written,
// LOG_LEVEL deciding what is written, and worker threads writing the same lines.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../app/config.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAN = '5557701234561234';

/** Runs `code` (an ES module body) in a fresh node with tsx and returns its stderr lines, parsed. */
function run(code: string, env: Record<string, string> = {}): Promise<Array<Record<string, unknown>>> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import=tsx', '--input-type=module', '-e', code], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: '', ...env }, timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err !== null) { reject(new Error(`${err.message}: ${stderr}`)); return; }
      resolve(stderr.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>));
    });
  });
}

const LINES = `
import { log, logger } from './log/index.ts';
log('error', 'card ${PAN} failed', { path: '/x/${PAN}', nested: { text: 'a ${PAN} b' }, cvv: '123', track2: '${PAN}=2512' });
logger.warn({ pan: '${PAN}' }, 'pan field');
logger.warn({ deep: { deeper: { cardNumber: ${PAN}, PAN: '5557 7012 3456 1234', pinBlock: 'A1B2' } }, amount: ${PAN}, spaced: 'card 5557-7012-3456-1234' }, 'anywhere');
logger.debug({ mti: '0100', maskedPan: '${PAN}' }, 'message decided');
`;

t.test('a line: level name, message first, PANs masked, secrets withheld', async (t) => {
  const [first, second, ...rest] = await run(LINES);
  t.match(first, { level: 'error', msg: 'card 555770******1234 failed', path: '/x/555770******1234', nested: { text: 'a 555770******1234 b' }, cvv: '[redacted]', track2: '[redacted]' });
  t.match(String(first?.time), /^\d{4}-\d\d-\d\dT/, 'an ISO time');
  t.equal(Object.keys(first ?? {})[1], 'msg', 'the message right after the level');
  t.match(second, { level: 'warn', msg: 'pan field', pan: '555770******1234' });
  const [third, ...after] = rest;
  t.match(third, {
    msg: 'anywhere', amount: '555770******1234', spaced: 'card 555770******1234',
    deep: { deeper: { cardNumber: '555770******1234', PAN: '555770******1234', pinBlock: '[redacted]' } },
  }, 'a card number as a number, grouped, or under any card-number name at any depth is masked; secrets at any depth withheld');
  t.notMatch(JSON.stringify(third), /5557701234561234|5557 7012|5557-7012/, 'no full PAN in the line');
  t.same(after, [], 'debug is off by default');
});

t.test('LOG_LEVEL decides what is written', async (t) => {
  const debug = await run(LINES, { LOG_LEVEL: 'debug' });
  t.same(debug.map((l) => l.level), ['error', 'warn', 'warn', 'debug']);
  // The switch's per-message debug line (app/start.ts) names its field maskedPan: even a full PAN
  // put there by mistake leaves masked.
  t.match(debug[3], { msg: 'message decided', maskedPan: '555770******1234' });
  t.notMatch(JSON.stringify(debug[3]), /5557701234561234/);
  t.same((await run(LINES, { LOG_LEVEL: 'error' })).map((l) => l.level), ['error']);
  t.same(await run(LINES, { LOG_LEVEL: 'silent' }), []);
  t.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL=loud must be one of fatal, error, warn, info, debug, trace, silent/);
  t.equal(loadConfig({}).logLevel, 'info');
});

t.test('a worker thread writes the same lines', async (t) => {
  const lines = await run(`
import { Worker } from 'node:worker_threads';
// Loader hooks do not follow a worker thread: it registers tsx itself, as switch/pool does.
const w = new Worker("import('tsx/esm/api').then((tsx) => { tsx.register(); return import('./log/index.ts'); }).then((m) => m.log('warn', 'from a worker ${PAN}', { thread: 1 }))", { eval: true });
await new Promise((resolve) => w.once('exit', resolve));
`);
  t.match(lines, [{ level: 'warn', msg: 'from a worker 555770******1234', thread: 1 }]);
});

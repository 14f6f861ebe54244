// `npm run sim:partner -- [options]`: the partner simulator as a process. Prints its URL and seed,
// stops cleanly on Ctrl-C (SIGINT) or SIGTERM, writing its snapshot when one is configured.
import { parseArgs } from 'node:util';
import { mergeConfig, SIM_DEFAULTS, SimConfigError, type SimConfig } from './config.js';
import { freshSeed } from './rng.js';
import { startPartnerSimulator } from './server.js';

const HELP = `Partner simulator: the seed's External Balance / Shared Authorization partner APIs and notifications.

Usage: npm run sim:partner -- [options]

  --host <addr>          listen address (default 127.0.0.1)
  --port <n>             listen port (default 9443; 0 takes a free one)
  --cert/--key/--ca <f>  PEM files: HTTPS that requires a client certificate signed by --ca
                         (all three together; plain HTTP without them)
  --server <s>           auto | uws | node (default auto: uWebSockets.js when it loads)
  --mode <m>             EXTERNAL_BALANCE (default) | SHARED_AUTHORIZATION
  --seed <n>             seed of the random generator (default: a fresh one, printed)
  --latency-ms <n>       fixed delay of every answer (default 0)
  --jitter-ms <n>        up to this much more delay, drawn from the seed (default 0)
  --error-rate <r>       share of calls answered 500 without effect, 0..1 (default 0)
  --hang-rate <r>        share of calls never answered, 0..1 (default 0)
  --refuse <json>        refusal rules, a JSON array, e.g. '[{"title":"FRAUDS_DETECTED","mcc":"7995"}]'
  --misbehave <kind>     BAD_JSON | REDIRECT | OVERSIZED | UNKNOWN_TITLE for every partner call
  --users <ids>          comma-separated user ids that exist (default: every id)
  --snapshot <file>      load balances from this JSON file at start, write them at stop
  --webhook-secret <s>   check the Antaca-Signature of webhook deliveries to POST /webhooks with
                         this secret (give it twice during a rotation; also SIM_WEBHOOK_SECRETS,
                         comma-separated, which keeps it out of ps); unset: not checked
  --help                 this text

Knobs can be changed while it runs: PUT /_sim/config with a JSON object of the same settings
(latencyMs, jitterMs, errorRate, hangRate, refuse, misbehave, users, mode, seed, webhookSecrets).
Calls received: GET /_sim/calls. Balances, transactions and calls: GET /_sim/reconciliation.`;

function fail(msg: string): never {
  process.stderr.write(`sim:partner: ${msg} (--help for usage)\n`);
  process.exit(2);
}

function number(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) fail(`--${name} must be a number, not ${JSON.stringify(v).slice(0, 40)}`);
  return n;
}

function readOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv, strict: true, allowPositionals: false,
      options: {
        host: { type: 'string' }, port: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' },
        server: { type: 'string' }, mode: { type: 'string' }, seed: { type: 'string' }, 'latency-ms': { type: 'string' },
        'jitter-ms': { type: 'string' }, 'error-rate': { type: 'string' }, 'hang-rate': { type: 'string' }, refuse: { type: 'string' },
        misbehave: { type: 'string' }, users: { type: 'string' }, snapshot: { type: 'string' }, help: { type: 'boolean' },
        'webhook-secret': { type: 'string', multiple: true },
      },
    }).values;
  } catch (e) {
    fail(String((e as Error).message).split('\n')[0] ?? 'bad arguments');
  }
}

async function main(): Promise<void> {
  const v = readOptions(process.argv.slice(2));
  if (v.help) { process.stdout.write(HELP + '\n'); return; }
  const tlsGiven = [v.cert, v.key, v.ca].filter((x) => x !== undefined).length;
  if (tlsGiven !== 0 && tlsGiven !== 3) fail('--cert, --key and --ca go together');
  const server = v.server ?? 'auto';
  if (server !== 'auto' && server !== 'uws' && server !== 'node') fail('--server must be auto, uws or node');
  const port = number('port', v.port) ?? 9443;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('--port must be an integer from 0 to 65535');
  const patch: Record<string, unknown> = {};
  if (v.mode !== undefined) patch.mode = v.mode;
  if (v.seed !== undefined) patch.seed = number('seed', v.seed);
  if (v['latency-ms'] !== undefined) patch.latencyMs = number('latency-ms', v['latency-ms']);
  if (v['jitter-ms'] !== undefined) patch.jitterMs = number('jitter-ms', v['jitter-ms']);
  if (v['error-rate'] !== undefined) patch.errorRate = number('error-rate', v['error-rate']);
  if (v['hang-rate'] !== undefined) patch.hangRate = number('hang-rate', v['hang-rate']);
  if (v.misbehave !== undefined) patch.misbehave = v.misbehave;
  if (v.users !== undefined) patch.users = v.users.split(',').map((u) => u.trim()).filter((u) => u !== '');
  const secrets = [...(v['webhook-secret'] ?? []), ...(process.env.SIM_WEBHOOK_SECRETS ?? '').split(',').filter((x) => x !== '')];
  if (secrets.length > 0) patch.webhookSecrets = secrets;
  if (v.refuse !== undefined) {
    try { patch.refuse = JSON.parse(v.refuse); } catch { fail('--refuse must be a JSON array of rules'); }
  }
  let config: SimConfig;
  try { config = mergeConfig({ ...SIM_DEFAULTS, seed: freshSeed() }, patch); }
  catch (e) { if (e instanceof SimConfigError) fail(e.message); throw e; }
  let running;
  try {
    running = await startPartnerSimulator({
      host: v.host ?? '127.0.0.1', port, server, config, snapshotFile: v.snapshot ?? null,
      tls: tlsGiven === 3 ? { cert: v.cert!, key: v.key!, ca: v.ca! } : null,
      log: (level, msg) => { if (level !== 'info') process.stderr.write(`sim:partner: ${msg}\n`); },
    });
  } catch (e) {
    fail(`cannot start: ${String((e as Error).message ?? e).split('\n')[0]}`);
  }
  const r = running;
  process.stdout.write(`partner simulator on ${r.url} (${r.kind}${tlsGiven === 3 ? ', client certificate required' : ''}), mode ${config.mode}, seed ${config.seed}; `
    + `webhooks at ${r.url}/webhooks, ${config.webhookSecrets.length === 0 ? 'signatures not checked' : `signatures checked with ${config.webhookSecrets.length} secret(s)`}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`sim:partner: ${signal}, stopping\n`);
    r.close().then(() => process.exit(0), (e) => { process.stderr.write(`sim:partner: ${(e as Error).message}\n`); process.exit(1); });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

await main();

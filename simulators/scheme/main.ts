// `npm run sim:scheme -- [options]`: a processor-side peer that runs scripted scenarios and a seeded
// random mix over several connections, checks every answer against its expectation model, prints
// a summary and exits 1 on any mismatch. Cards are made through the management API. --help lists
// the options; docs/tools.md shows a session.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { formatSummary, runScheme, type SchemeOptions } from './run.js';
import { SCENARIOS, selectScenarios } from './scenarios.js';
import type { LinkTls } from '../../iso/link.js';

class UsageError extends Error {}

const OPTIONS = {
  iso: { type: 'string' }, http: { type: 'string' }, connections: { type: 'string' }, scenarios: { type: 'string' },
  seed: { type: 'string' }, count: { type: 'string' }, rate: { type: 'string' }, cards: { type: 'string' }, dialect: { type: 'string' },
  'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-ca': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

const HELP = `usage: npm run sim:scheme -- [options]

Runs scripted scenarios, then a seeded random mix, against a running switch, checks every answer
(field 39, field 54, repeats byte for byte) and every card's balance against its model, prints
counts by MTI and field 39 with the reason, and exits 1 on any mismatch.

  --iso <host:port>       the switch's ISO 8583 listener (default 127.0.0.1:8583)
  --http <url>            the management API (default http://127.0.0.1:8080)
  --connections <n>       ISO connections (default 4)
  --scenarios <a,b,...>   scripted scenarios to run (default all; "none" for the mix only)
  --count <n>             messages of the random mix (default 200; 0 for scenarios only)
  --seed <n>              seed of the random mix (default random; printed)
  --rate <n>              random mix messages per second, open loop (default 100)
  --cards <n>             cards of the random mix (default 8)
  --dialect 1987|2003     the switch's ISO_DIALECT (default 1987)
  --tls-cert <pem> --tls-key <pem> --tls-ca <pem>   ISO link over TLS with a client certificate

scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(16)} ${s.about}`).join('\n')}
`;

function int(value: string | undefined, fallback: number, option: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${option} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

function tlsOf(v: Record<string, unknown>): LinkTls | null {
  const paths = [v['tls-cert'], v['tls-key'], v['tls-ca']] as Array<string | undefined>;
  const given = paths.filter((p) => p !== undefined).length;
  if (given === 0) return null;
  if (given !== 3) throw new UsageError('--tls-cert, --tls-key and --tls-ca go together');
  const read = (p: string): Buffer => { try { return readFileSync(p); } catch { throw new UsageError(`cannot read ${p}`); } };
  return { cert: read(paths[0] as string), key: read(paths[1] as string), ca: read(paths[2] as string) };
}

export function parseOptions(argv: string[]): SchemeOptions | 'help' {
  let values;
  try {
    const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true });
    values = parsed.values;
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.help) return 'help';
  const iso = /^(.+):(\d{1,5})$/.exec(values.iso ?? '127.0.0.1:8583');
  if (iso === null) throw new UsageError(`--iso must be host:port, got "${values.iso}"`);
  const httpUrl = values.http ?? 'http://127.0.0.1:8080';
  if (!/^https?:\/\/[^/\s]+/.test(httpUrl)) throw new UsageError(`--http must be a URL such as http://127.0.0.1:8080, got "${httpUrl}"`);
  const names = values.scenarios === undefined ? null : values.scenarios === 'none' ? [] : values.scenarios.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const scenarios = selectScenarios(names);
  if (typeof scenarios === 'string') throw new UsageError(scenarios);
  const dialect = values.dialect ?? '1987';
  if (dialect !== '1987' && dialect !== '2003') throw new UsageError(`--dialect must be 1987 or 2003, got "${dialect}"`);
  return {
    isoHost: iso[1] as string, isoPort: int(iso[2], 8583, 'iso port', 1, 65_535), httpUrl, tls: tlsOf(values), dialect,
    connections: int(values.connections, 4, 'connections', 1, 64), scenarios,
    count: int(values.count, 200, 'count', 0, 10_000_000), seed: int(values.seed, Math.floor(Math.random() * 2 ** 31), 'seed', 0, 2 ** 32 - 1),
    ratePerSecond: int(values.rate, 100, 'rate', 1, 100_000), cards: int(values.cards, 8, 'cards', 1, 1_000),
  };
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  if (o === 'help') { process.stdout.write(HELP); return 0; }
  console.log(`scheme simulator: ${o.connections} connections to ${o.isoHost}:${o.isoPort}${o.tls ? ' (TLS)' : ''}, management API ${o.httpUrl}, dialect ${o.dialect}`);
  console.log(`scripted scenarios: ${o.scenarios.length === 0 ? 'none' : o.scenarios.map((s) => s.name).join(', ')}`);
  if (o.count > 0) console.log(`random mix: seed ${o.seed}, ${o.count} messages over ${o.cards} cards at ${o.ratePerSecond}/s`);
  const summary = await runScheme(o);
  if (summary.partnerBalancesFunded.length > 0) console.log(`reloaded the demo program's ${summary.partnerBalancesFunded.join(' and ')} partner balance(s)`);
  console.log(formatSummary(summary));
  return summary.mismatches.length === 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  console.error(`sim:scheme: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`);
  process.exitCode = e instanceof UsageError ? 1 : 2;
});

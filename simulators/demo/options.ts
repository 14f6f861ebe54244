// The demo's command line: every option with its default, checked at once; a bad one is a
// UsageError whose message is the one line printed before exiting 1.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { MIX, kindSlug } from './traffic.js';

export class UsageError extends Error {}

export interface DemoOptions {
  /** Management API base URL, without a trailing slash. */
  httpUrl: string;
  httpHost: string;
  httpPort: number;
  isoHost: string;
  isoPort: number;
  ratePerSecond: number;
  /** Seconds to run; null: until Ctrl-C. */
  durationSeconds: number | null;
  seed: number;
  /** Funded cards the everyday traffic uses (the declining cards come on top). */
  cards: number;
  connections: number;
  /** Data directory of the managed Redis of a switch the demo starts; null: a temporary one. */
  dataDir: string | null;
  partner: boolean;
  interactive: boolean;
  /** Kinds of the mix to send (slugs of MIX in traffic.ts); null: every kind. */
  kinds: string[] | null;
}

/** `text` wrapped at word boundaries into lines of at most `width` characters, each indented by `indent` spaces. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > width) { lines.push(line); line = word; } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines.map((l) => ' '.repeat(indent) + l).join('\n');
}

export const HELP = `usage: npm run demo -- [options]

Starts a switch when none answers (or uses the one that does), provisions customers, balances and
cards through the management API, drives a live mixed workload over ISO 8583 and shows throughput,
latency and answers by response code. Ctrl-C stops it and prints a summary.

  --http <host:port|url>  the switch's HTTP side (default 127.0.0.1:8080)
  --iso <host:port>       the switch's ISO 8583 listener (default 127.0.0.1:8583)
  --rate <n>              messages per second, open loop on a timer (default 50)
  --duration <s>          seconds to run, with a progress bar (default: until Ctrl-C)
  --seed <n>              seed of the random mix (default random; printed)
  --cards <n>             funded cards of the everyday traffic (default 8)
  --connections <n>       ISO 8583 connections (default 2)
  --data-dir <dir>        Redis data directory of a switch the demo starts (default: a temporary
                          one, removed at exit)
  --no-partner            leave out the program in EXTERNAL_BALANCE mode whose partner is played
                          by the partner simulator (it is there by default for a switch the demo
                          starts; a running switch is used with the programs it has)
  --non-interactive       plain lines only: a summary line every 5 s (implied when stdout is not
                          a terminal)
  --kinds <a,b,...>       send only these kinds of the mix, at their relative weights (default
                          all; a kind that cannot be sent at that moment sends an e-commerce
                          purchase instead):
${wrap(MIX.map(([k]) => kindSlug(k)).join(', '), 26, 100)}
  -h, --help              this text

Card data comes from the card keys in KEYS_FILE, else the development key set var/keys.json that
the switch writes at its first start (checked against the switch: a card's CVV2 must match). The
demo plays the card and the acquirer with them: CVV2, track 2, ARQC and iCVV, PIN blocks.
`;

const OPTIONS = {
  http: { type: 'string' }, iso: { type: 'string' }, rate: { type: 'string' }, duration: { type: 'string' },
  seed: { type: 'string' }, cards: { type: 'string' }, connections: { type: 'string' }, 'data-dir': { type: 'string' },
  partner: { type: 'boolean' }, 'no-partner': { type: 'boolean' }, 'non-interactive': { type: 'boolean' }, kinds: { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const;

function int(value: string | undefined, fallback: number, option: string, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${option} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

function hostPort(value: string, option: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:/\s]+):(\d{1,5})$/.exec(value);
  if (m === null) throw new UsageError(`--${option} must be host:port, got "${value}"`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: int(m[2], 0, `${option} port`, 1, 65_535) };
}

/** `argv` without node and the script; 'help' for --help. Throws UsageError. */
export function parseOptions(argv: string[], stdoutIsTty: boolean): DemoOptions | 'help' {
  let values;
  try {
    values = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (values.help) return 'help';
  const httpText = (values.http ?? '127.0.0.1:8080').replace(/^http:\/\//, '').replace(/\/$/, '');
  if (/^https:/.test(httpText)) throw new UsageError('--http must be plain HTTP (the demo does not carry client certificates)');
  const http = hostPort(httpText, 'http');
  const iso = hostPort(values.iso ?? '127.0.0.1:8583', 'iso');
  const urlHost = http.host.includes(':') ? `[${http.host}]` : http.host;
  return {
    httpUrl: `http://${urlHost}:${http.port}`, httpHost: http.host, httpPort: http.port, isoHost: iso.host, isoPort: iso.port,
    ratePerSecond: int(values.rate, 50, 'rate', 1, 5_000),
    durationSeconds: values.duration === undefined ? null : int(values.duration, 0, 'duration', 1, 7 * 24 * 3600),
    seed: int(values.seed, Math.floor(Math.random() * 2 ** 31), 'seed', 0, 2 ** 32 - 1),
    cards: int(values.cards, 8, 'cards', 1, 200),
    connections: int(values.connections, 2, 'connections', 1, 32),
    dataDir: values['data-dir'] === undefined ? null : resolve(values['data-dir']),
    partner: values['no-partner'] !== true,
    interactive: stdoutIsTty && values['non-interactive'] !== true,
    kinds: kindsOf(values.kinds),
  };
}

/** --kinds a,b,…: each a kind of the mix; null when not given. */
function kindsOf(text: string | undefined): string[] | null {
  if (text === undefined) return null;
  const known = MIX.map(([k]) => kindSlug(k));
  const kinds = text.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (kinds.length === 0) throw new UsageError('--kinds needs at least one kind of the mix (--help lists them)');
  const unknown = kinds.find((k) => !known.includes(k));
  if (unknown !== undefined) throw new UsageError(`--kinds: "${unknown.slice(0, 40)}" is not a kind of the mix (--help lists them)`);
  return kinds;
}

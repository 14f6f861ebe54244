// `npm run card -- show <cardId>`: a card's data as a partner reads it — the card located by its id
// (GET /secure/cards/{cardId}), then its full data as JWE (an RSA key pair made for this run, the
// Encrypt-Response and Public-Key headers), decrypted here. The card number is shown masked and the
// CVV2 withheld unless --reveal asks for them: then they are printed on this terminal and nowhere
// else (never logged, never written to a file by this tool).
import { parseArgs } from 'node:util';
import { maskPan } from '../../iso/mask.js';
import { ApiError, DEFAULT_API_URL, ManagementApi, type CardData } from '../lib/management-api.js';

const USAGE = `usage: npm run card -- show <cardId> [--reveal] [--json] [--api <url>]

Reads a card through the management API: GET /secure/cards/<cardId> for its customer, then the
full-data GET with a public key of this run, the JWE answer decrypted here.
  --reveal      print the full card number and CVV2 (masked and withheld otherwise)
  --json        one JSON object instead of lines (cardNo and cvv only with --reveal)
  --api <url>   the management API (default: ANTACA_URL, else ${DEFAULT_API_URL})
environment:
  ANTACA_URL      the management API, as --api
  ANTACA_API_KEY  its API key (read scope is enough), when the switch has API_KEYS_FILE
`;

class UsageError extends Error {}

function parse(argv: string[]) {
  let p;
  try {
    p = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { reveal: { type: 'boolean' }, json: { type: 'boolean' }, api: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  if (p.values.help) return null;
  const [verb, cardId, ...rest] = p.positionals;
  if (verb !== 'show') throw new UsageError(verb === undefined ? 'a verb is needed: show <cardId>' : `unknown verb "${verb}": show <cardId>`);
  if (cardId === undefined || !/^[A-Za-z0-9_-]{1,64}$/.test(cardId)) throw new UsageError('show needs a card id (1-64 characters of [A-Za-z0-9_-]), e.g. npm run card -- show blli0rlmxGCpTjQQ');
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  return { cardId, reveal: p.values.reveal === true, json: p.values.json === true, api: p.values.api ?? process.env.ANTACA_URL ?? DEFAULT_API_URL };
}

function render(c: CardData, reveal: boolean, asJson: boolean): string {
  const number = reveal ? c.pan : maskPan(c.pan);
  if (asJson) {
    return JSON.stringify({
      id: c.id, customerId: c.customerId, balanceId: c.balanceId, configId: c.configId, status: c.status, lastFourDigits: c.lastFourDigits,
      exp: c.exp, expiry: c.expiry, ...(reveal ? { cardNo: c.pan, cvv: c.cvv } : { maskedCardNo: number }),
    }) + '\n';
  }
  const rows: Array<[string, string]> = [
    ['card', c.id], ['customer', c.customerId], ['balance', c.balanceId], ['program', c.configId], ['status', c.status],
    ['number', reveal ? number : `${number}   (--reveal shows it in full)`], ['expiry', `${c.exp}   (field 14: ${c.expiry})`],
    ['cvv2', reveal ? c.cvv : '***   (--reveal shows it)'],
  ];
  return rows.map(([k, v]) => `${k.padEnd(10)}${v}`).join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (o === null) { process.stdout.write(USAGE); return 0; }
  const card = await new ManagementApi(o.api.replace(/\/+$/, '')).cardData(o.cardId);
  process.stdout.write(render(card, o.reveal, o.json));
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`card: ${message.split('\n')[0]}${e instanceof UsageError ? ' (--help for usage)' : ''}\n`);
  process.exitCode = e instanceof UsageError ? 1 : e instanceof ApiError ? 2 : 2;
});

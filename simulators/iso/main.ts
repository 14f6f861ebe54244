// `npm run iso -- <verb> …`: one ISO 8583 message to a running switch, with named fields and
// sensible defaults, and its answer printed field by field with ISO names (PAN masked, field 39
// with its reasons, field 54 decoded). `reverse` and `clear` build field 90 (and 95) from an
// earlier answer kept in var/iso/state.json, or from --original. Run with --help for every option.
//
// The PAN never goes on the command line, where npm's echo of the command and `ps` would show it:
// --card-id fetches it through the management API (the JWE path, as a partner reads card data),
// ISO_PAN passes it in the environment, `--pan -` reads it from stdin. `--pan <digits>` is refused.
//
// With --card-id the message can carry the card data a terminal would send (cardauth/card-data.ts
// plays the card and the acquirer): the card's CVV2 (--cvv2), its track-2 image (--swipe), a chip
// read (--chip), a PIN block under the acquirer's ZPK (--pin); --accepts-partial adds 48.61. Card
// data is never printed: its fields are shown withheld, and --raw masks their bytes.
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { IsoCodec, type IsoFields } from '../../iso/codec.js';
import { DIALECT_1987, DIALECT_2003, MAX_FIELD, type IsoDialect } from '../../iso/dialect.js';
import { maskPan } from '../../iso/mask.js';
import { currencyExponent, currencyNumeric, currencyAlpha } from '../../iso/currency.js';
import { IsoLink, type LinkTls } from '../../iso/link.js';
import {
  describeFields, localTime, merchantNameLocation, minorUnits, originalDataElements, replacementAmounts, transmissionTime,
  type OriginalRef,
} from '../lib/fields.js';
import { ToolState, ATC_MAX, type SavedExchange } from './state.js';
import { DEFAULT_API_URL, ManagementApi, type CardData } from '../lib/management-api.js';
import { CardDataBuilder, cardFieldsForCodec, toolKeyFile, type CardFields, type CardRef } from '../../cardauth/card-data.js';
import { withPartialApproval } from '../lib/fields.js';

/** A bad command line: printed as one line, exit 1. */
class UsageError extends Error {}

const OPTIONS = {
  pan: { type: 'string' }, 'card-id': { type: 'string' }, api: { type: 'string' }, amount: { type: 'string' }, currency: { type: 'string' }, exp: { type: 'string' },
  stan: { type: 'string' }, mcc: { type: 'string' }, proc: { type: 'string' }, field: { type: 'string', multiple: true },
  'final-amount': { type: 'string' }, original: { type: 'string' }, advice: { type: 'boolean' },
  dialect: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, raw: { type: 'boolean' },
  'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tls-ca': { type: 'string' },
  state: { type: 'string' }, 'timeout-ms': { type: 'string' }, help: { type: 'boolean', short: 'h' },
  cvv2: { type: 'boolean' }, swipe: { type: 'boolean' }, chip: { type: 'boolean' }, pin: { type: 'string' }, atc: { type: 'string' },
  'accepts-partial': { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** Fields the tool fills in when the command line does not set them (see --help). */
const DEFAULTS = { acquirer: '123456', terminal: 'ISOTOOL1', merchantId: 'ANTACAISOTOOL01', posEntry: '051', mcc: '5411' } as const;

function helpText(dialect: IsoDialect): string {
  const head = `usage: npm run iso -- <verb> [options]

verbs:
  send <mti>   one message: 0100 0101 0120 0200 0201 0220 0400 0420 0800 (any 4 digits)
  reverse      0400 (0420 with --advice) of the last approved 0100/0200 (or --original); the card again
  clear        0220 clearing of the last 0100 (or --original); the card again, --amount to clear for another amount

the card (field 2, printed masked; never on the command line, where npm and ps would show it):
  --card-id <id>            a card of the switch: its PAN (and currency) read through the management API,
                            decrypted from the JWE answer (--api <url>, default ANTACA_URL, else ${DEFAULT_API_URL};
                            ANTACA_API_KEY when the switch has API keys)
  ISO_PAN=<digits>          the PAN from the environment, e.g. ISO_PAN=5557... npm run iso -- send 0100 --amount 1
  --pan -                   the PAN from stdin, e.g. npm run card -- show <id> --json --reveal | jq -r .cardNo | npm run iso -- send 0100 --pan -

message options:
  --amount <decimal>        field 4 from a decimal, in the currency's minor units (12.34 EUR = 1234)
  --currency <alpha-3>      field 49 (default EUR)
  --exp <YYMM>              field 14 (default: not sent; the switch then checks the card's own expiry)
  --stan <n>                field 11 (default: a counter kept in the state file, random at first)
  --mcc <n4>                field 18 (default ${DEFAULTS.mcc})
  --proc <2 or 6 digits>    field 3 (default 00: purchase; 01 ATM, 09 cashback, 20 refund, 28 payment credit, 30 inquiry)
  --field <n>=<value>       any field as it goes on the wire, e.g. --field 43="SHOP                   WARSAW        POL";
                            repeatable; --field <n>= leaves a default field out
  --final-amount <decimal>  reverse: field 95, a partial reversal to this final amount
  --original <mti>:<stan>:<f7>:<acquirer>   reverse/clear: the original named in field 90 instead of the saved answer
  --advice                  reverse: send an 0420 reversal advice instead of an 0400

card data (send of an 01xx/02xx with --card-id; never printed: shown withheld, masked in --raw):
  --cvv2                    e-commerce: entry mode 812, field 14 and 48.92 with the card's CVV2 (from the card data API)
  --swipe                   a swipe: entry mode 901, field 35 the card's track-2 image (the API shows it for a physical
                            card on a switch run with SANDBOX=1 only)
  --chip                    a chip read: entry mode 051, field 23, the iCVV track-2 equivalent and field 55 with an ARQC
                            over the message's amount and currency, made with the card keys (KEYS_FILE, else var/keys.json)
  --atc <n>                 --chip: the ATC (1-${ATC_MAX}; default one above the last this tool used for the card,
                            kept in the state file; an ATC used before shows a replay, 63)
  --pin <digits>|-          field 52: the PIN (4-12 digits; "-": from stdin) in an ISO 9564 format-0 block under the ZPK
                            of the acquirer in field 32, from the card keys (npm and ps show a command line: a test card's
                            PIN only); with --swipe or --chip, or alone
  --accepts-partial         48.61 position 1 "1": the terminal accepts a partial approval (any card source)
  e.g. npm run iso -- send 0200 --card-id <id> --proc 01 --amount 50 --chip --pin 1234   (an ATM withdrawal)

link options:
  --host <host>  --port <port>   the switch's ISO 8583 listener (default: ANTACA_ISO=<host:port>, else 127.0.0.1:8583)
  --dialect 1987|2003            the switch's ISO_DIALECT (default 1987)
  --tls-cert <pem> --tls-key <pem> --tls-ca <pem>   TLS with a client certificate (the switch's ISO_TLS_*)
  --raw                          also print request and answer bytes in hex (PAN digits masked)
  --state <dir>                  where the last answers are kept (default var/iso)
  --timeout-ms <n>               how long to wait for the answer (default 10000)

defaults filled in for 01xx/02xx/04xx: 7 now (UTC), 11, 12/13 local time, 18, 22 ${DEFAULTS.posEntry}, 32 ${DEFAULTS.acquirer},
37 from the date and STAN, 41 ${DEFAULTS.terminal}, 42 ${DEFAULTS.merchantId}, 43 name 1-22 / city 24-36 / country 38-40,
49 from --currency; for 08xx: 7, 11 and 70 301 (echo).

fields (${dialect.name} dialect):`;
  const rows: string[] = [];
  for (let n = 2; n <= MAX_FIELD; n++) {
    const spec = dialect.fields[n];
    if (spec === undefined) continue;
    const len = spec.lengthType === 'fixed' ? `${spec.maxLength}` : `..${spec.maxLength}`;
    rows.push(`  ${String(n).padStart(3)}  ${spec.description.padEnd(46)} ${spec.encoding} ${len}`);
  }
  return `${head}\n${rows.join('\n')}\n`;
}

function parse(argv: string[]): { verb: string; mti: string | undefined; v: Values } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0] ?? 'bad arguments');
  }
  const [verb = '', mti, ...rest] = parsed.positionals;
  if (parsed.values.help) return { verb: 'help', mti: undefined, v: parsed.values };
  if (!['send', 'reverse', 'clear'].includes(verb)) throw new UsageError(verb === '' ? 'a verb is needed: send, reverse or clear (--help)' : `unknown verb "${verb}": send, reverse or clear (--help)`);
  if (verb === 'send' && (mti === undefined || !/^\d{4}$/.test(mti))) throw new UsageError('send needs an MTI of 4 digits, e.g. send 0100');
  if ((verb !== 'send' && mti !== undefined) || rest.length > 0) throw new UsageError(`unexpected argument "${verb === 'send' ? rest[0] : mti}"`);
  return { verb, mti, v: parsed.values };
}

function dialectOf(v: Values): IsoDialect {
  if (v.dialect === undefined || v.dialect === '1987') return DIALECT_1987;
  if (v.dialect === '2003') return DIALECT_2003;
  throw new UsageError(`--dialect must be 1987 or 2003, got "${v.dialect}"`);
}

function check(ok: boolean, message: string): void { if (!ok) throw new UsageError(message); }

/** ANTACA_ISO=<host:port>: the listener when --host and --port are not given (as ANTACA_URL names the API). */
function isoAddressOf(text: string | undefined): { host: string; port: string } | undefined {
  if (text === undefined || text === '') return undefined;
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text);
  check(m !== null, `ANTACA_ISO must be <host>:<port>, got "${text.slice(0, 60)}"`);
  return { host: (m as RegExpExecArray)[1] as string, port: (m as RegExpExecArray)[2] as string };
}

/** The currency of --currency (default EUR): numeric code and exponent. */
function currencyOf(alpha: string): { numeric: string; exponent: number } {
  const numeric = currencyNumeric(alpha);
  const exponent = currencyExponent(alpha);
  check(numeric !== undefined && exponent !== undefined, `--currency "${alpha}" is not a currency the switch knows (EUR, USD, PLN, ...)`);
  return { numeric: numeric as string, exponent: exponent as number };
}

function amountOf(decimal: string, exponent: number, option: string): number {
  const minor = minorUnits(decimal, exponent);
  if (typeof minor === 'string') throw new UsageError(`${option}: ${minor}`);
  return minor;
}

/** The card of the message: its PAN and, from --card-id, its balance currency and full data. */
interface CardIn { pan: string; currency?: string; data?: CardData }

/**
 * The PAN from --card-id (the management API), ISO_PAN, or stdin (`--pan -`); undefined when none
 * is given. A PAN given on the command line is refused: npm prints the command and `ps` shows it.
 */
async function cardOf(v: Values, required: boolean): Promise<CardIn | undefined> {
  const sources = [v['card-id'] !== undefined, v.pan !== undefined, (process.env.ISO_PAN ?? '') !== ''].filter(Boolean).length;
  if (v.pan !== undefined && v.pan !== '-') {
    throw new UsageError('--pan takes "-" (the PAN from stdin) only: a PAN on the command line is printed by npm and shown by ps; use --card-id <id>, ISO_PAN=<pan> or --pan -');
  }
  check(sources <= 1, 'give the card once: --card-id, ISO_PAN or --pan -');
  let card: CardIn | undefined;
  if (v['card-id'] !== undefined) {
    const data = await new ManagementApi((v.api ?? process.env.ANTACA_URL ?? DEFAULT_API_URL).replace(/\/+$/, '')).cardData(v['card-id']);
    card = { pan: data.pan, currency: data.currency, data };
  } else if (v.pan === '-') {
    card = { pan: (await readStdin()).trim() };
  } else if ((process.env.ISO_PAN ?? '') !== '') {
    card = { pan: (process.env.ISO_PAN as string).trim() };
  }
  if (card === undefined) { check(!required, 'the card is needed: --card-id <id>, ISO_PAN=<pan> or --pan - (the state file keeps only a masked PAN)'); return undefined; }
  check(/^\d{12,19}$/.test(card.pan), 'the PAN must be 12 to 19 digits');
  return card;
}

/** All of stdin as text (at most 4 KiB: a PAN or a PIN and a newline). */
async function readStdin(what: 'PAN' | 'PIN' = 'PAN'): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`${what} (not echoed to any log; end with Enter and Ctrl-D): `);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin) {
    size += (c as Buffer).length;
    if (size > 4096) throw new UsageError(`--${what.toLowerCase()} -: stdin holds more than a ${what}`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function procOf(v: Values, fallback: string): string {
  const p = v.proc ?? fallback;
  check(/^\d{2}(\d{4})?$/.test(p), `--proc must be 2 or 6 digits, got "${p}"`);
  return p.length === 2 ? p + '0000' : p;
}

/** --original <mti>:<stan>:<f7>:<acquirer> as the reference field 90 needs. */
function originalOf(text: string): OriginalRef {
  const m = /^(\d{4}):(\d{1,6}):(\d{10}):(\d{0,11})$/.exec(text);
  check(m !== null, '--original must be <mti>:<stan>:<f7>:<acquirer>, e.g. 0100:000123:1125101500:123456');
  const [, mti, stan, f7, acquirer] = m as RegExpExecArray;
  return { mti: mti as string, stan: (stan as string).padStart(6, '0'), f7: f7 as string, acquirer: acquirer as string };
}

/** Applies --field n=value overrides (an empty value removes the field). */
function applyFieldOverrides(fields: IsoFields, dialect: IsoDialect, overrides: readonly string[] | undefined): void {
  for (const o of overrides ?? []) {
    const m = /^(\d{1,3})=(.*)$/s.exec(o);
    check(m !== null, `--field must be <number>=<value>, got "${o}"`);
    const n = Number((m as RegExpExecArray)[1]);
    const value = (m as RegExpExecArray)[2] as string;
    check(n >= 2 && n <= MAX_FIELD && dialect.fields[n] !== undefined, `--field ${n}: no such field in the ${dialect.name} dialect (--help lists them)`);
    if (value === '') fields.delete(n);
    else fields.set(n, dialect.fields[n]?.encoding === 'b' ? Buffer.from(value, 'hex') : value);
  }
}

/** Fields every 01xx/02xx/04xx carries unless overridden: times, STAN, merchant and terminal. */
function commonFields(now: Date, stan: string, numericCurrency: string): IsoFields {
  const local = localTime(now);
  const start = Date.UTC(now.getUTCFullYear(), 0, 0);
  const julian = String(Math.floor((now.getTime() - start) / 86_400_000)).padStart(3, '0');
  const rrn = String(now.getUTCFullYear() % 10) + julian + String(now.getUTCHours()).padStart(2, '0') + stan;
  return new Map<number, string | Buffer>([
    [7, transmissionTime(now)], [11, stan], [12, local[12]], [13, local[13]], [22, DEFAULTS.posEntry],
    [32, DEFAULTS.acquirer], [37, rrn], [41, DEFAULTS.terminal], [42, DEFAULTS.merchantId],
    [43, merchantNameLocation('ANTACA ISO TOOL', 'WARSAW', 'POL')], [49, numericCurrency],
  ]);
}

interface Built { mti: string; fields: IsoFields; currencyNumeric: string }

function buildSend(mti: string, v: Values, card: CardIn | undefined, stan: string, now: Date): Built {
  if (mti.startsWith('08')) {
    return { mti, fields: new Map([[7, transmissionTime(now)], [11, stan], [70, '301']]), currencyNumeric: '' };
  }
  const cur = currencyOf(v.currency ?? card?.currency ?? 'EUR');
  const fields = commonFields(now, stan, cur.numeric);
  if (card !== undefined) fields.set(2, card.pan);
  fields.set(3, procOf(v, '00'));
  if (v.amount !== undefined) fields.set(4, String(amountOf(v.amount, cur.exponent, '--amount')).padStart(12, '0'));
  if (v.exp !== undefined) { check(/^\d{4}$/.test(v.exp), '--exp must be YYMM'); fields.set(14, v.exp); }
  fields.set(18, v.mcc ?? DEFAULTS.mcc);
  check(/^\d{4}$/.test(String(fields.get(18))), '--mcc must be 4 digits');
  return { mti, fields: sortFields(fields), currencyNumeric: cur.numeric };
}

/** The original a follow-up names: --original, else the newest saved exchange of those MTIs. */
function followUpOriginal(v: Values, state: ToolState, mtis: readonly string[]): { ref: OriginalRef; saved: SavedExchange | undefined } {
  if (v.original !== undefined) return { ref: originalOf(v.original), saved: undefined };
  const saved = state.latest(mtis);
  check(saved !== undefined, `no approved ${mtis.join('/')} answer saved to follow up: send one first, or give --original`);
  const s = saved as SavedExchange;
  return { ref: { mti: s.mti, stan: s.stan, f7: s.f7, acquirer: s.acquirer }, saved: s };
}

function buildFollowUp(verb: 'reverse' | 'clear', v: Values, card: CardIn, state: ToolState, stan: string, now: Date): Built {
  const { ref, saved } = followUpOriginal(v, state, verb === 'reverse' ? ['0100', '0101', '0200', '0201', '0120', '0220'] : ['0100', '0101']);
  const pan = card.pan;
  if (saved !== undefined) check(maskPan(pan) === saved.maskedPan, `the card does not match the saved answer's card ${saved.maskedPan}`);
  const alpha = v.currency ?? (saved ? currencyAlpha(saved.currency) : undefined) ?? 'EUR';
  const cur = currencyOf(alpha);
  const fields = commonFields(now, stan, cur.numeric);
  fields.set(2, pan);
  fields.set(3, procOf(v, saved ? saved.proc.slice(0, 2) : '00'));
  const originalMinor = saved?.amount ? Number(saved.amount) : undefined;
  const amountMinor = v.amount !== undefined ? amountOf(v.amount, cur.exponent, '--amount') : originalMinor;
  if (verb === 'clear') check(amountMinor !== undefined, '--amount is needed to clear an --original');
  if (amountMinor !== undefined) fields.set(4, String(amountMinor).padStart(12, '0'));
  fields.set(32, ref.acquirer);
  if (ref.acquirer === '') fields.delete(32);
  if (saved !== undefined) {
    if (saved.rrn !== '') fields.set(37, saved.rrn);
    if (saved.terminal !== '') fields.set(41, saved.terminal); else fields.delete(41);
    if (verb === 'clear' && saved.authId !== '') fields.set(38, saved.authId);
  }
  fields.set(90, originalDataElements(ref));
  if (verb === 'reverse' && v['final-amount'] !== undefined) fields.set(95, replacementAmounts(amountOf(v['final-amount'], cur.exponent, '--final-amount')));
  else check(v['final-amount'] === undefined, '--final-amount goes with reverse');
  fields.set(18, v.mcc ?? DEFAULTS.mcc);
  const mti = verb === 'clear' ? '0220' : v.advice ? '0420' : '0400';
  return { mti, fields: sortFields(fields), currencyNumeric: cur.numeric };
}

function sortFields(fields: IsoFields): IsoFields {
  return new Map([...fields].sort((a, b) => a[0] - b[0]));
}

function tlsOf(v: Values): LinkTls | null {
  const given = [v['tls-cert'], v['tls-key'], v['tls-ca']].filter((x) => x !== undefined).length;
  if (given === 0) return null;
  check(given === 3, '--tls-cert, --tls-key and --tls-ca go together');
  const read = (option: string, path: string): Buffer => {
    try { return readFileSync(path); } catch (e) { throw new UsageError(`${option} ${path}: ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}`); }
  };
  return { cert: read('--tls-cert', v['tls-cert'] as string), key: read('--tls-key', v['tls-key'] as string), ca: read('--tls-ca', v['tls-ca'] as string) };
}

/**
 * The bytes as hex with the card data fields' bytes (35, 48, 52, 55: track, CVV2, PIN block,
 * cryptograms) replaced by `*` and the PAN's middle digits too, so --raw never shows a secret.
 */
function maskedHex(body: Buffer, pan: string | undefined, secrets: ReadonlyArray<string | Buffer>): string {
  let text = body.toString('latin1');
  for (const s of secrets) {
    const v = typeof s === 'string' ? s : s.toString('latin1');
    if (v.length >= 3) text = text.split(v).join('*'.repeat(v.length));
  }
  if (pan !== undefined && pan.length >= 13) text = text.split(pan).join(maskPan(pan));
  return Buffer.from(text, 'latin1').toString('hex').replace(/(.{64})/g, '$1\n      ').trimEnd();
}

/** The values of a message's fields that the dialect marks secret (card data). */
function secretsOf(dialect: IsoDialect, fields: IsoFields): Array<string | Buffer> {
  return [...fields].filter(([n]) => dialect.fields[n]?.sensitivity === 'secret').map(([, value]) => value);
}

/** A PIN from --pin: 4 to 12 digits, or "-" for stdin. */
async function pinOf(text: string): Promise<string> {
  const pin = text === '-' ? (await readStdin('PIN')).trim() : text;
  check(/^\d{4,12}$/.test(pin), '--pin must be 4 to 12 digits (or - to read it from stdin)');
  return pin;
}

/** Whether any card data option is given. */
function wantsCardData(v: Values): boolean {
  return v.cvv2 === true || v.swipe === true || v.chip === true || v.pin !== undefined || v.atc !== undefined || v['accepts-partial'] === true;
}

/**
 * The card data of the message, as a terminal sends it: e-commerce with the card's CVV2 (--cvv2),
 * the card's track-2 image (--swipe), a chip read with an ARQC over the message's amount and
 * currency and the iCVV (--chip), a PIN block under the ZPK of field 32's acquirer (--pin), 48.61
 * (--accepts-partial). `fields`: the message as it will be sent. The CVV2 and the track come from
 * the card data API; the chip read and the PIN block need the card key file (cardauth/card-data.ts).
 * Returns the fields (field 52 as 16 hex) and one line saying what they are, never their values.
 */
async function cardDataOf(v: Values, card: CardIn | undefined, fields: IsoFields, state: ToolState): Promise<{ fields: CardFields; note: string }> {
  const entries = [v.cvv2, v.swipe, v.chip].filter((x) => x === true).length;
  check(entries <= 1, '--cvv2, --swipe and --chip are entry modes: give one of them');
  check(v.atc === undefined || v.chip === true, '--atc goes with --chip');
  const out: CardFields = {};
  const said: string[] = [];
  if (entries > 0 || v.pin !== undefined) {
    check(card?.data !== undefined, '--cvv2, --swipe, --chip and --pin need the card read through the management API: --card-id <id>');
    const d = (card as CardIn).data as CardData;
    const ref: CardRef = { configId: d.configId, pan: d.pan, expiry: d.expiry };
    const acquirer = String(fields.get(32) ?? '');
    let keys: CardDataBuilder | undefined;
    const keyed = (): CardDataBuilder => {
      keys ??= CardDataBuilder.fromFile(toolKeyFile());
      if (!keys.has(d.configId)) throw new Error(`the card key file ${toolKeyFile()} has no keys of program ${d.configId}`);
      return keys;
    };
    if (v.cvv2 === true) {
      Object.assign(out, new CardDataBuilder({}).ecommerce(ref, { cvv2: d.cvv }));
      said.push('e-commerce with the card\'s CVV2 (48.92)');
    }
    if (v.swipe === true) {
      check(d.track2 !== undefined, `--swipe: the card data API shows no track-2 image of card ${d.id} (only of a physical card, and only on a switch run with SANDBOX=1)`);
      Object.assign(out, { 22: '901', 35: d.track2 as string });
      said.push('a swipe with the card\'s track 2');
    }
    if (v.chip === true) said.push(chipRead(v, d, ref, fields, state, keyed, out));
    if (v.pin !== undefined) {
      out[52] = keyed().pinBlock(ref, acquirer, await pinOf(v.pin));
      said.push(`a PIN block under the ZPK of acquirer ${acquirer}`);
    }
  }
  if (v['accepts-partial'] === true) {
    out[48] = withPartialApproval(out[48] ?? '');
    said.push('48.61: the terminal accepts a partial approval');
  }
  return { fields: out, note: `card data: ${said.join('; ')}` };
}

/** --chip: the chip read's fields into `out` (the card's next ATC from the state file, or --atc); answers what it is. */
function chipRead(v: Values, d: CardData, ref: CardRef, fields: IsoFields, state: ToolState, keyed: () => CardDataBuilder, out: CardFields): string {
  let given: number | undefined;
  if (v.atc !== undefined) {
    given = Number(v.atc);
    check(/^\d{1,5}$/.test(v.atc) && given >= 1 && given <= ATC_MAX, `--atc must be an integer from 1 to ${ATC_MAX}`);
  }
  const atc = state.takeAtc(d.id, given);
  check(atc !== null, `card ${d.id} has used every ATC this tool counts (up to ${ATC_MAX}): give --atc`);
  const amountMinor = Number(fields.get(4) ?? 0);
  Object.assign(out, keyed().chipRead(ref, { atc: atc as number, amountMinor, currencyN3: String(fields.get(49) ?? '978'), type: String(fields.get(3) ?? '00').slice(0, 2) }, { acquirer: String(fields.get(32) ?? '') }));
  return `a chip read with an ARQC (ATC ${atc}) and the iCVV`;
}

/** Card data into the message: field 14 stays as --exp or --field set it; --field overrides win again after. */
function addCardData(fields: IsoFields, f: CardFields, dialect: IsoDialect, overrides: readonly string[] | undefined): IsoFields {
  for (const [n, value] of cardFieldsForCodec(f)) {
    if (n === 14 && fields.has(14)) continue;
    fields.set(n, value);
  }
  applyFieldOverrides(fields, dialect, overrides);
  return sortFields(fields);
}

/** Sends the message and waits for the answer with the same STAN (any answer for an 08xx without one). */
function exchange(link: IsoLink, codec: IsoCodec, body: Buffer, stan: string, timeoutMs: number): Promise<{ body: Buffer; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms (an undecodable message is dropped without one)`)), timeoutMs);
    link.onFrame = (answer) => {
      const r = codec.unpack(answer);
      const fields = r.ok ? r.msg.fields : r.partial.fields;
      if (fields.get(11) !== undefined && fields.get(11) !== stan) return;
      clearTimeout(timer);
      resolvePromise({ body: answer, ms: performance.now() - t0 });
    };
    link.onClose = (e) => { if (e) { clearTimeout(timer); reject(e); } };
    link.send(body);
  });
}

async function run(argv: string[]): Promise<number> {
  const { verb, mti, v } = parse(argv);
  const dialect = dialectOf(v);
  if (verb === 'help') { process.stdout.write(helpText(dialect)); return 0; }
  const envIso = isoAddressOf(process.env.ANTACA_ISO);
  const port = Number(v.port ?? envIso?.port ?? 8583);
  check(Number.isInteger(port) && port > 0 && port < 65536, `--port must be 1-65535, got "${v.port}"`);
  const timeoutMs = Number(v['timeout-ms'] ?? 10_000);
  check(Number.isInteger(timeoutMs) && timeoutMs > 0, '--timeout-ms must be a positive integer');
  const tls = tlsOf(v);
  const state = ToolState.load(resolve(v.state ?? 'var/iso'));
  let stan = state.takeStan();
  if (v.stan !== undefined) { check(/^\d{1,6}$/.test(v.stan), '--stan must be 1 to 6 digits'); stan = v.stan.padStart(6, '0'); }
  const now = new Date();
  check(!wantsCardData(v) || (verb === 'send' && /^0[12]/.test(mti ?? '')), 'card data options (--cvv2, --swipe, --chip, --pin, --atc, --accepts-partial) go with send of an 01xx or 02xx');
  const card = await cardOf(v, verb !== 'send');
  const built = verb === 'send' ? buildSend(mti as string, v, card, stan, now) : buildFollowUp(verb as 'reverse' | 'clear', v, card as CardIn, state, stan, now);
  applyFieldOverrides(built.fields, dialect, v.field);
  if (wantsCardData(v)) {
    const cd = await cardDataOf(v, card, built.fields, state);
    built.fields = addCardData(built.fields, cd.fields, dialect, v.field);
    console.log(cd.note);
  }
  const codec = new IsoCodec(dialect);
  let body: Buffer;
  try { body = codec.pack({ mti: built.mti, fields: built.fields }); } catch (e) { throw new UsageError(`cannot pack: ${(e as Error).message}`); }
  const sentStan = String(built.fields.get(11) ?? '');
  const pan = typeof built.fields.get(2) === 'string' ? (built.fields.get(2) as string) : undefined;
  const host = v.host ?? envIso?.host ?? '127.0.0.1';
  state.save();
  console.log(`→ ${built.mti} to ${host}:${port}${tls ? ' (TLS)' : ''}, dialect ${dialect.name}`);
  for (const line of describeFields(dialect, built.fields)) console.log(line);
  if (v.raw) console.log(`  hex ${maskedHex(body, pan, secretsOf(dialect, built.fields))}`);
  const link = await IsoLink.open({ host, port, tls });
  try {
    const answer = await exchange(link, codec, body, sentStan, timeoutMs);
    printAnswer(codec, answer, v.raw === true, pan);
    rememberAnswer(state, built, codec.unpack(answer.body), pan);
    state.save();
    return 0;
  } finally {
    link.close();
  }
}

function printAnswer(codec: IsoCodec, answer: { body: Buffer; ms: number }, raw: boolean, pan: string | undefined): void {
  const r = codec.unpack(answer.body);
  const mtiShown = r.ok ? r.msg.mti : (r.partial.mti ?? '????');
  console.log(`← ${mtiShown} in ${answer.ms.toFixed(1)} ms`);
  for (const line of describeFields(codec.dialect, r.ok ? r.msg.fields : r.partial.fields)) console.log(line);
  if (!r.ok) console.log(`  the answer does not decode in full: ${r.errors.map((e) => `field ${e.field} ${e.code}`).join(', ')}`);
  if (raw) console.log(`  hex ${maskedHex(answer.body, pan, secretsOf(codec.dialect, r.ok ? r.msg.fields : r.partial.fields))}`);
}

function rememberAnswer(state: ToolState, built: Built, r: ReturnType<IsoCodec['unpack']>, pan: string | undefined): void {
  if (!r.ok || pan === undefined) return;
  const str = (f: IsoFields, n: number): string => { const x = f.get(n); return typeof x === 'string' ? x : ''; };
  state.remember({
    mti: built.mti, stan: str(built.fields, 11), f7: str(built.fields, 7), acquirer: str(built.fields, 32), maskedPan: maskPan(pan),
    proc: str(built.fields, 3), amount: str(built.fields, 4), currency: str(built.fields, 49), rrn: str(built.fields, 37),
    terminal: str(built.fields, 41), authId: str(r.msg.fields, 38), responseCode: str(r.msg.fields, 39), at: new Date().toISOString(),
  });
}

run(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  const message = e instanceof Error ? e.message : String(e);
  console.error(`iso: ${message.split('\n')[0]}`);
  process.exitCode = e instanceof UsageError ? 1 : 2;
});

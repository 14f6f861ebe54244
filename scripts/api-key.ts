// npm run api-key -- <name> <read|write> [--file <API_KEYS_FILE>]: a new API key for the management
// API (api/auth.ts). Prints the key once (only its SHA-256 is kept by the switch) and the entry for
// API_KEYS_FILE; with --file the entry is added to that file (created with mode 600 when absent).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApiKeys, apiKeyHash } from '../api/auth.js';

const USAGE = `usage: npm run api-key -- <name> <read|write> [--file <path>]

Makes a new API key for the management API: 32 random bytes, base64url, after "antaca_".
Prints the key once, and the entry to put in API_KEYS_FILE, which holds the key's SHA-256 only.
  <name>         1-64 characters of [A-Za-z0-9._-]: who holds the key (shown in 403 answers, never the key)
  <read|write>   read: GET calls only; write: every call
  --file <path>  add the entry to this API_KEYS_FILE (created with mode 600 when absent); the
                 switch reads it at start-up, so restart it to use the new key
`;

if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
  process.stdout.write(USAGE);
  process.exit(0);
}
let parsed;
try {
  parsed = parseArgs({ args: process.argv.slice(2), options: { file: { type: 'string' } }, allowPositionals: true, strict: true });
} catch (e) {
  fail(`${(e as Error).message.split('\n')[0] ?? 'bad arguments'} (--help for usage)`);
}
const [name, scope, ...rest] = parsed.positionals;
if (name === undefined || scope === undefined || rest.length > 0) fail('give a name and a scope: npm run api-key -- backend write');
if (!/^[A-Za-z0-9._-]{1,64}$/.test(name)) fail('the name must be 1-64 characters of [A-Za-z0-9._-]');
if (scope !== 'read' && scope !== 'write') fail('the scope must be read or write');

const key = `antaca_${randomBytes(32).toString('base64url')}`;
const entry = { name, scope, sha256: apiKeyHash(key) };
const file = parsed.values.file;
if (file !== undefined) {
  let keys: unknown[] = [];
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const raw = JSON.parse(text) as unknown;
    keys = Array.isArray(raw) ? raw : ((raw as { keys?: unknown[] }).keys ?? []);
  }
  keys.push(entry);
  const text = JSON.stringify({ keys }, null, 2) + '\n';
  try {
    ApiKeys.parse(text, file);
  } catch (e) {
    fail((e as Error).message);
  }
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
process.stdout.write(`API key "${name}" (${scope}), shown this once:\n\n  ${key}\n\n`);
process.stdout.write(file !== undefined
  ? `Added to ${file} (restart the switch with API_KEYS_FILE=${file} to use it).\n`
  : `Entry for API_KEYS_FILE ({"keys": [ ... ]}):\n\n  ${JSON.stringify(entry)}\n`);
process.stdout.write('Send it as: Authorization: Bearer <key>\n');

function fail(message: string): never {
  process.stderr.write(`api-key: ${message}\n`);
  process.exit(1);
}

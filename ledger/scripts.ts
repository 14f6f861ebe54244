// Loads the Lua scripts of ledger/lua at run time and makes each a function that sends EVALSHA and
// falls back to EVAL on NOSCRIPT (scriptCall). Nothing is defined on the ioredis client: a client
// with commands defined on it (defineCommand) copies every one of them onto each pipeline it
// builds, and auto-pipelining builds one per event-loop turn, which cost the switch about a tenth
// of its CPU at 1,000 messages/s.
// `--- @include name` lines are replaced by includes/name.lua beside the script, or else by
// ledger/lua/includes/name.lua (the stores' record write is shared with the hold), so shared helpers are
// written once and each script stays self-contained on the server; `__MAX_AMOUNT_MINOR__` is
// replaced by MAX_AMOUNT_MINOR (ledger/types.ts), the one definition of the bound, and the
// `--- @constants` line by the result codes, statuses and reversal effects of ledger/codes.ts
// (luaConstants), their one definition. A script naming a C_/S_/E_ constant that the tables lack
// is refused at load time, not when Redis first runs that line.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis } from 'ioredis';
import { LedgerError, luaConstants } from './codes.js';
import { MAX_AMOUNT_MINOR } from './types.js';

/**
 * The project root: the nearest directory above this module holding package.json. Works from the
 * sources (ledger/*.ts under tsx) and from the build (dist/ledger/*.js).
 */
export function projectRoot(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from));
  for (let i = 0; i < 10; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(`ledger: no package.json above ${fileURLToPath(from)}`);
}

export function luaDir(): string {
  return join(projectRoot(), 'ledger', 'lua');
}

/** numberOfKeys null: a script over a variable number of keys (`<name>-n.lua`), called with the count first. */
export interface LuaScript { name: string; numberOfKeys: number | null; lua: string }

const INCLUDE = /^--- @include ([a-z0-9-]+)\s*$/gm;
/** Constants the TypeScript side owns, written into the scripts at load time. */
const MAX_TOKEN = /__MAX_AMOUNT_MINOR__/g;
const CONSTANTS = /^--- @constants\s*$/m;
const CONSTANT_USE = /\b[CSE]_[A-Z][A-Z_]*\b/g;

/**
 * Every `<name>-<keys>.lua` (or `<name>-n.lua`: any number of keys) in ledger/lua, includes
 * expanded and constants written in. Throws LedgerError LEDGER_ERR_SCRIPT_CONSTANT when a script
 * uses a C_/S_/E_ name that ledger/codes.ts does not define.
 */
export function loadScripts(dir: string = luaDir()): LuaScript[] {
  const constants = luaConstants();
  const defined = new Set(constants.match(CONSTANT_USE));
  const out: LuaScript[] = [];
  for (const file of readdirSync(dir).sort()) {
    const m = /^(.+)-(\d+|n)\.lua$/.exec(file);
    if (m === null) continue;
    const src = readFileSync(join(dir, file), 'utf8');
    const lua = src.replace(INCLUDE, (_all, inc: string) => readFileSync(includePath(dir, inc), 'utf8'))
      .replace(MAX_TOKEN, String(MAX_AMOUNT_MINOR))
      .replace(CONSTANTS, constants);
    for (const name of lua.replace(/--.*$/gm, '').match(CONSTANT_USE) ?? []) {
      if (!defined.has(name)) throw new LedgerError('LEDGER_ERR_SCRIPT_CONSTANT', `${file} uses ${name}, which ledger/codes.ts does not define`);
    }
    out.push({ name: m[1]!, numberOfKeys: m[2] === 'n' ? null : Number(m[2]), lua });
  }
  return out;
}

/** An included file: beside the script (`<dir>/includes`), else the ledger's. */
function includePath(dir: string, name: string): string {
  const own = join(dir, 'includes', `${name}.lua`);
  return existsSync(own) ? own : join(luaDir(), 'includes', `${name}.lua`);
}

/** Command name under which a script is registered on the client. */
export function commandName(script: string): string {
  return 'ledger_' + script.replace(/-/g, '_');
}

export type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;

export function registerScripts(redis: Redis | Cluster, scripts: LuaScript[]): Map<string, ScriptFn> {
  const fns = new Map<string, ScriptFn>();
  for (const s of scripts) fns.set(s.name, scriptCall(redis, s));
  return fns;
}

/**
 * A script as a function of (...keys, ...args) for a fixed key count, or of (numberOfKeys,
 * ...keys, ...args) when the count varies (`-n` scripts). Sent as EVALSHA, and as EVAL when the
 * server answers NOSCRIPT (a restarted or flushed Redis), so no script needs loading first. On a
 * Cluster, ioredis routes EVALSHA by its first key. Errors: whatever the script or Redis replies.
 */
export function scriptCall(redis: Redis | Cluster, script: Pick<LuaScript, 'lua' | 'numberOfKeys'>): ScriptFn {
  const lua = script.lua;
  const sha = createHash('sha1').update(lua).digest('hex');
  const fixed = script.numberOfKeys;
  const r = redis as Redis;
  type Args = [number, ...(string | number)[]];
  // The EVAL fallback builds its arguments again only when the server does not know the script.
  const orEval = (err: unknown, args: Args): Promise<unknown> => {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return r.eval(lua, ...args);
  };
  if (fixed === null) return (...args) => r.evalsha(sha, ...(args as Args)).catch((err: unknown) => orEval(err, args as Args));
  return (...args) => r.evalsha(sha, fixed, ...args).catch((err: unknown) => orEval(err, [fixed, ...args]));
}

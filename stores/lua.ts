// The switch's own Lua scripts (card and customer stores) live one per file in stores/lua/, named
// `<name>-<keys>.lua` like the ledger's, and are registered on a client under camelCase names
// (`card-lock` → `cardLock`). They are read once per process, from the project root, so the same
// code runs from the sources and from dist/.
import { join } from 'node:path';
import type { Redis, Cluster } from 'ioredis';
import { loadScripts, projectRoot, scriptCall, type LuaScript } from '../ledger/scripts.js';

let cache: Map<string, LuaScript> | null = null;

function scripts(): Map<string, LuaScript> {
  cache ??= new Map(loadScripts(join(projectRoot(), 'stores', 'lua')).map((s) => [s.name, s]));
  return cache;
}

const camel = (name: string): string => name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** Puts every script whose name starts with `prefix` on the client as a plain function property (scriptCall; once per client). */
export function defineSwitchScripts(redis: Redis | Cluster, prefix: string): void {
  const r = redis as unknown as Record<string, unknown>;
  for (const s of scripts().values()) {
    if (!s.name.startsWith(prefix)) continue;
    const cmd = camel(s.name);
    if (typeof r[cmd] === 'function') continue;
    r[cmd] = scriptCall(redis, s);
  }
}

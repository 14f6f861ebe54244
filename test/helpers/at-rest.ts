// What the at-rest scans read: every key and value of a Redis, and every file under a directory
// (Redis's AOF and RDB, the history database's WAL and tables).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';

/** Every key and value of a Redis as bytes (strings, hashes, sets, lists, sorted sets, streams). */
export async function dumpAll(redis: Redis): Promise<Buffer> {
  const parts: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.getBuffer(key)) ?? Buffer.alloc(0));
      else if (type === 'hash') parts.push(...Object.entries(await redis.hgetallBuffer(key)).flat().map((x) => Buffer.from(x)));
      else if (type === 'set') parts.push(...await redis.smembersBuffer(key));
      else if (type === 'list') parts.push(...await redis.lrangeBuffer(key, 0, -1));
      else if (type === 'zset') parts.push(...await redis.zrangeBuffer(key, 0, -1));
      else if (type === 'stream') parts.push(Buffer.from(JSON.stringify(await redis.xrange(key, '-', '+'))));
      else parts.push(Buffer.from(`<${type}>`));
    }
  } while (cursor !== '0');
  return Buffer.concat(parts);
}

/**
 * Every regular file under `dir`, recursively, with its bytes. The directory of a live server
 * changes under the scan (PostgreSQL rewrites pg_internal.init when a backend starts, Redis renames
 * its rewrite's files): what vanishes between the listing and the reading is skipped.
 */
export function filesUnder(dir: string): Array<{ path: string; bytes: Buffer }> {
  const out: Array<{ path: string; bytes: Buffer }> = [];
  let names: string[];
  try { names = readdirSync(dir); } catch (err) { if (vanished(err)) return out; throw err; }
  for (const name of names) {
    const p = join(dir, name);
    try {
      const st = statSync(p);
      if (st.isDirectory()) out.push(...filesUnder(p));
      else if (st.isFile()) out.push({ path: p, bytes: readFileSync(p) });
    } catch (err) {
      if (!vanished(err)) throw err;
    }
  }
  return out;
}

function vanished(err: unknown): boolean {
  return (err as { code?: string }).code === 'ENOENT';
}

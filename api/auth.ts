// API keys of the management API (API_KEYS_FILE): named keys with a `read` or `write` scope, sent
// as `Authorization: Bearer <key>`. A missing or unknown key answers 401 UNAUTHORIZED, a read key
// on a call that changes something 403 FORBIDDEN (docs/api.md, "Authentication").
//
// The switch keeps only the SHA-256 of each key (a file may give the hash itself, so that it holds
// no usable secret), compares the hash of the key presented with every stored hash in constant time
// (node:crypto timingSafeEqual, every entry each time, so the time taken does not depend on which
// entry matched or how much of it), and never logs, stores or echoes a key: an answer names the
// key's `name` at most.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { AppError } from '../errors/index.js';

export type Scope = 'read' | 'write';

/** One key as the switch holds it: its name, scope and the SHA-256 of the key. */
export interface ApiKeyEntry { name: string; scope: Scope; sha256: Buffer }

/** Keys in one file at most. */
export const API_KEYS_MAX = 1000;
/** Largest API_KEYS_FILE read, bytes. */
export const API_KEYS_FILE_BYTES_MAX = 1024 * 1024;
/** A key is 16-256 visible ASCII characters (no space, no comma); `npm run api-key` makes 43-character ones. */
export const API_KEY_PATTERN = /^[\x21-\x2b\x2d-\x7e]{16,256}$/;
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** SHA-256 of a key, hex: what a file's `sha256` field holds. */
export function apiKeyHash(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** What a request's credentials are worth for a call that needs `need`. */
export type KeyCheck =
  | { ok: true; name: string }
  | { ok: false; code: 'UNAUTHORIZED' | 'API_KEY_READ_ONLY'; detail: string };

export class ApiKeys {
  private constructor(readonly entries: readonly ApiKeyEntry[], readonly plainKeys: boolean) {}

  /**
   * The keys of a file's text. Throws AppError SW_ERR_API_KEYS naming `where` and the first entry
   * at fault. Shape: `{"keys": [entry, ...]}` or a bare array of entries; an entry is
   * `{"name", "scope": "read"|"write", "key"}` or the same with `"sha256"` (hex SHA-256 of the key)
   * instead of `"key"`.
   */
  static parse(text: string, where: string): ApiKeys {
    let raw: unknown;
    try { raw = JSON.parse(text); } catch { throw bad(where, 'is not valid JSON'); }
    const list = Array.isArray(raw) ? raw : (raw as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw bad(where, 'must be {"keys": [{"name", "scope", "key" or "sha256"}, ...]} (or that array alone)');
    if (typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.keys(raw).some((k) => k !== 'keys')) throw bad(where, 'has fields other than "keys"');
    if (list.length === 0) throw bad(where, 'holds no key');
    if (list.length > API_KEYS_MAX) throw bad(where, `holds more than ${API_KEYS_MAX} keys`);
    const names = new Set<string>();
    const hashes = new Set<string>();
    let plain = false;
    const entries = list.map((e: unknown, i: number): ApiKeyEntry => {
      const at = `${where} [${i}]`;
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw bad(at, 'must be an object');
      const o = e as Record<string, unknown>;
      const unknown = Object.keys(o).find((k) => !['name', 'scope', 'key', 'sha256'].includes(k));
      if (unknown !== undefined) throw bad(at, `has an unknown field "${unknown.slice(0, 40)}"`);
      if (typeof o.name !== 'string' || !NAME_PATTERN.test(o.name)) throw bad(at, '"name" must be 1-64 characters of [A-Za-z0-9._-]');
      if (names.has(o.name)) throw bad(at, `the name "${o.name}" is used twice`);
      names.add(o.name);
      if (o.scope !== 'read' && o.scope !== 'write') throw bad(at, '"scope" must be "read" or "write"');
      if ((o.key === undefined) === (o.sha256 === undefined)) throw bad(at, 'needs exactly one of "key" and "sha256"');
      let hex: string;
      if (o.key !== undefined) {
        // The message never quotes the key.
        if (typeof o.key !== 'string' || !API_KEY_PATTERN.test(o.key)) throw bad(at, '"key" must be 16-256 visible ASCII characters without spaces or commas');
        hex = apiKeyHash(o.key);
        plain = true;
      } else {
        if (typeof o.sha256 !== 'string' || !SHA256_PATTERN.test(o.sha256.toLowerCase())) throw bad(at, '"sha256" must be 64 hex digits (the SHA-256 of the key)');
        hex = o.sha256.toLowerCase();
      }
      if (hashes.has(hex)) throw bad(at, 'the same key is listed twice');
      hashes.add(hex);
      return { name: o.name, scope: o.scope, sha256: Buffer.from(hex, 'hex') };
    });
    return new ApiKeys(entries, plain);
  }

  /**
   * Reads API_KEYS_FILE. Throws SW_ERR_API_KEYS for a file that cannot be read or parsed.
   * `warn` is told when the file holds plain keys and other users may read it.
   */
  static load(file: string, warn: (msg: string, fields: Record<string, unknown>) => void = () => {}): ApiKeys {
    let text: string;
    try {
      if (statSync(file).size > API_KEYS_FILE_BYTES_MAX) throw bad(`API_KEYS_FILE ${file}`, `is larger than ${API_KEYS_FILE_BYTES_MAX} bytes`);
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if (e instanceof AppError) throw e;
      throw bad(`API_KEYS_FILE ${file}`, `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const keys = ApiKeys.parse(text, `API_KEYS_FILE ${file}`);
    if (keys.plainKeys && (statSync(file).mode & 0o077) !== 0) {
      warn('API_KEYS_FILE holds plain keys and other users may read it: chmod 600 it, or list each key by its "sha256"', { file });
    }
    return keys;
  }

  get size(): number { return this.entries.length; }

  /**
   * Checks an `Authorization` header for a call that needs `need`. A write key may make every
   * call; a read key only those that need `read`.
   */
  check(authorization: string | undefined, need: Scope): KeyCheck {
    const presented = bearerOf(authorization);
    if (presented === null) {
      return { ok: false, code: 'UNAUTHORIZED', detail: 'this API needs an API key: send Authorization: Bearer <key>' };
    }
    const entry = this.find(presented);
    if (entry === null) return { ok: false, code: 'UNAUTHORIZED', detail: 'the API key is not one this switch knows' };
    if (need === 'write' && entry.scope !== 'write') {
      return { ok: false, code: 'API_KEY_READ_ONLY', detail: `API key "${entry.name}" has the read scope; this call changes something and needs a write key` };
    }
    return { ok: true, name: entry.name };
  }

  /** The entry whose hash is the presented key's: every entry is compared, whatever matches. */
  private find(key: string): ApiKeyEntry | null {
    const hash = createHash('sha256').update(key, 'utf8').digest();
    let found: ApiKeyEntry | null = null;
    for (const e of this.entries) {
      if (timingSafeEqual(hash, e.sha256) && found === null) found = e;
    }
    return found;
  }
}

/** The key of `Authorization: Bearer <key>` (scheme in any case), or null. */
export function bearerOf(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer +(\S+) *$/i.exec(header);
  return m === null ? null : (m[1] as string);
}

/**
 * The scope a request needs, or null when the path is open to anyone: `/health` (load balancers
 * and probes), `/openapi.json` (the API's description, no data) and the dashboard's page and
 * scripts (no data: the page asks for a key and sends it with its own reads). Every other GET
 * needs `read` (`/metrics`, `/feed` and `/dashboard/stats.json` included); anything else needs `write`.
 */
export function scopeOf(method: string, path: string, isStatic: boolean): Scope | null {
  if (path === '/health' || path === '/openapi.json' || isStatic) return null;
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

function bad(where: string, what: string): AppError {
  return new AppError('SW_ERR_API_KEYS', `${where} ${what}`);
}

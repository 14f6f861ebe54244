// Static files served by the router (api/router.ts) next to its JSON routes: the dashboard's page,
// script and style sheet, and the chart library from its installed package. A static route is a
// fixed URL path bound to a fixed file: the request path is looked up as it arrived, never joined
// to a directory, so no path (`..`, `%2e%2e`, `%2f`, a symlink name) can reach any other file.
//
// Each file is read on first request and kept (they are a few hundred KiB at most); a file that is
// missing is answered 404 and looked for again on the next request. Answers carry the file's
// content type, `X-Content-Type-Options: nosniff`, a strong ETag (sha-256 of the bytes) honoured by
// If-None-Match with 304, and the Cache-Control of the route.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { HttpResponse } from './http.js';
import { problemResponse } from './problem.js';

/** Cache-Control of files that change with the switch's version: always revalidated (cheap with the ETag). */
export const REVALIDATE = 'no-cache';

export interface StaticRoute {
  /** The exact URL path, as sent (no percent-decoding): `/dashboard/dashboard.js`. */
  path: string;
  /** Absolute path of the file on disk. */
  file: string;
  /** Cache-Control header of the answer. */
  cacheControl: string;
  /** Extra headers of the answer (a Content-Security-Policy for a page). */
  headers?: Record<string, string>;
}

/** File extension → Content-Type; a static route whose file has another extension is refused at start. */
export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The largest file a static route serves; anything bigger is a mistake in the route table. */
export const STATIC_FILE_BYTES_MAX = 4 * 1024 * 1024;

interface Loaded { body: Buffer; etag: string }

/** The static routes of one router: lookup by exact path, files read once and kept. */
export class StaticFiles {
  private readonly byPath = new Map<string, StaticRoute>();
  private readonly loaded = new Map<string, Promise<Loaded | null>>();

  constructor(routes: readonly StaticRoute[]) {
    for (const r of routes) {
      if (!r.path.startsWith('/') || r.path.includes('..') || r.path.includes('%')) throw new Error(`static route ${r.path}: the path must be absolute and plain`);
      if (CONTENT_TYPES[extname(r.file)] === undefined) throw new Error(`static route ${r.path}: no content type for ${extname(r.file) || 'a file without extension'}`);
      if (this.byPath.has(r.path)) throw new Error(`static route ${r.path} is defined twice`);
      this.byPath.set(r.path, r);
    }
  }

  get paths(): readonly string[] { return [...this.byPath.keys()]; }

  /** The route serving exactly this request path, or undefined. */
  find(path: string): StaticRoute | undefined { return this.byPath.get(path); }

  /** The answer to a GET of the route: 200 with the file, 304 when the client's copy is current, 404 when the file is missing. */
  async serve(route: StaticRoute, ifNoneMatch: string | undefined): Promise<HttpResponse> {
    const f = await this.load(route);
    if (f === null) return problemResponse('NOT_FOUND', `${route.path} is not installed on this switch`);
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extname(route.file)] as string,
      'cache-control': route.cacheControl,
      etag: f.etag,
      'x-content-type-options': 'nosniff',
      ...route.headers,
    };
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((t) => t.trim() === f.etag || t.trim() === '*')) {
      return { status: 304, headers, body: '' };
    }
    return { status: 200, headers, body: f.body };
  }

  private load(route: StaticRoute): Promise<Loaded | null> {
    let p = this.loaded.get(route.path);
    if (p === undefined) {
      p = readStatic(route.file);
      this.loaded.set(route.path, p);
      // A missing file is not remembered: installing it later needs no restart.
      void p.then((f) => { if (f === null) this.loaded.delete(route.path); });
    }
    return p;
  }
}

async function readStatic(file: string): Promise<Loaded | null> {
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
  if (body.length > STATIC_FILE_BYTES_MAX) throw new Error(`static file ${file} is larger than ${STATIC_FILE_BYTES_MAX} bytes`);
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

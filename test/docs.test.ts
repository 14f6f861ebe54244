// The repository's own documents are the contract a user reads: they stand alone (no reference to
// anything outside the repository) and their links land on files and headings that exist. The
// response-code table, docs/errors.md, is checked against the code by test/errors.test.ts.
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

t.test('README and docs refer to nothing outside the repository', async (t) => {
  for (const f of DOCS) {
    const text = read(f);
    t.notMatch(text, /\.\.\/shared/, `${f}: no ../shared`);
    t.notMatch(text, /\bSPEC\b/, `${f}: no SPEC section numbers`);
  }
});

t.test('every relative link lands on a file, and on a heading of it when it names one', async (t) => {
  for (const f of DOCS) {
    for (const m of read(f).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/.test(target)) continue;
      const [path, hash] = target.split('#') as [string, string | undefined];
      const file = path === '' ? join(ROOT, f) : resolve(dirname(join(ROOT, f)), path);
      t.ok(existsSync(file), `${f}: ${target} exists`);
      if (hash === undefined || !file.endsWith('.md') || !existsSync(file)) continue;
      const anchors = [...readFileSync(file, 'utf8').matchAll(/^#+ (.*)$/gm)].map((h) => anchor(h[1] as string));
      t.ok(anchors.includes(hash), `${f}: #${hash} is a heading of ${path || f}`);
    }
  }
});

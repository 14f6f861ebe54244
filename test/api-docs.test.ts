// docs/api.md is what `npm run docs:api` renders from the OpenAPI document: this fails when the
// routes changed and the file was not regenerated.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { documentedRoutes } from '../api/index.js';
import { openApiDocument } from '../api/openapi.js';
import { renderApiMarkdown } from '../api/docs.js';

t.test('docs/api.md is up to date (npm run docs:api)', async (t) => {
  const want = renderApiMarkdown(openApiDocument(documentedRoutes()) as Parameters<typeof renderApiMarkdown>[0]);
  const have = readFileSync(new URL('../docs/api.md', import.meta.url), 'utf8');
  t.equal(have, want, 'docs/api.md matches the OpenAPI document; run npm run docs:api');
  for (const r of documentedRoutes()) t.ok(have.includes(`\`${r.method} ${r.path}\``), `${r.method} ${r.path} documented`);
});

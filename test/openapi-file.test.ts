// docs/openapi.json is the document every switch serves at /openapi.json, whatever its
// configuration (sandbox on or off, API keys or none), and the Postman collection beside it is made
// from it: both are what `npm run docs:api` writes, and speak of the product only.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { documentedRoutes } from '../api/index.js';
import { openApiDocument, openApiFileText } from '../api/openapi.js';
import { renderPostmanCollection } from '../api/postman.js';
import { startApiSwitch } from './helpers/api.js';

const read = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

t.test('docs/openapi.json and the Postman collection are up to date (npm run docs:api)', async (t) => {
  const doc = openApiDocument(documentedRoutes());
  t.equal(read('openapi.json'), openApiFileText(doc), 'docs/openapi.json is the document of the route table; run npm run docs:api');
  const collection = JSON.stringify(renderPostmanCollection(doc as unknown as Parameters<typeof renderPostmanCollection>[0]), null, 2) + '\n';
  t.equal(read('antaca.postman_collection.json'), collection, 'the collection is made from it; run npm run docs:api');
  for (const name of ['openapi.json', 'antaca.postman_collection.json']) {
    t.notMatch(read(name), /\bSPEC\b|\.\.\/shared/, `${name} names no contract outside the repository`);
  }
});

t.test('the served document equals docs/openapi.json in every configuration', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-openapi-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keys = join(dir, 'keys.json');
  writeFileSync(keys, JSON.stringify([{ name: 'ops', scope: 'read', key: 'read-key-for-the-openapi-test' }]), { mode: 0o600 });
  const file = JSON.parse(read('openapi.json'));
  for (const env of [{}, { SANDBOX: "0" }, { SANDBOX: "1", API_KEYS_FILE: keys }] as Array<Record<string, string>>) {
    const s = await startApiSwitch(t, 'node', env);
    const r = await s.api.get('/openapi.json');
    t.equal(r.status, 200);
    t.same(r.json, file, `served = docs/openapi.json with ${JSON.stringify(env)}`);
    await s.app.stop();
  }
});

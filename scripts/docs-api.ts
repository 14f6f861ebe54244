// npm run docs:api — regenerates, from the OpenAPI document of the route table: docs/openapi.json
// (the document every switch serves at /openapi.json), docs/api.md (the same, as a page) and the
// Postman collection docs/antaca.postman_collection.json. Run it after changing a route.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { documentedRoutes } from '../api/index.js';
import { openApiDocument, openApiFileText } from '../api/openapi.js';
import { renderApiMarkdown } from '../api/docs.js';
import { renderPostmanCollection } from '../api/postman.js';
import { projectRoot } from '../ledger/scripts.js';
import { parseCommandLine } from './cli.js';

parseCommandLine('docs:api', process.argv.slice(2), () => 'usage: npm run docs:api\n\n'
  + 'Regenerates docs/openapi.json, docs/api.md and docs/antaca.postman_collection.json from the OpenAPI document of the route table.\n');

const doc = openApiDocument(documentedRoutes());
const files: Array<[string, string]> = [
  ['openapi.json', openApiFileText(doc)],
  ['api.md', renderApiMarkdown(doc as Parameters<typeof renderApiMarkdown>[0])],
  ['antaca.postman_collection.json', JSON.stringify(renderPostmanCollection(doc as unknown as Parameters<typeof renderPostmanCollection>[0]), null, 2) + '\n'],
];
for (const [name, text] of files) {
  const file = join(projectRoot(), 'docs', name);
  writeFileSync(file, text);
  process.stdout.write(`wrote ${file}\n`);
}

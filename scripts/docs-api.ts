// npm run docs:api — regenerates docs/api.md from the OpenAPI document of the route table.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { documentedRoutes } from '../api/index.js';
import { openApiDocument } from '../api/openapi.js';
import { renderApiMarkdown } from '../api/docs.js';
import { projectRoot } from '../ledger/scripts.js';
import { parseCommandLine } from './cli.js';

parseCommandLine('docs:api', process.argv.slice(2), () => 'usage: npm run docs:api\n\nRegenerates docs/api.md from the OpenAPI document of the route table (sandbox routes included).');

const file = join(projectRoot(), 'docs', 'api.md');
writeFileSync(file, renderApiMarkdown(openApiDocument(documentedRoutes()) as Parameters<typeof renderApiMarkdown>[0]));
process.stdout.write(`wrote ${file}\n`);

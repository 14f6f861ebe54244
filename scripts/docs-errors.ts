// npm run docs:errors — regenerates docs/errors.md from the error-code table (errors/table.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderErrorsMarkdown } from '../errors/docs.js';
import { projectRoot } from '../ledger/scripts.js';
import { parseCommandLine } from './cli.js';

parseCommandLine('docs:errors', process.argv.slice(2), () => 'usage: npm run docs:errors\n\nRegenerates docs/errors.md from the error-code table (errors/table.ts).');

const file = join(projectRoot(), 'docs', 'errors.md');
writeFileSync(file, renderErrorsMarkdown());
process.stdout.write(`wrote ${file}\n`);

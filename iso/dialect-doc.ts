// Renders the dialect tables as Markdown for docs/wire-format.md, so the document is generated
// from the same data the codec runs on (a test checks that the two agree).
//
// Print: npx tsx iso/dialect-doc.ts

import { pathToFileURL } from 'node:url';
import { DIALECT_1987, DIALECT_2003, MAX_FIELD, type FieldSpec, type IsoDialect } from './dialect.js';

const LENGTH_PREFIX: Readonly<Record<FieldSpec['lengthType'], string>> = {
  fixed: 'fixed',
  llvar: 'LLVAR (2 digits)',
  lllvar: 'LLLVAR (3 digits)',
  llllllvar: 'LLLLLLVAR (6 digits)',
};

function row(spec: FieldSpec): string {
  const unit = spec.encoding === 'b' ? ' bytes' : '';
  const size = spec.lengthType === 'fixed' ? `${spec.maxLength}${unit}` : `${spec.minLength}..${spec.maxLength}${unit}`;
  const notes = [
    spec.padding === 'right-space' ? 'short values padded with spaces' : '',
    spec.padding === 'left-zero' ? 'short values padded with zeros' : '',
    spec.sensitivity === 'pan' ? 'masked in logs' : '',
    spec.sensitivity === 'secret' ? 'never logged' : '',
  ].filter((note) => note !== '').join('; ');
  return `| ${spec.field} | ${spec.encoding} | ${LENGTH_PREFIX[spec.lengthType]} | ${size} | ${spec.description} | ${notes} |`;
}

const HEADER = ['| field | encoding | length | size | description | notes |', '|---:|---|---|---|---|---|'];

/** The full table of one dialect. */
export function dialectTable(dialect: IsoDialect): string {
  const lines = [...HEADER];
  for (let field = 0; field <= MAX_FIELD; field++) {
    const spec = dialect.fields[field];
    lines.push(spec === undefined ? `| ${field} | — | — | — | not defined: a bitmap naming it is ISO_ERR_UNDEFINED_FIELD | |` : row(spec));
  }
  return lines.join('\n');
}

/** The rows where `dialect` differs from `base`. */
export function dialectDifferences(base: IsoDialect, dialect: IsoDialect): string {
  const lines = [...HEADER];
  for (let field = 0; field <= MAX_FIELD; field++) {
    const spec = dialect.fields[field];
    if (spec !== undefined && JSON.stringify(spec) !== JSON.stringify(base.fields[field])) lines.push(row(spec));
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`### DIALECT_1987 (default)\n\n${dialectTable(DIALECT_1987)}\n`);
  console.log(`### DIALECT_2003: differences from 1987\n\n${dialectDifferences(DIALECT_1987, DIALECT_2003)}`);
}

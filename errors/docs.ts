// Renders docs/errors.md from the error-code table: one section per group, one row per code.
// `npm run docs:errors` writes it; test/errors.test.ts fails when the file and the table differ.
import { ERRORS, ERROR_GROUPS, type ErrorCode, type ErrorGroup, type ErrorRow } from './table.js';

const INTRO = `# Error codes

Every error that crosses a boundary of the switch has one stable code, listed here once: the
decline reasons a transaction is answered and recorded with, the problem titles of the management
API, the refusals of the ledger and the stores, the codes in log lines, and the start-up failures.
For each code the table gives what a caller on the far side sees:

- **1987 / 2003**: field 39 of the answer in each dialect (\`ISO_DIALECT\`), for a decline reason.
- **HTTP**: the status of the management API's problem answer \`{"title", "detail"}\`; the title is
  the code itself unless the column names another one.
- **notifier**: the \`description\` a partner receives in the transaction notification (one of the
  values of the Legacy Transactions Notifier; a reason with no value of its own there is sent as
  the nearest one, often \`UNKNOWN_ERROR\`). The transaction record keeps the reason itself.

A code without an HTTP column is never a problem answer: should one reach the API it is answered
\`500 INTERNAL_ERROR\` and logged. Start-up codes end \`npm start\` with the message as its one line
and a non-zero exit. The table is \`errors/table.ts\`; this page is generated from it with
\`npm run docs:errors\`.
`;

/** A table cell: Markdown-safe, with a dash for nothing. */
function cell(v: string | undefined): string {
  return v === undefined || v === '' ? '—' : v.replace(/\|/g, '\\|');
}

function http(row: ErrorRow, code: string): string | undefined {
  if (row.http === undefined) return undefined;
  return row.http.title === undefined || row.http.title === code ? String(row.http.status) : `${row.http.status} \`${row.http.title}\``;
}

function section(group: ErrorGroup, codes: readonly ErrorCode[]): string {
  const rows: ErrorRow[] = codes.map((c) => ERRORS[c]);
  const wire = rows.some((r) => r.iso !== undefined);
  const api = rows.some((r) => r.http !== undefined);
  const head = ['code', ...(wire ? ['1987', '2003'] : []), ...(api ? ['HTTP'] : []), ...(wire ? ['notifier'] : []), 'meaning'];
  const lines = [`## ${ERROR_GROUPS[group]}`, '', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  codes.forEach((code, i) => {
    const r = rows[i] as ErrorRow;
    const cells = [`\`${code}\``];
    if (wire) cells.push(cell(r.iso?.iso1987), cell(r.iso?.iso2003));
    if (api) cells.push(cell(http(r, code)));
    if (wire) cells.push(cell(r.notifier === undefined ? undefined : `\`${r.notifier}\``));
    cells.push(cell(r.summary));
    lines.push(`| ${cells.join(' | ')} |`);
  });
  return lines.join('\n');
}

/** docs/errors.md as the table says it. */
export function renderErrorsMarkdown(): string {
  const codes = Object.keys(ERRORS) as ErrorCode[];
  const sections = (Object.keys(ERROR_GROUPS) as ErrorGroup[])
    .map((g) => section(g, codes.filter((c) => ERRORS[c].group === g)));
  return `${INTRO}\n${sections.join('\n\n')}\n`;
}

// The product never depends on its tools: nothing under the product's folders imports simulators/,
// bench/ or test/ (the sandbox of the management API reaches the switch through iso/link.ts and
// iso/acquirer.ts, which the simulators import too, never the other way round).
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const PRODUCT = ['api', 'app', 'adapters', 'errors', 'iso', 'ledger', 'log', 'stores', 'switch'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return /\.(ts|mjs|js)$/.test(name) ? [p] : [];
  });
}

t.test('no product module imports simulators/, bench/ or test/', async (t) => {
  const offenders: string[] = [];
  for (const dir of PRODUCT) {
    for (const f of files(join(root, dir))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1] as string;
        if (/(^|\/)(simulators|bench|test)\//.test(spec)) offenders.push(`${relative(root, f)} imports ${spec}`);
      }
    }
  }
  t.same(offenders, []);
});

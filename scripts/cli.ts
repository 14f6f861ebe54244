// The command-line conventions every `npm run` command follows: `--help` (or `-h`) prints the
// usage and exits 0; anything the command does not know exits 1 with one line on stderr, before
// any work starts. Commands configured by environment variables list those in their usage.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

/** True when the module at `metaUrl` is the program being run (not imported by another). */
export function isMain(metaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(resolve(entry)).href === metaUrl;
}

/** A table of environment options: name, default ('' for none), meaning. */
export type EnvOptions = ReadonlyArray<readonly [name: string, dflt: string, what: string]>;

/** The lines that list environment options with their defaults. */
export function envOptionLines(options: EnvOptions): string[] {
  const width = Math.max(...options.map((o) => o[0].length)) + 2;
  return options.map(([name, dflt, what]) => `  ${name.padEnd(width)}${what}${dflt === '' ? '' : ` (default ${dflt})`}`);
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `argv` against `options` (none: the command takes no arguments). `--help` prints
 * `usage()` and exits 0; an unknown option or an unexpected argument prints
 * `<name>: <problem> (--help for usage)` on stderr and exits `usageExitCode` (1 unless the
 * command gives 1 another meaning).
 */
export function parseCommandLine(name: string, argv: readonly string[], usage: () => string, options: Options = {}, usageExitCode = 1): Record<string, string | boolean | Array<string | boolean> | undefined> {
  const all: Options = { ...options, help: { type: 'boolean', short: 'h' } };
  let values: Record<string, string | boolean | Array<string | boolean> | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: all, allowPositionals: false, strict: true }).values;
  } catch (e) {
    const line = ((e as Error).message.split('\n')[0] ?? 'bad arguments').replace(/\. To specify a positional.*$/, '');
    process.stderr.write(`${name}: ${line} (--help for usage)\n`);
    process.exit(usageExitCode);
  }
  if ((values as { help?: boolean }).help === true) {
    process.stdout.write(usage().trimEnd() + '\n');
    process.exit(0);
  }
  return values;
}

// `npm start`: the switch on the defaults of SPEC §1. Operator errors (bad configuration, no
// redis-server) end the process with one line and a non-zero exit, never a stack trace.
import { loadConfig, ConfigError } from './config.js';
import { startSwitch, jsonLog, RedisUnreachableError } from './app.js';
import { RedisNotInstalledError } from '../ledger/redis-server.js';
import { ProgramConfigError } from './programs.js';
import { SecretError } from './secrets.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const app = await startSwitch({ config });
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) { jsonLog('info', 'shutdown already in progress', { signal: sig }); return; }
    jsonLog('info', 'shutting down', { signal: sig });
    app.stop().then(() => process.exit(0), (err: unknown) => {
      jsonLog('error', 'shutdown failed', { error: String((err as Error).message ?? err) });
      process.exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof RedisNotInstalledError || err instanceof ProgramConfigError || err instanceof SecretError || err instanceof RedisUnreachableError;
  const e = err as { message?: string; code?: string };
  if (known || e.code === 'EADDRINUSE' || e.code === 'EACCES') {
    process.stderr.write(`antaca-switch: ${e.message ?? String(err)}\n`);
  } else {
    process.stderr.write(`antaca-switch: failed to start: ${e.message ?? String(err)}\n`);
  }
  process.exit(1);
});

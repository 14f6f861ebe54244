// The switch's one logger: pino, JSON lines on stderr, written synchronously so that the last
// line before an exit is never lost and worker threads write the same way as the main thread
// (no transport, no extra thread). PAN redaction is configured here once and nowhere else.
//
// A line reads {"level":"warn","msg":"...",<fields>,"time":"2025-01-31T12:00:00.000Z"}: the level
// as its name, the message first, the time last. Every string in it, the message included, has
// each run of 13-19 digits masked as a PAN (first 6, last 4), since text may come from outside
// (a URL path, an error quoting input), and so has every 13-19 digit number; fields named for a card
// number show it masked and fields named for card secrets are never written, at any depth.
//
// LOG_LEVEL (default info) is one of fatal, error, warn, info, debug, trace, silent. `debug` adds
// one line per decided message (MTI, response code, reason, masked PAN, amount); it is off by
// default because at thousands of messages a second it is most of the process's output.
import { format } from 'node:util';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { maskPan, maskPansIn } from '../iso/mask.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_LEVEL_DEFAULT: LogLevel = 'info';

/** The signature the switch's parts are given to log with (injected, so tests can collect lines). */
export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** LOG_LEVEL from the environment; an unknown value is left to loadConfig to refuse, and means info here. */
export function logLevelFrom(env: Record<string, string | undefined>): LogLevel {
  const v = env.LOG_LEVEL;
  return (LOG_LEVELS as readonly string[]).includes(v ?? '') ? (v as LogLevel) : LOG_LEVEL_DEFAULT;
}

/** Field names (compared in lower case) whose values are card secrets: written as `[redacted]`, at any depth. */
const SECRET_KEYS: ReadonlySet<string> = new Set(['cvv', 'cvv2', 'cvc', 'icvv', 'track1', 'track2', 'pinblock', 'pin', 'arqc', 'arpc', 'cryptogram']);
/** Field names (compared in lower case) whose values are card numbers: shown masked (first 6, last 4), at any depth. */
const PAN_KEYS: ReadonlySet<string> = new Set(['pan', 'cardno', 'cardnumber', 'primaryaccountnumber']);
/** Nested objects are masked this deep; below it a value is written as `[object]`. */
const MASK_DEPTH_MAX = 4;

/**
 * A value as it may be written: strings with every PAN-like digit run masked, numbers too (a PAN
 * passed as a number), card-number fields masked and card-secret fields withheld whatever their
 * depth, errors as their masked message only. The one place log output is made safe.
 */
function masked(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return maskPansIn(v);
  if (typeof v === 'number' || typeof v === 'bigint') {
    const digits = v.toString();
    return /^\d{13,19}$/.test(digits) ? maskPan(digits) : v;
  }
  if (v instanceof Error) return maskPansIn(String(v.message).slice(0, 200));
  if (typeof v !== 'object' || v === null) return v;
  if (depth >= MASK_DEPTH_MAX) return '[object]';
  if (Array.isArray(v)) return v.map((x) => masked(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const k in v) {
    const value = (v as Record<string, unknown>)[k];
    const key = k.toLowerCase();
    if (SECRET_KEYS.has(key)) out[k] = '[redacted]';
    else if (PAN_KEYS.has(key) && (typeof value === 'string' || typeof value === 'number')) out[k] = maskPan(String(value).replace(/\D/g, ''));
    else out[k] = masked(value, depth + 1);
  }
  return out;
}

/**
 * Creates a logger writing to `fd` (stderr by default). The process uses the one `logger` below;
 * this exists for tools that log elsewhere.
 */
export function createLogger(level: LogLevel, fd = 2): Logger {
  return pino({
    level,
    base: undefined,
    // The time goes last, added by formatters.log, so that each line starts with level and message.
    timestamp: false,
    hooks: {
      // Every call becomes one object with `msg` as its first key: logger.warn('text'),
      // logger.warn({ k }, 'text') and logger.warn({ msg, k }) all print the same shape, and the
      // message passes through the masking of formatters.log like any other field.
      logMethod(args, method) {
        const [first, second, ...rest] = args as unknown[];
        if (typeof first === 'string') return method.call(this, { msg: format(first, ...args.slice(1)) });
        const fields = first instanceof Error ? { error: first } : ((first ?? {}) as Record<string, unknown>);
        return method.call(this, typeof second === 'string' ? { msg: format(second, ...rest), ...fields } : fields);
      },
    },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => ({ ...(masked(object, 0) as Record<string, unknown>), time: new Date().toISOString() }),
    },
  }, pino.destination({ dest: fd, sync: true }));
}

/** The process's logger, at LOG_LEVEL. Worker threads load their own copy, at the same level. */
export const logger: Logger = createLogger(logLevelFrom(process.env));

/** Logs one line at `level` through the process's logger: the LogFn the switch's parts are given. */
export const log: LogFn = (level, msg, fields) => { logger[level]({ msg, ...fields }); };

/** Sets the level at run time (loadConfig validated it): the switch applies its configured LOG_LEVEL. */
export function setLogLevel(level: LogLevel): void {
  logger.level = level;
}

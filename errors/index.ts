// The error-code table (./table.ts) and the one error class every part of the switch throws.
// A subclass exists only where an error carries more than a code and a message (IsoPackError
// names a field) or narrows the codes a module may throw (LedgerError, OutboxError).
import { ERRORS, type Dialect, type ErrorCode, type ErrorGroup, type HttpAnswer, type NotifierDescription, type Reason } from './table.js';

export {
  ERRORS, ERROR_GROUPS, NOTIFIER_DESCRIPTIONS,
  type CodeOf, type Dialect, type ErrorCode, type ErrorGroup, type ErrorRow, type HttpAnswer,
  type NotifierDescription, type Reason, type WireCodes,
} from './table.js';

/**
 * An error with a stable code from the table. The message is safe to log and to show a caller:
 * it names fields and ids, never a PAN, CVV, PIN or track data. Without a message, the row's
 * summary is the message.
 */
export class AppError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;

  constructor(code: C, message?: string, options?: ErrorOptions) {
    super(message ?? ERRORS[code].summary, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** The HTTP status the management API answers this error with; null when it is not a client-facing one. */
  get httpStatus(): number | null {
    return httpAnswerOf(this.code)?.status ?? null;
  }
}

/** True for an AppError with this code (or one of these codes). */
export function hasCode<C extends ErrorCode>(err: unknown, ...codes: C[]): err is AppError<C> {
  return err instanceof AppError && (codes as ErrorCode[]).includes((err as AppError).code);
}

/** The group a code belongs to. */
export function groupOf(code: ErrorCode): ErrorGroup {
  return ERRORS[code].group;
}

/** True for an error that ends start-up with its message as the one line the operator reads. */
export function isStartupError(err: unknown): err is AppError {
  return err instanceof AppError && groupOf((err as AppError).code) === 'startup';
}

/** Field 39 for a decline reason in a dialect. */
export function responseCode(reason: Reason, dialect: Dialect): string {
  const iso = ERRORS[reason].iso;
  return dialect === '2003' ? iso.iso2003 : iso.iso1987;
}

/** The Legacy Transactions Notifier description sent for a transaction declined (or approved) with this reason. */
export function notifierDescription(reason: Reason): NotifierDescription {
  return ERRORS[reason].notifier;
}

/** The problem answer (status, title) of a code, or undefined when the API never answers with it. */
export function httpAnswerOf(code: ErrorCode): { status: number; title: string } | undefined {
  const http: HttpAnswer | undefined = (ERRORS[code] as { http?: HttpAnswer }).http;
  return http === undefined ? undefined : { status: http.status, title: http.title ?? code };
}

/** The reasons, in table order. */
export const REASON_CODES: readonly Reason[] = (Object.keys(ERRORS) as ErrorCode[]).filter((c): c is Reason => 'iso' in ERRORS[c]);

// Answers of the management API: JSON bodies and problems ({"title": CODE, "detail": text},
// application/problem+json). A problem's status and title come from the error-code table
// (errors/table.ts); a detail names the field or id at fault and never a PAN or CVV.
import type { HttpResponse } from './http.js';
import { AppError, httpAnswerOf, type ErrorCode } from '../errors/index.js';

/** The problem answer of a code that the table gives an HTTP status; a programmer error otherwise. */
export function problemResponse(code: ErrorCode, detail: string, headers: Record<string, string> = {}): HttpResponse {
  const a = httpAnswerOf(code);
  if (a === undefined) throw new Error(`error code ${code} has no HTTP answer in errors/table.ts`);
  return { status: a.status, headers: { 'content-type': 'application/problem+json', ...headers }, body: JSON.stringify({ title: a.title, detail }) };
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

export function noContent(): HttpResponse {
  return { status: 204, headers: {}, body: '' };
}

/**
 * The problem for an error thrown by a handler: an AppError whose code the table answers over HTTP
 * (a store's refusal, a ledger input error, a route's own problem), else null (the router answers
 * 500 INTERNAL_ERROR and logs it).
 */
export function problemOf(err: unknown): HttpResponse | null {
  if (!(err instanceof AppError)) return null;
  const code = (err as AppError).code;
  return httpAnswerOf(code) === undefined ? null : problemResponse(code, err.message);
}

// Answers of the management API: JSON bodies and problems ({"title": CODE, "detail": text},
// application/problem+json), and the one place where the error codes of the stores below the API
// become HTTP statuses. A detail names the field or id at fault and never a PAN or CVV.
import type { HttpResponse } from './http.js';
import { CardError } from '../switch/cards.js';
import { CustomerError } from '../switch/customers.js';
import { LedgerError } from '../ledger/index.js';

export class ApiError extends Error {
  constructor(readonly status: number, readonly title: string, detail: string, readonly headers: Record<string, string> = {}) {
    super(detail);
  }
}

export function problemResponse(status: number, title: string, detail: string, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/problem+json', ...headers }, body: JSON.stringify({ title, detail }) };
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

export function noContent(): HttpResponse {
  return { status: 204, headers: {}, body: '' };
}

/** Ledger input errors are the caller's (a malformed id); anything else is ours. */
const LEDGER_CLIENT_ERRORS = new Set(['LEDGER_ERR_INVALID_AMOUNT', 'LEDGER_ERR_INVALID_ID', 'LEDGER_ERR_INVALID_BALANCE_ID', 'LEDGER_ERR_INVALID_ARGUMENT']);

/** The problem for an error thrown by a handler, or null when it is not a known, client-facing one. */
export function problemOf(err: unknown): HttpResponse | null {
  if (err instanceof ApiError) return problemResponse(err.status, err.title, err.message, err.headers);
  if (err instanceof CardError || err instanceof CustomerError) return problemResponse(err.httpStatus, err.code, err.message);
  // An amount beyond n12 (SPEC §2.2) has its own title.
  if (err instanceof LedgerError && err.code === 'LEDGER_ERR_AMOUNT_TOO_LARGE') return problemResponse(400, 'AMOUNT_TOO_LARGE', err.message);
  if (err instanceof LedgerError && LEDGER_CLIENT_ERRORS.has(err.code)) return problemResponse(400, 'VALIDATION_ERROR', err.message);
  return null;
}

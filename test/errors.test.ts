// The error-code table (errors/table.ts) is the one place codes meet their response codes, HTTP
// statuses and notifier descriptions: docs/errors.md is rendered from it, the OpenAPI document's
// problem titles answer with its statuses, and the contract's response codes are its rows.
import t from 'tap';
import { readFileSync } from 'node:fs';
import {
  AppError, ERRORS, NOTIFIER_DESCRIPTIONS, REASON_CODES, httpAnswerOf, isStartupError, notifierDescription, responseCode,
  type ErrorCode, type Reason,
} from '../errors/index.js';
import { renderErrorsMarkdown } from '../errors/docs.js';
import { documentedRoutes } from '../api/index.js';
import { problemOf } from '../api/problem.js';
import { ledgerRefusal } from '../api/routes/common.js';
import { LedgerError } from '../ledger/index.js';
import { REASONS } from '../iso/reasons.js';

t.test('docs/errors.md is up to date (npm run docs:errors)', async (t) => {
  const have = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  t.equal(have, renderErrorsMarkdown(), 'docs/errors.md matches errors/table.ts; run npm run docs:errors');
  for (const code of Object.keys(ERRORS)) t.ok(have.includes(`| \`${code}\` |`), `${code} documented`);
});

// The contract's response-code table, one row per reason: [reason, 1987, 2003].
const CONTRACT: ReadonlyArray<readonly [Reason, string, string]> = [
  ['APPROVED', '00', '0000'], ['ACCOUNT_VERIFIED', '85', '0000'],
  ['CARD_LOCK_1_LOST', '41', '2008'], ['CARD_LOCK_2_STOLEN', '43', '2009'], ['CARD_LOCK_3_PENDING_QUERY', '05', '1000'],
  ['CARD_LOCK_4_CARD_CONSOLIDATION', '51', '1016'], ['CARD_LOCK_5_CARD_INACTIVE', '56', '1018'],
  ['CARD_LOCK_6_PIN_TRIES_EXCEEDED', '75', '1006'], ['CARD_LOCK_11_OFFLINE_PIN_TRIES_EXCEEDED', '75', '1006'],
  ['CARD_LOCK_7_SUSPECTED_FRAUD', '59', '1002'], ['CARD_LOCK_8_CARD_REPLACED', '14', '1011'],
  ['CARD_NOT_FOUND', '14', '1011'], ['EXPIRED_CARD', '54', '1001'], ['INSUFFICIENT_FUNDS', '51', '1016'],
  ['INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE', '05', '1000'], ['INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE', '05', '1000'],
  ['DEPOSIT_BALANCE_NOT_FOUND', '05', '1000'], ['COLLATERAL_BALANCE_NOT_FOUND', '05', '1000'],
  ['BALANCE_NOT_FOUND', '05', '1000'], ['CUSTOMER_NOT_FOUND', '05', '1000'], ['INVALID_AMOUNT', '13', '1010'],
  ['EXCEEDS_AMOUNT_LIMIT', '61', '1021'], ['BUDGET_EXCEEDED', '61', '1021'], ['LIMIT_EXCEED', '65', '1023'],
  ['AML_EXCEPTION', '62', '1004'], ['CURRENCY_MISMATCH', '57', '1019'], ['UNKNOWN_TRANSACTION_TYPE', '12', '1015'],
  ['FRAUDS_DETECTED', '59', '1002'], ['LIMITS_EXCEEDED', '61', '1021'], ['PARTNER_UNAVAILABLE', '91', '9111'],
  ['BUDGET_DEADLINE_PASSED', '91', '9111'], ['AMBIGUOUS_REFERENCED_TRANSACTION', '96', '9109'],
  ['UNKNOWN_ERROR', '96', '9109'], ['FORMAT_ERROR', '30', '9104'], ['ALREADY_REVERSED', '05', '1000'],
  ['TRANSACTION_NOT_PERMITTED', '57', '1019'], ['PARTIAL_APPROVAL', '10', '0002'],
  ['SECURITY_VIOLATION', '63', '1022'], ['INCORRECT_PIN', '55', '1017'], ['PIN_REQUIRED', '55', '1012'],
];

t.test('every decline reason answers the contract\'s response code in both dialects', async (t) => {
  t.same([...REASON_CODES].sort(), CONTRACT.map((r) => r[0]).sort(), 'the reasons are the contract\'s rows');
  for (const [reason, iso1987, iso2003] of CONTRACT) {
    t.equal(responseCode(reason, '1987'), iso1987, `${reason} 1987`);
    t.equal(responseCode(reason, '2003'), iso2003, `${reason} 2003`);
    t.same(REASONS[reason], { iso1987, iso2003 }, `${reason}: iso/reasons.ts is a view of the table`);
  }
});

t.test('notifier descriptions are the notifier\'s values; a reason that is one is sent as itself', async (t) => {
  for (const r of REASON_CODES) {
    t.ok(NOTIFIER_DESCRIPTIONS.includes(notifierDescription(r)), `${r} → ${notifierDescription(r)}`);
    if ((NOTIFIER_DESCRIPTIONS as readonly string[]).includes(r)) t.equal(notifierDescription(r), r, `${r} is sent as itself`);
  }
  t.equal(notifierDescription('ACCOUNT_VERIFIED'), 'APPROVED');
});

t.test('every problem title in the OpenAPI document is a code answered with that status', async (t) => {
  let n = 0;
  for (const route of documentedRoutes()) {
    for (const [status, resp] of Object.entries(route.responses)) {
      for (const code of resp.problems ?? []) {
        n++;
        t.same(httpAnswerOf(code), { status: Number(status), title: code }, `${route.method} ${route.path} ${status} ${code}`);
      }
    }
  }
  t.ok(n > 50, `${n} documented problem titles checked`);
});

t.test('a ledger refusal keeps its status: 404 for *_NOT_FOUND, 400 for amounts, else 409', async (t) => {
  const ledgerReasons = (Object.keys(ERRORS) as ErrorCode[]).filter((c) => !c.includes('_ERR_') && ERRORS[c].group === 'ledger');
  for (const reason of [...ledgerReasons, 'INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE', 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE',
    'BALANCE_NOT_FOUND', 'DEPOSIT_BALANCE_NOT_FOUND', 'COLLATERAL_BALANCE_NOT_FOUND', 'CURRENCY_MISMATCH', 'INVALID_AMOUNT',
    'ALREADY_REVERSED', 'EXCEEDS_AMOUNT_LIMIT', 'LIMIT_EXCEED'] as const) {
    const want = reason.endsWith('_NOT_FOUND') ? 404 : reason === 'INVALID_AMOUNT' || reason === 'AMOUNT_TOO_LARGE' ? 400 : 409;
    const p = problemOf(ledgerRefusal(reason as never, 'a call'));
    t.equal(p?.status, want, `${reason}: ${want}`);
    t.equal(JSON.parse(String(p?.body ?? '{}')).title, reason);
  }
});

t.test('problemOf answers the codes the table gives an HTTP answer, with the table\'s title', async (t) => {
  const cases: ReadonlyArray<readonly [AppError, number | null, string | null]> = [
    [new LedgerError('LEDGER_ERR_AMOUNT_TOO_LARGE', 'x'), 400, 'AMOUNT_TOO_LARGE'],
    [new LedgerError('LEDGER_ERR_INVALID_ID', 'x'), 400, 'VALIDATION_ERROR'],
    [new LedgerError('LEDGER_ERR_INVARIANT', 'x'), null, null],
    [new AppError('CARD_LOCK_IRREVERSIBLE', 'x'), 409, 'CARD_LOCK_IRREVERSIBLE'],
    [new AppError('CARD_KEYS_UNAVAILABLE', 'x'), 500, 'CARD_KEYS_UNAVAILABLE'],
    [new AppError('KYC_REQUIRED', 'x'), 409, 'KYC_REQUIRED'],
    [new AppError('OUTBOX_ERR_FULL', 'x'), null, null],
    [new AppError('SW_ERR_CONFIG', 'x'), null, null],
  ];
  for (const [err, status, title] of cases) {
    const p = problemOf(err);
    t.equal(p?.status ?? null, status, `${err.code}: status`);
    t.equal(p === null ? null : JSON.parse(String(p.body)).title, title, `${err.code}: title`);
  }
  t.equal(problemOf(new Error('plain')), null, 'a plain Error is not a problem');
  t.equal(new AppError('CUSTOMER_EXISTS').httpStatus, 409, 'httpStatus from the table');
  t.equal(new AppError('SW_ERR_REDIS_NOT_INSTALLED').message, ERRORS.SW_ERR_REDIS_NOT_INSTALLED.summary, 'no message: the summary');
});

t.test('start-up errors are the start-up group\'s codes', async (t) => {
  t.ok(isStartupError(new AppError('SW_ERR_CONFIG', 'PORT=x is not an integer')));
  t.ok(isStartupError(new AppError('SW_ERR_REDIS_DIR_IN_USE', 'x')));
  t.notOk(isStartupError(new LedgerError('LEDGER_ERR_INVARIANT', 'x')));
  t.notOk(isStartupError(Object.assign(new Error('x'), { code: 'SW_ERR_CONFIG' })), 'only an AppError');
});

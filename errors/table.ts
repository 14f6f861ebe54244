// The one error-code table. Every code that crosses a boundary — a decline reason on the wire, a
// problem title of the management API, a refusal of the ledger or a store, a start-up failure —
// is a row here, with everything a caller on the far side sees: field 39 in each dialect, the
// HTTP status (and title) of the problem answer, the description the transaction notifier sends.
// docs/errors.md is rendered from this table (`npm run docs:errors`) and a test fails when the two
// differ. This module imports nothing, so every layer (ledger, adapters, switch, api) may read it.

/** ISO 8583 dialects: `1987` answers with two-character response codes, `2003` with four-digit action codes. */
export type Dialect = '1987' | '2003';

/**
 * The `description` values of the Legacy Transactions Notifier, as the partner documentation lists
 * them. A notification carries one of these and nothing else.
 */
export const NOTIFIER_DESCRIPTIONS = [
  'APPROVED', 'EXCEEDS_AMOUNT_LIMIT', 'INSUFFICIENT_FUNDS', 'CARD_NOT_FOUND', 'BALANCE_NOT_FOUND',
  'INVALID_AMOUNT', 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE', 'DEPOSIT_BALANCE_NOT_FOUND', 'AML_EXCEPTION',
  'AMBIGUOUS_REFERENCED_TRANSACTION', 'REFERENCED_TRANSACTION_NOT_FOUND', 'CURRENCY_MISMATCH',
  'CUSTOMER_NOT_FOUND', 'BUDGET_EXCEEDED', 'LIMIT_EXCEED', 'COLLATERAL_BALANCE_NOT_FOUND',
  'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE', 'UNKNOWN_TRANSACTION_TYPE', 'UNKNOWN_ERROR',
] as const;

/** One of NOTIFIER_DESCRIPTIONS. */
export type NotifierDescription = typeof NOTIFIER_DESCRIPTIONS[number];

/** Where a code is raised; docs/errors.md has one section per group, in this order. */
export const ERROR_GROUPS = {
  decline: 'Decline reasons',
  ledger: 'Ledger',
  api: 'Management API',
  card: 'Cards',
  customer: 'Customers',
  partner: 'Partner calls',
  wire: 'Wire, codec and message processing',
  outbox: 'Outbox',
  startup: 'Start-up',
} as const;

/** A key of ERROR_GROUPS. */
export type ErrorGroup = keyof typeof ERROR_GROUPS;

/** Field 39 of an answer, per dialect. */
export interface WireCodes { readonly iso1987: string; readonly iso2003: string }

/** The problem answer of the management API: its status, and its title when that is not the code. */
export interface HttpAnswer { readonly status: number; readonly title?: string }

/** One row of the table. Only `group` and `summary` are always there; the rest say where the code travels. */
export interface ErrorRow {
  readonly group: ErrorGroup;
  /** One sentence: what happened. Also the message of an error thrown without one. */
  readonly summary: string;
  /** Present for a decline reason: the response code a wire message is answered with. */
  readonly iso?: WireCodes;
  /** Present when the management API answers this code as a problem. */
  readonly http?: HttpAnswer;
  /** Present for a decline reason: the notifier description a partner receives for it. */
  readonly notifier?: NotifierDescription;
}

const wire = (iso1987: string, iso2003: string): WireCodes => ({ iso1987, iso2003 });

/** A decline reason: its wire codes, its notifier description, and its problem status when the API refuses with it too. */
function decline(w: WireCodes, notifier: NotifierDescription, summary: string, status?: number): ErrorRow & { group: 'decline'; iso: WireCodes; notifier: NotifierDescription } {
  return status === undefined ? { group: 'decline', summary, iso: w, notifier } : { group: 'decline', summary, iso: w, notifier, http: { status } };
}

/** A code answered by the management API (and not on the wire). */
function answered<G extends ErrorGroup>(group: G, status: number, summary: string, title?: string): ErrorRow & { group: G; http: HttpAnswer } {
  return { group, summary, http: title === undefined ? { status } : { status, title } };
}

/** A code that never reaches a caller as such: logged, counted or ending the process. */
function internal<G extends ErrorGroup>(group: G, summary: string): ErrorRow & { group: G } {
  return { group, summary };
}

export const ERRORS = {
  // Decline reasons: one per transaction, kept in its record. The order is the order of the
  // response-code table in docs/errors.md.
  APPROVED: decline(wire('00', '0000'), 'APPROVED', 'The transaction was processed with no error.'),
  ACCOUNT_VERIFIED: decline(wire('85', '0000'), 'APPROVED', 'A zero-amount 0100 purchase whose card checks all passed: nothing held or posted.'),
  CARD_LOCK_1_LOST: decline(wire('41', '2008'), 'UNKNOWN_ERROR', 'The card is locked with code 1, lost.'),
  CARD_LOCK_2_STOLEN: decline(wire('43', '2009'), 'UNKNOWN_ERROR', 'The card is locked with code 2, stolen.'),
  CARD_LOCK_3_PENDING_QUERY: decline(wire('05', '1000'), 'UNKNOWN_ERROR', 'The card is locked with code 3, pending query.'),
  CARD_LOCK_4_CARD_CONSOLIDATION: decline(wire('51', '1016'), 'UNKNOWN_ERROR', 'The card is locked with code 4, card consolidation.'),
  CARD_LOCK_5_CARD_INACTIVE: decline(wire('56', '1018'), 'UNKNOWN_ERROR', 'The card is locked with code 5, or is a physical card not activated yet.'),
  CARD_LOCK_6_PIN_TRIES_EXCEEDED: decline(wire('75', '1006'), 'UNKNOWN_ERROR', 'The card is locked with code 6, PIN tries exceeded.'),
  CARD_LOCK_7_SUSPECTED_FRAUD: decline(wire('59', '1002'), 'UNKNOWN_ERROR', 'The card is locked with code 7, suspected fraud.'),
  CARD_LOCK_8_CARD_REPLACED: decline(wire('14', '1011'), 'UNKNOWN_ERROR', 'The card is locked with code 8, card replaced.'),
  CARD_LOCK_11_OFFLINE_PIN_TRIES_EXCEEDED: decline(wire('75', '1006'), 'UNKNOWN_ERROR', 'The card is locked with code 11, offline PIN attempts exceeded.'),
  CARD_NOT_FOUND: decline(wire('14', '1011'), 'CARD_NOT_FOUND', 'No card has this PAN (wire) or this id (API).', 404),
  EXPIRED_CARD: decline(wire('54', '1001'), 'UNKNOWN_ERROR', 'Field 14 is in the past or is not the card\'s expiry, or the card has expired.'),
  INSUFFICIENT_FUNDS: decline(wire('51', '1016'), 'INSUFFICIENT_FUNDS', 'The user balance does not hold enough money.', 409),
  INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE: decline(wire('05', '1000'), 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE', 'The program\'s deposit partner balance does not hold enough money.', 409),
  INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE: decline(wire('05', '1000'), 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE', 'The program\'s credit partner balance does not hold enough to fund the credit.', 409),
  DEPOSIT_BALANCE_NOT_FOUND: decline(wire('05', '1000'), 'DEPOSIT_BALANCE_NOT_FOUND', 'The program requires a deposit partner balance in this currency and has none.', 404),
  COLLATERAL_BALANCE_NOT_FOUND: decline(wire('05', '1000'), 'COLLATERAL_BALANCE_NOT_FOUND', 'The program has no credit partner balance in this currency to fund the credit.', 404),
  BALANCE_NOT_FOUND: decline(wire('05', '1000'), 'BALANCE_NOT_FOUND', 'The card\'s user balance (or the one the call names) does not exist.', 404),
  CUSTOMER_NOT_FOUND: decline(wire('05', '1000'), 'CUSTOMER_NOT_FOUND', 'The customer does not exist.', 404),
  INVALID_AMOUNT: decline(wire('13', '1010'), 'INVALID_AMOUNT', 'The amount is zero where it may not be, malformed, or beyond what a balance can hold.', 400),
  EXCEEDS_AMOUNT_LIMIT: decline(wire('61', '1021'), 'EXCEEDS_AMOUNT_LIMIT', 'The amount passes a per-transaction or daily amount limit of the card or the program.', 409),
  BUDGET_EXCEEDED: decline(wire('61', '1021'), 'BUDGET_EXCEEDED', 'A budget of the card or the customer is exhausted.'),
  LIMIT_EXCEED: decline(wire('65', '1023'), 'LIMIT_EXCEED', 'A count or frequency limit is reached.', 409),
  AML_EXCEPTION: decline(wire('62', '1004'), 'AML_EXCEPTION', 'The customer (or corporation) has a transactional lock set.'),
  CURRENCY_MISMATCH: decline(wire('57', '1019'), 'CURRENCY_MISMATCH', 'No balance in the transaction\'s currency and no conversion configured.', 409),
  TRANSACTION_NOT_PERMITTED: decline(wire('57', '1019'), 'UNKNOWN_ERROR', 'A spend control of the card or the program blocks this merchant category, merchant country or merchant.', 409),
  PARTIAL_APPROVAL: decline(wire('10', '0002'), 'APPROVED', 'A purchase at a terminal that accepts partial approvals, approved for what the funds cover (field 4 the approved amount).'),
  UNKNOWN_TRANSACTION_TYPE: decline(wire('12', '1015'), 'UNKNOWN_TRANSACTION_TYPE', 'The MTI or the processing code is not one the switch handles.'),
  FRAUDS_DETECTED: decline(wire('59', '1002'), 'UNKNOWN_ERROR', 'The partner declined the debit or credit as fraud.'),
  LIMITS_EXCEEDED: decline(wire('61', '1021'), 'LIMIT_EXCEED', 'The partner declined the debit or credit for its own limits.'),
  PARTNER_UNAVAILABLE: decline(wire('91', '9111'), 'UNKNOWN_ERROR', 'The partner timed out, was unreachable or answered 5xx, and no stand-in approved.', 503),
  BUDGET_DEADLINE_PASSED: decline(wire('91', '9111'), 'UNKNOWN_ERROR', 'The latency budget ran out before the decision; the stand-in rule declined.'),
  AMBIGUOUS_REFERENCED_TRANSACTION: decline(wire('96', '9109'), 'AMBIGUOUS_REFERENCED_TRANSACTION', 'More than one earlier transaction matches the reversal or clearing.'),
  UNKNOWN_ERROR: decline(wire('96', '9109'), 'UNKNOWN_ERROR', 'The switch could not decide: a system error.'),
  FORMAT_ERROR: decline(wire('30', '9104'), 'UNKNOWN_ERROR', 'The framing is intact but the body does not decode, a mandatory field is missing, or card data (fields 23, 35, 48, 52, 55) is malformed.'),
  SECURITY_VIOLATION: decline(wire('63', '1022'), 'UNKNOWN_ERROR', 'Card data is wrong or missing where required: CVV2, CVV, iCVV, ARQC, a replayed ATC, a track that is not the card\'s, a card-present entry on a virtual card (the detail says which).'),
  INCORRECT_PIN: decline(wire('55', '1017'), 'UNKNOWN_ERROR', 'The PIN block does not hold the card\'s PIN, or the card has no PIN set.'),
  PIN_REQUIRED: decline(wire('55', '1012'), 'UNKNOWN_ERROR', 'A cash withdrawal under the STRICT policy carries no PIN block (field 52).'),
  ALREADY_REVERSED: decline(wire('05', '1000'), 'UNKNOWN_ERROR', 'A remembered earlier reversal already cancelled this transaction.', 409),

  // Ledger: refusals a script returns (named in ledger/codes.ts) that are not decline reasons,
  // then calls the ledger refuses before touching Redis and broken expectations.
  TRANSACTION_NOT_FOUND: answered('ledger', 404, 'No transaction has this id.'),
  TRANSACTION_EXISTS: answered('ledger', 409, 'A transaction with this id exists already.'),
  TRANSACTION_NOT_OPEN: answered('ledger', 409, 'The transaction is no longer authorized (cleared, reversed or expired).'),
  NOT_DUE: answered('ledger', 409, 'The hold does not expire yet.'),
  IDEMPOTENCY_CONFLICT: answered('ledger', 409, 'The idempotency key was used for another operation.'),
  PARTNER_BALANCE_NOT_FOUND: answered('ledger', 404, 'No partner balance has this id.'),
  COMPANY_BALANCE_NOT_FOUND: answered('ledger', 404, 'The program has no company balance in this currency.'),
  AMOUNT_TOO_LARGE: answered('ledger', 400, 'The amount, or the balance after it, would pass 999,999,999,999 minor units.'),
  LEDGER_ERR_INVALID_AMOUNT: answered('ledger', 400, 'An amount is not a positive safe integer.', 'VALIDATION_ERROR'),
  LEDGER_ERR_AMOUNT_TOO_LARGE: answered('ledger', 400, 'An amount is above the n12 maximum, 999,999,999,999 minor units.', 'AMOUNT_TOO_LARGE'),
  LEDGER_ERR_INVALID_ID: answered('ledger', 400, 'An id is empty, too long, or holds a reserved character.', 'VALIDATION_ERROR'),
  LEDGER_ERR_INVALID_BALANCE_ID: answered('ledger', 400, 'A balance id carries no slot tag.', 'VALIDATION_ERROR'),
  LEDGER_ERR_INVALID_ARGUMENT: answered('ledger', 400, 'An argument of a ledger call is malformed.', 'VALIDATION_ERROR'),
  LEDGER_ERR_GROUPS_MISMATCH: internal('ledger', 'The ledger was opened with another slot-group count than its data was created with.'),
  LEDGER_ERR_UNKNOWN_CODE: internal('ledger', 'A script returned a result code the TypeScript table does not know.'),
  LEDGER_ERR_UNKNOWN_STATUS: internal('ledger', 'A stored transaction status is not one the TypeScript table knows.'),
  LEDGER_ERR_INVARIANT: internal('ledger', 'A script\'s result breaks an invariant it must satisfy (a programmer error).'),
  LEDGER_ERR_CONTENTION: internal('ledger', 'A transaction kept changing while it was being reversed; the caller may retry.'),
  LEDGER_ERR_TRANSFER: internal('ledger', 'A transfer between partner-balance tranches could not land.'),
  LEDGER_ERR_PRECONDITION: internal('ledger', 'A hold\'s guard failed (the key that had to be absent exists, or the guarded hash changed): nothing was written; the caller decides again from fresh state.'),
  LEDGER_ERR_SCRIPT_CONSTANT: internal('ledger', 'A Lua script names a C_/S_/E_ constant that ledger/codes.ts does not define: the script is refused at load.'),
  LEDGER_ERR_ASSERTION: internal('ledger', 'A script\'s answer broke an invariant it must satisfy (ledger/assert.ts): a programmer error, loud in tests.'),
  LEDGER_ERR_SCRIPT_MISSING: internal('ledger', 'A Lua script the ledger needs is not in ledger/lua.'),

  // Management API: problems of the HTTP layer and the routes.
  VALIDATION_ERROR: answered('api', 400, 'The request does not match the route\'s schema, or a value in it is not acceptable.'),
  MALFORMED_JSON: answered('api', 400, 'The body is not valid JSON.'),
  ENCRYPTION_REQUIRED: answered('api', 400, 'The answer holds card data: send Encrypt-Response: true and Public-Key; or the request must be encrypted: send Encrypted-Request: true and a JWE payload.'),
  INVALID_PUBLIC_KEY: answered('api', 400, 'Public-Key is missing, or not base64 of a PEM SPKI RSA key of an accepted size.'),
  UNAUTHORIZED: answered('api', 401, 'API keys are configured (API_KEYS_FILE) and the request has no `Authorization: Bearer` key, or one that is not among them.'),
  API_KEY_READ_ONLY: answered('api', 403, 'The request\'s API key has the `read` scope and the call changes something: it needs a `write` key.', 'FORBIDDEN'),
  INVALID_PAYLOAD: answered('api', 400, 'An encrypted request\'s body is not {"payload": compact JWE}, or what it decrypts to is not the call\'s body.'),
  CANT_DECRYPT_PAYLOAD: answered('api', 400, 'The JWE does not decrypt with the switch\'s encryption key (GET /secure/encryption-key), or uses another algorithm than RSA-OAEP-256 / RSA-OAEP with A256GCM.'),
  CLIENT_CERTIFICATE_REQUIRED: answered('api', 403, 'TLS is configured and the request has no verified client certificate.'),
  NOT_FOUND: answered('api', 404, 'No route (or no installed page) at this path.'),
  PROGRAM_NOT_FOUND: answered('api', 404, 'No program has this configId.'),
  OUTBOX_ENTRY_NOT_FOUND: answered('api', 404, 'No outbox entry has this id (or it was sent and is no longer kept).'),
  METHOD_NOT_ALLOWED: answered('api', 405, 'The route exists but not for this method; the Allow header lists those it has.'),
  PROGRAM_MISMATCH: answered('api', 409, 'The balance belongs to another program than the one named.'),
  IDEMPOTENCY_KEY_REUSED: answered('api', 409, 'This X-Idempotency-Key was used for a different request.'),
  OUTBOX_ENTRY_NOT_DEAD: answered('api', 409, 'The outbox entry is not among the dead letters.'),
  SANDBOX_NOT_AN_AUTHORIZATION: answered('api', 409, 'The sandbox call names a transaction that is not an approved original.'),
  PAYLOAD_TOO_LARGE: answered('api', 413, 'The request body exceeds the configured maximum.'),
  UNSUPPORTED_MEDIA_TYPE: answered('api', 415, 'The body is not application/json.'),
  UPGRADE_REQUIRED: answered('api', 426, 'A plain GET on a WebSocket route.'),
  INTERNAL_ERROR: answered('api', 500, 'The request could not be handled; the log line says why.'),
  SANDBOX_LINK_DOWN: answered('api', 502, 'The sandbox cannot reach the switch\'s ISO listener, or the connection closed.'),
  SANDBOX_BAD_ANSWER: answered('api', 502, 'The switch\'s answer to a sandbox message does not decode.'),
  SANDBOX_BUSY: answered('api', 503, 'Too many sandbox messages are waiting for the switch.'),
  TRANSACTIONS_UNAVAILABLE: answered('api', 503, 'This switch keeps no transaction records.'),
  OUTBOX_UNAVAILABLE: answered('api', 503, 'This switch runs no partner-call outbox.'),
  BALANCE_NOT_EMPTY: answered('api', 409, 'The balance holds money or holds (EXTERNAL_BALANCE: at the partner): it is deleted at zero only.'),
  BALANCE_HAS_CARDS: answered('api', 409, 'A card on the balance can still be used: lock it for good (lost, stolen, inactive, replaced) before deleting the balance.'),
  FEED_FULL: answered('api', 503, 'The live feed serves its maximum number of clients.'),
  SANDBOX_TIMEOUT: answered('api', 504, 'The switch did not answer a sandbox message in time.'),

  // Card store.
  CARD_LOCK_IRREVERSIBLE: answered('card', 409, 'The card is locked with 1, 2, 5 or 8: the lock is never removed or replaced.'),
  CARD_INVALID_LOCK_CODE: answered('card', 400, 'The lock code is not one of 1-8 or 11.'),
  CARD_NOT_PHYSICAL: answered('card', 409, 'Only a physical card is activated.'),
  CARD_ALREADY_ACTIVE: answered('card', 409, 'The card is active already.'),
  CARD_PAN_SPACE_EXHAUSTED: answered('card', 503, 'No free PAN was drawn in the program\'s BIN within the attempt limit.'),
  CARD_INVALID_ARGUMENT: answered('card', 400, 'An argument of a card operation is malformed.'),
  CARD_KEYS_UNAVAILABLE: answered('card', 500, 'The key that encrypted the stored PAN is not configured.'),
  CARD_DATA_CORRUPT: answered('card', 500, 'A stored card record does not decode.'),
  CARD_NOT_VIRTUAL: answered('card', 409, 'Only a virtual card\'s CVV2 is reset: a physical card\'s is printed on it.'),
  CVV_RESETS_EXHAUSTED: answered('card', 409, 'The card\'s CVV2 was reset 998 times: issue a new card.'),
  PROGRAM_KEYS_MISSING: answered('card', 500, 'The card\'s program has no card keys in KEYS_FILE: no CVV2 or PVV can be made for it.'),

  // Customer store.
  KYC_REQUIRED: answered('customer', 409, 'The customer\'s KYC status is not SUCCESS: no balance or card for them yet.'),
  CUSTOMER_EXISTS: answered('customer', 409, 'A customer with this id exists already.'),
  CUSTOMER_INVALID_KYC: answered('customer', 400, 'The KYC status is not SUCCESS, PENDING or REJECTED.'),
  CUSTOMER_INVALID_LOCK_REASON: answered('customer', 400, 'The transactional lock reason is not one the partner documentation lists.'),
  CUSTOMER_TOO_MANY_CARDS: answered('customer', 409, 'The customer holds the maximum number of cards.'),
  CUSTOMER_INVALID_ARGUMENT: answered('customer', 400, 'An argument of a customer operation is malformed.'),

  // Partner calls: the partner's own refusal titles that the API passes on (the others are
  // decline reasons above), and bodies the client refuses to send.
  USER_NOT_FOUND: answered('partner', 404, 'The partner does not know the user (link balance).'),
  FORBIDDEN: answered('partner', 403, 'The partner refuses access to the balance.'),
  CLIENT_ERROR: answered('partner', 409, 'The partner refused the call as a client error.'),
  PARTNER_ERR_BODY: internal('partner', 'A partner call\'s body would be invalid or unsafe (a PAN, a malformed field): a programmer error.'),

  // Wire and codec. A structural ISO_ERR code means the extent of the rest of the message is
  // unknown, so unpacking stops there; a content code means one field is bad but its extent is
  // known, so unpacking goes on and the other fields are still echoed. The field each names is in
  // parentheses.
  SW_ERR_FRAME_TOO_LONG: internal('wire', 'A frame\'s length prefix passes the 8 KiB limit: the connection is closed with a log line.'),
  SW_ERR_PROCESSING: internal('wire', 'An answer could not be encoded (a bug in the deciding code): that request is left unanswered; the log line names the field, never its value.'),
  SW_ERR_COMPENSATION: internal('wire', 'A compensation (release of a hold, partner reversal) was not queued, gave up, or was still pending when the switch stopped: the hold is left to the hold-expiry sweeper (a posted 0200 stays posted).'),
  ISO_ERR_TRUNCATED: internal('wire', 'Structural (field 0, 1 or the field): the body ends inside the MTI, a bitmap, a length prefix or a value.'),
  ISO_ERR_BAD_LENGTH_PREFIX: internal('wire', 'Structural (the field): a length prefix byte is not an ASCII digit.'),
  ISO_ERR_TOO_LONG: internal('wire', 'Structural (the field): a length prefix exceeds the field\'s maximum; on pack, a value is too long.'),
  ISO_ERR_UNDEFINED_FIELD: internal('wire', 'Structural (the bit): the bitmap names a field the dialect does not define; on pack, such a key.'),
  ISO_ERR_TRAILING_BYTES: internal('wire', 'Structural (the last field read): bytes remain after the last field.'),
  ISO_ERR_BAD_CHARSET: internal('wire', 'Content (0 or the field): a byte the field\'s encoding does not allow (a non-digit in `n`, a non-ASCII or control byte in `an`/`ans`).'),
  ISO_ERR_BAD_LENGTH: internal('wire', 'Content (the field): a variable field shorter than its minimum; on pack, a fixed field of the wrong length.'),
  ISO_ERR_MISSING_VALUE: internal('wire', 'Pack only (0 or the field): the MTI or a field value is empty or undefined.'),
  ISO_ERR_BAD_TYPE: internal('wire', 'Pack only (the field): a string for a binary field, or a `Buffer` for a text field.'),

  // Outbox.
  OUTBOX_ERR_INVALID_ENTRY: internal('outbox', '`enqueue`: a field of the entry is missing or malformed.'),
  OUTBOX_ERR_CARD_DATA: internal('outbox', '`enqueue`: the body or path holds a PAN (a Luhn-valid run of 13-19 digits), or the body a card-data field.'),
  OUTBOX_ERR_BODY_TOO_LARGE: internal('outbox', '`enqueue`: the JSON body is over 64 KiB.'),
  OUTBOX_ERR_FULL: internal('outbox', '`enqueue`: the entry\'s slot group holds `maxPendingPerGroup` pending entries.'),
  OUTBOX_ERR_KEY_REUSED: internal('outbox', '`enqueue`: the idempotency key is recorded with another method, path or body.'),
  OUTBOX_ERR_INVALID_OPTIONS: internal('outbox', '`Outbox.open`, `list`: an option, a page size or a cursor is out of range.'),
  OUTBOX_ERR_STATE: internal('outbox', '`start` called twice, or `flush` of an outbox never started.'),

  // Start-up: the process exits non-zero with the error's message as its one line.
  SW_ERR_CONFIG: internal('startup', 'An environment variable is malformed or out of range, or the TLS files it names are unusable.'),
  SW_ERR_PROGRAM_CONFIG: internal('startup', 'PROGRAMS_FILE (or a partner block in it) is not a valid program list.'),
  SW_ERR_PORT_IN_USE: internal('startup', 'ISO_PORT or HTTP_PORT is taken on its address (another switch, or another program): the line names the variable to change.'),
  SW_ERR_API_UNPROTECTED: internal('startup', 'HTTP_HOST is not a loopback address and the management API would answer anyone: set API_KEYS_FILE (API keys) or HTTP_TLS_CERT, HTTP_TLS_KEY and HTTP_TLS_CA (client certificates).'),
  SW_ERR_API_KEYS: internal('startup', 'API_KEYS_FILE cannot be read, or is not a valid list of named keys with a read or write scope.'),
  SW_ERR_SECRET: internal('startup', 'SWITCH_SECRET is shorter than 32 bytes, or the development secret cannot be read or written.'),
  SW_ERR_KEYS: internal('startup', 'KEYS_FILE (or the development key file) is not a valid key set: the line names the program and the key.'),
  SW_ERR_ENCRYPTION_KEY: internal('startup', 'ENCRYPTION_KEY_FILE is not a PEM RSA private key of 2048-8192 bits, or the development key cannot be read or written.'),
  SW_ERR_REDIS_UNREACHABLE: internal('startup', 'The Redis named by REDIS_URL or REDIS_CLUSTER does not answer.'),
  SW_ERR_REDIS_NOT_INSTALLED: internal('startup', 'redis-server is not installed: run `sudo apt-get install -y redis-server`, or set REDIS_URL to an existing Redis (redis://host:port)'),
  SW_ERR_REDIS_DIR_IN_USE: internal('startup', 'Another live switch (or ledger check) owns the Redis data directory.'),
  SW_ERR_PG_NOT_INSTALLED: internal('startup', 'The PostgreSQL server is not installed: run `sudo apt-get install -y postgresql`, or set DATABASE_URL to an existing PostgreSQL (postgresql://user:password@host:port/database)'),
  SW_ERR_PG_DIR_IN_USE: internal('startup', 'Another live switch (or ledger check) owns the PostgreSQL data directory.'),
  SW_ERR_PG_SETUP: internal('startup', 'The managed PostgreSQL cannot be set up: started as root without the `postgres` system user, a data directory that user cannot reach, or initdb failed.'),
  SW_ERR_HISTORY_SCHEMA: internal('startup', 'The history database holds a schema version newer than this switch knows (a newer switch migrated it), or a migration failed.'),
  API_ERR_HTTP_SERVER: internal('startup', 'HTTP_SERVER=uws was asked for and uWebSockets.js does not load here.'),
} as const satisfies Record<string, ErrorRow>;

/** Every stable error code: a key of ERRORS. */
export type ErrorCode = keyof typeof ERRORS;

/** The codes with a wire response code: the decline reasons, one per transaction. */
export type Reason = { [K in ErrorCode]: (typeof ERRORS)[K] extends { readonly iso: WireCodes } ? K : never }[ErrorCode];

/** The codes of one group, e.g. `CodeOf<'card'>`. */
export type CodeOf<G extends ErrorGroup> = { [K in ErrorCode]: (typeof ERRORS)[K]['group'] extends G ? K : never }[ErrorCode];

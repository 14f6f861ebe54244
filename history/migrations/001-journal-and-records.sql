-- The history database's first schema: the ledger's journal and the switch's transaction records,
-- copied from Redis by history/copier.ts. Everything lives in the schema `history`.

-- One row per journal entry of the ledger (a Redis stream entry of `{gNN}:jnl`), keyed by where it
-- came from: slot group and stream entry id. A copy replayed after a crash inserts nothing twice.
CREATE TABLE history.journal_entries (
  slot_group        smallint NOT NULL,           -- the ledger slot group (gNN) of the stream
  entry_ms          bigint   NOT NULL,           -- the stream entry id: Redis server time, ms ...
  entry_seq         integer  NOT NULL,           -- ... and sequence within that ms
  op                text     NOT NULL,           -- holdH, holdP, clear, releaseR/P/E, reverse, post:<TYPE>, reload, xfer-out, xfer-in
  balance_id        text     NOT NULL,           -- user balance (partner balance for reload and transfers)
  tx_id             text     NOT NULL,           -- ledger transaction id (reload key, transfer id)
  currency          text     NOT NULL,           -- ISO 4217 alpha-3
  postings          text     NOT NULL,           -- "from>to>amountMinor>code" joined by ';' (docs/ledger.md, chart of accounts)
  tx_status         smallint,                    -- the transaction's status after the entry: 1 AUTHORIZED, 2 CLEARED, 3 REVERSED, 4 EXPIRED; null for reloads and transfers
  tx_reversed_minor bigint,                      -- principal given back by the reversal this entry records
  PRIMARY KEY (slot_group, entry_ms, entry_seq)
);
CREATE INDEX journal_entries_transaction ON history.journal_entries (balance_id, tx_id);

-- One row per transaction record (the seed's transaction object of an answered message), keyed by
-- its id. version = the record log entry that wrote it (ms, seq): a later write (a record replaced,
-- or forgotten when its approval was undone) wins, an earlier or repeated one changes nothing.
CREATE TABLE history.records (
  id           uuid     PRIMARY KEY,
  version_ms   bigint   NOT NULL,
  version_seq  integer  NOT NULL,
  time_ms      bigint   NOT NULL,                -- the listing's order (newest first), as in Redis's indexes
  balance_id   text,                             -- null: a message for an unknown card
  card_id      text,
  tx_id        text,                             -- the ledger transaction id (externalTransactionId)
  forgotten    boolean  NOT NULL DEFAULT false,  -- the approval was undone (answered 96): not listed
  body         text     NOT NULL                 -- the stored form (stores/record-codec.ts): a JSON array, or object
);
CREATE INDEX records_by_balance ON history.records (balance_id, time_ms DESC, id DESC) WHERE balance_id IS NOT NULL;
CREATE INDEX records_by_card ON history.records (card_id, time_ms DESC, id DESC) WHERE card_id IS NOT NULL;
CREATE INDEX records_unattributed ON history.records (time_ms DESC, id DESC) WHERE balance_id IS NULL;

-- Every posting, one row each: for reports and for `npm run ledger:check`.
CREATE VIEW history.postings AS
SELECT e.slot_group, e.entry_ms, e.entry_seq, e.op, e.balance_id, e.tx_id, e.currency, p.n AS posting_no,
       split_part(p.posting, '>', 1) AS from_account,
       split_part(p.posting, '>', 2) AS to_account,
       split_part(p.posting, '>', 3)::bigint AS amount_minor,
       split_part(p.posting, '>', 4) AS code
  FROM history.journal_entries e,
       unnest(string_to_array(e.postings, ';')) WITH ORDINALITY AS p(posting, n)
 WHERE p.posting <> '';

-- The records with their values named, for reports (records kept as the full object by older
-- switches are read by name, the compact array by position).
CREATE VIEW history.transaction_records AS
SELECT r.id, r.time_ms, to_timestamp(r.time_ms / 1000.0) AS recorded_at, r.balance_id, r.card_id, r.tx_id,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>6  ELSE b->>'type' END AS type,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>7  ELSE b->>'category' END AS category,
       CASE WHEN jsonb_typeof(b) = 'array' THEN (b->>8)::bigint ELSE (b->>'amount')::bigint END AS amount_minor,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>9  ELSE b->>'currency' END AS currency,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>12 ELSE b->>'status' END AS status_when_recorded,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>24 ELSE b->>'processingStatus' END AS processing_status,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>25 ELSE b->>'reason' END AS reason,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>26 ELSE b->>'responseCode' END AS response_code,
       CASE WHEN jsonb_typeof(b) = 'array' THEN b->>27 ELSE b->>'mti' END AS mti,
       b AS body
  FROM history.records r, LATERAL (SELECT r.body::jsonb AS b) j
 WHERE NOT r.forgotten;

-- The database's identity: the switch writes it into the ledger it copies from (Redis), so that a
-- check of that ledger reads the history of this database and no other.
CREATE TABLE history.settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO history.settings (name, value) VALUES ('database_id', md5(random()::text || clock_timestamp()::text));

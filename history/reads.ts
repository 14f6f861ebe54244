// Reads of the history database: the records the API lists (stores/records.ts ArchivedRecords) and
// the archived journal the checker counts (ledger/check.ts ArchivedJournal). None is on the
// authorization path.
import type pg from 'pg';
import type { ArchivedJournal } from '../ledger/check.js';
import { TX_STATUSES } from '../ledger/codes.js';
import { groupTag } from '../ledger/keys.js';
import type { ArchivedRecord, ArchivedRecords, RecordIndex } from '../stores/records.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A cursor whose id is no UUID (no record has one) compares as below every id of its millisecond. */
const LOWEST_UUID = '00000000-0000-0000-0000-000000000000';

/** A record with its transaction's archived state: the last journal entry with a status, and the principal reversed. */
const RECORD_COLUMNS = `r.id, r.time_ms, r.body,
  (SELECT e.tx_status FROM history.journal_entries e WHERE e.balance_id = r.balance_id AND e.tx_id = r.tx_id AND e.tx_status IS NOT NULL
    ORDER BY e.entry_ms DESC, e.entry_seq DESC LIMIT 1) AS tx_status,
  (SELECT max(e.tx_reversed_minor) FROM history.journal_entries e WHERE e.balance_id = r.balance_id AND e.tx_id = r.tx_id) AS tx_reversed`;

interface RecordRow { id: string; time_ms: string; body: string; tx_status: number | null; tx_reversed: string | null }

function toArchived(r: RecordRow): ArchivedRecord {
  const status = r.tx_status === null ? null : TX_STATUSES[r.tx_status] ?? null;
  return {
    id: r.id, timeMs: Number(r.time_ms), body: r.body,
    ledger: status === null ? null : { status, reversedMinor: Number(r.tx_reversed ?? 0) },
  };
}

export class HistoryReads implements ArchivedRecords, ArchivedJournal {
  constructor(private readonly pool: pg.Pool) {}

  async get(id: string): Promise<ArchivedRecord | null> {
    if (!UUID.test(id)) return null;
    const r = await this.pool.query<RecordRow>(`SELECT ${RECORD_COLUMNS} FROM history.records r WHERE r.id = $1 AND NOT r.forgotten`, [id]);
    return r.rows[0] === undefined ? null : toArchived(r.rows[0]);
  }

  async list(index: RecordIndex, before: { score: number; id: string } | null, limit: number): Promise<ArchivedRecord[]> {
    const where = 'balanceId' in index ? 'r.balance_id = $1' : 'cardId' in index ? 'r.card_id = $1' : 'r.balance_id IS NULL AND $1::text IS NULL';
    const key = 'balanceId' in index ? index.balanceId : 'cardId' in index ? index.cardId : null;
    const r = await this.pool.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM history.records r
        WHERE ${where} AND NOT r.forgotten AND ($2::bigint IS NULL OR (r.time_ms, r.id) < ($2::bigint, $3::uuid))
        ORDER BY r.time_ms DESC, r.id DESC LIMIT $4`,
      [key, before === null ? null : before.score, before === null ? LOWEST_UUID : UUID.test(before.id) ? before.id : LOWEST_UUID, limit],
    );
    return r.rows.map(toArchived);
  }

  async accountSums(skip: ReadonlySet<string>): Promise<{ sums: Map<string, bigint>; entries: number; postings: number }> {
    const s = skipArrays(skip);
    const r = await this.pool.query<{ currency: string; account: string; total: string; postings: string }>(
      `WITH p AS (
         SELECT p.* FROM history.postings p
          WHERE NOT EXISTS (SELECT 1 FROM unnest($1::smallint[], $2::bigint[], $3::integer[]) AS s(g, m, q)
                             WHERE s.g = p.slot_group AND s.m = p.entry_ms AND s.q = p.entry_seq))
       SELECT currency, account, sum(amount)::text AS total, count(*)::text AS postings FROM (
         SELECT currency, from_account AS account, -amount_minor AS amount FROM p
         UNION ALL SELECT currency, to_account, amount_minor FROM p) x
        GROUP BY currency, account`, s);
    const e = await this.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM history.journal_entries j
        WHERE NOT EXISTS (SELECT 1 FROM unnest($1::smallint[], $2::bigint[], $3::integer[]) AS s(g, m, q)
                           WHERE s.g = j.slot_group AND s.m = j.entry_ms AND s.q = j.entry_seq)`, s);
    const sums = new Map<string, bigint>();
    let postings = 0;
    for (const row of r.rows) {
      sums.set(row.currency + ' ' + row.account, BigInt(row.total));
      postings += Number(row.postings);
    }
    // Every posting was counted twice above: once from its account, once to the other.
    return { sums, entries: Number(e.rows[0]?.n ?? 0), postings: postings / 2 };
  }

  async entriesOf(transactions: readonly string[], skip: ReadonlySet<string>): Promise<Array<{ name: string; fields: Record<string, string> }>> {
    const balances: string[] = [];
    const txs: string[] = [];
    for (const t of transactions) {
      const bar = t.indexOf('|');
      balances.push(t.slice(0, bar));
      txs.push(t.slice(bar + 1));
    }
    const r = await this.pool.query<{ slot_group: number; entry_ms: string; entry_seq: number; balance_id: string; tx_id: string; currency: string; postings: string }>(
      `SELECT j.slot_group, j.entry_ms, j.entry_seq, j.balance_id, j.tx_id, j.currency, j.postings
         FROM history.journal_entries j JOIN unnest($1::text[], $2::text[]) AS t(b, x) ON j.balance_id = t.b AND j.tx_id = t.x`, [balances, txs]);
    const out: Array<{ name: string; fields: Record<string, string> }> = [];
    for (const row of r.rows) {
      const name = `${groupTag(row.slot_group)} ${row.entry_ms}-${row.entry_seq}`;
      if (skip.has(name)) continue;
      out.push({ name, fields: { b: row.balance_id, x: row.tx_id, c: row.currency, p: row.postings } });
    }
    return out;
  }
}

/** The skipped entries (`gNN <ms>-<seq>`) as three parallel arrays for unnest. */
function skipArrays(skip: ReadonlySet<string>): [number[], string[], number[]] {
  const g: number[] = [];
  const m: string[] = [];
  const q: number[] = [];
  for (const name of skip) {
    const [tag, id] = name.split(' ');
    const dash = id!.indexOf('-');
    g.push(Number(tag!.slice(1)));
    m.push(id!.slice(0, dash));
    q.push(Number(id!.slice(dash + 1)));
  }
  return [g, m, q];
}

// The Redis key layout. Every key carries a hash tag `{gNN}` naming one of the ledger's slot
// groups, so each script touches exactly one hash slot (Redis Cluster) and a balance id tells its
// slot without a round trip:
//
//   {gNN}:ub:<balanceId>            user balance hash  a (available), b (blocked), cur, cust, cfg, t, neg
//   {gNN}:tx:<balanceId>:<txId>     transaction hash   s (status), a (amount), h (held), fh (fees held), db (deposit
//                                   held), c (cleared), f (fee), x (FX fee), cur, dp/kp/pp (deposit/company/partner
//                                   id), e (expires ms), t (created ms), r (reversed), fc (forced), ty (type; INCREMENT with o,
//                                   its original's txId), vu (velocity usage counted), m:<meta>;
//                                   an absent field reads as 0 / '' (fewer fields, cheaper scripts)
//   {gNN}:hist:<balanceId>          list of txIds of the balance, newest first
//   {gNN}:cust:<customerId>         set of the customer's balance ids (in the customer's group)
//   {gNN}:pbt:<partnerId>           partner balance tranche hash  a, b, cur, type, cfg
//   {g00}:pb:<partnerId>            partner balance head hash     type, cur, cfg, t
//   {g00}:pbs                       set of all partner balance ids
//   {gNN}:idem:<idempotencyKey>     idempotency record (string, with TTL)
//   {gNN}:use:<cardId>:<period>     a card's usage of one period of a velocity counter's window (a:<id>, n:<id> per counter;
//                                   20261207 day, 2026W50 week, 202612 month, L lifetime), in its balance's group, TTL 2/8/32 days or none
//   {gNN}:jnl                       journal stream of the group
//   {gNN}:exp                       expiry index: zset of "balanceId|txId" scored by expiresAtMs
//   {gNN}:world                     world accounts of the group: "<currency>:W:<name>" -> balance
//   {gNN}:xfer:<transferId>         tranche transfer record (source side), {gNN}:xfers open set
//   {gNN}:xin:<transferId>          tranche transfer receipt (destination side)
//   {g00}:meta                      ledger settings (groups)
//
// A user balance id is a UUID v4 (as the seed's partner calls and notifications carry it) whose
// first 16 bits, modulo the group count, name its slot group: it is drawn at random and those bits
// are then set so that the balance lands in its customer's group (one script creates both). Ids of
// the earlier form `gNN:<random>` still name their group by the prefix (see docs/ledger.md,
// "Balance ids"). A partner balance id is `pb-<TYPE>-<CUR>-<configId>`, so it can be found from
// (configId, type, currency) without an index.
import { createHash, randomUUID } from 'node:crypto';
import { LedgerError } from './codes.js';

export const MAX_GROUPS = 100;

export type PartnerType = 'DEPOSIT' | 'CREDIT' | 'COMPANY';

export function groupTag(group: number): string {
  return group < 10 ? `g0${group}` : `g${group}`;
}

/** Per-group key prefixes and fixed keys, computed once. */
export class Keyspace {
  readonly prefixes: string[] = [];
  readonly journals: string[] = [];
  readonly expiries: string[] = [];
  readonly worlds: string[] = [];
  readonly tags: string[] = [];
  private readonly byTag = new Map<string, number>();

  constructor(readonly groups: number) {
    if (!Number.isInteger(groups) || groups < 1 || groups > MAX_GROUPS) {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `groups must be an integer in 1..${MAX_GROUPS}`);
    }
    for (let g = 0; g < groups; g++) {
      const tag = groupTag(g);
      const p = `{${tag}}:`;
      this.tags.push(tag);
      this.prefixes.push(p);
      this.journals.push(p + 'jnl');
      this.expiries.push(p + 'exp');
      this.worlds.push(p + 'world');
      this.byTag.set(tag, g);
    }
  }

  /** Group of a user balance id (a UUID v4, or the earlier `gNN:...`), or -1 when it is neither. */
  groupOfBalance(balanceId: string): number {
    if (balanceId.length === 36 && UUID_V4.test(balanceId)) return parseInt(balanceId.slice(0, 4), 16) % this.groups;
    if (balanceId.length < 5 || balanceId.charCodeAt(3) !== 58 /* ':' */) return -1;
    return this.byTag.get(balanceId.slice(0, 3)) ?? -1;
  }

  /**
   * A user balance id in `group` (its first 16 bits modulo the group count): a random UUID v4, or
   * with `seed` one derived from it (sha-256), so that a retried creation names the same balance.
   */
  newBalanceId(group: number, seed?: string): string {
    const id = seed === undefined ? randomUUID() : uuidFromHash(createHash('sha256').update(seed).digest());
    let v = parseInt(id.slice(0, 4), 16);
    v = v - (v % this.groups) + group;
    if (v > 0xffff) v -= this.groups;
    return v.toString(16).padStart(4, '0') + id.slice(4);
  }

  /** Group a customer's balances live in: a stable hash of the customer id. */
  groupOfCustomer(customerId: string): number {
    return fnv1a(customerId) % this.groups;
  }

  static partnerId(type: PartnerType, currency: string, configId: string): string {
    return `pb-${type}-${currency}-${configId}`;
  }

  static parsePartnerId(id: string): { type: PartnerType; currency: string; configId: string } | null {
    const m = PARTNER_ID.exec(id);
    if (m === null) return null;
    return { type: m[1] as PartnerType, currency: m[2]!, configId: m[3]! };
  }

  // Keys of slot group `g` (0 <= g < groups; the caller has found g from an id, e.g. with
  // groupOfBalance). String concatenation on a precomputed prefix: these run on the hot path.

  /** `{gNN}:idem:<key>`: the idempotency record of a mutating call (string with TTL). */
  idempotency(g: number, key: string): string { return this.prefixes[g]! + 'idem:' + key; }
  /** `{gNN}:ub:<balanceId>`: a user balance (hash). */
  userBalance(g: number, balanceId: string): string { return this.prefixes[g]! + 'ub:' + balanceId; }
  /** `{gNN}:tx:<balanceId>:<txId>`: a transaction of a user balance (hash). */
  transaction(g: number, balanceId: string, txId: string): string { return this.prefixes[g]! + 'tx:' + balanceId + ':' + txId; }
  /** `{gNN}:hist:<balanceId>`: the balance's transaction ids, newest first (list). */
  history(g: number, balanceId: string): string { return this.prefixes[g]! + 'hist:' + balanceId; }
  /** `{gNN}:cust:<customerId>`: the customer's balance ids (set), in the customer's group. */
  customerBalances(g: number, customerId: string): string { return this.prefixes[g]! + 'cust:' + customerId; }
  /** `{gNN}:pbt:<partnerId>`: the partner balance's tranche in group g (hash). */
  tranche(g: number, partnerId: string): string { return this.prefixes[g]! + 'pbt:' + partnerId; }
  /** Every tranche of a partner balance, index = group. */
  tranches(partnerId: string): string[] { return this.prefixes.map((p) => p + 'pbt:' + partnerId); }
  /** `{gNN}:use:<cardId>:<period>`: a card's usage of one period of its velocity counters (hash; ledger/counters.ts). */
  usage(g: number, cardId: string, period: string): string { return this.prefixes[g]! + 'use:' + cardId + ':' + period; }
  /** `{gNN}:xfer:<transferId>`: a tranche transfer record on its source side (hash). */
  transfer(g: number, transferId: string): string { return this.prefixes[g]! + 'xfer:' + transferId; }
  /** `{gNN}:xfers`: the transfers of group g still in transit (set). */
  openTransfers(g: number): string { return this.prefixes[g]! + 'xfers'; }
  /** `{gNN}:xin:<transferId>`: the receipt of a transfer on its destination side (string). */
  transferReceipt(g: number, transferId: string): string { return this.prefixes[g]! + 'xin:' + transferId; }

  /** Group of a slot tag (`g07` -> 7), or -1 when it is not one of this ledger's groups. */
  groupOfTag(tag: string): number {
    return this.byTag.get(tag) ?? -1;
  }

  // Keys named by a slot tag read from storage (a transfer's destination, a key found by SCAN),
  // for readers that hold no Keyspace (the checker).

  /** `{<tag>}:pbt:<partnerId>`: a partner tranche in the group whose tag is `tag`. */
  static trancheInTag(tag: string, partnerId: string): string { return '{' + tag + '}:pbt:' + partnerId; }
  /** `{<tag>}:xin:<transferId>`: a transfer receipt in the group whose tag is `tag`. */
  static transferReceiptInTag(tag: string, transferId: string): string { return '{' + tag + '}:xin:' + transferId; }

  /** `{g00}:meta`: ledger settings (hash: groups). */
  static metaKey(): string { return '{g00}:meta'; }
  /** `{g00}:pb:<partnerId>`: a partner balance's head (hash: type, cur, cfg, t). */
  static partnerHead(partnerId: string): string { return `{g00}:pb:${partnerId}`; }
  /** `{g00}:pbs`: every partner balance id (set). */
  static partnerIndex(): string { return '{g00}:pbs'; }
}

/**
 * What a key found by a scan is, for the invariant checker: one of the ledger's kinds and its
 * group tag (`gNN`), or null for any other key.
 */
export function ledgerKeyKind(key: string): { kind: 'user' | 'tranche' | 'transaction' | 'transfer' | 'journal' | 'world' | 'expiry'; tag: string } | null {
  if (key.charCodeAt(0) !== 123 /* { */) return null;
  const close = key.indexOf('}:');
  if (close < 0) return null;
  const tag = key.slice(1, close);
  const rest = key.slice(close + 2);
  if (rest.startsWith('ub:')) return { kind: 'user', tag };
  if (rest.startsWith('pbt:')) return { kind: 'tranche', tag };
  if (rest.startsWith('tx:')) return { kind: 'transaction', tag };
  if (rest.startsWith('xfer:')) return { kind: 'transfer', tag };
  if (rest === 'jnl') return { kind: 'journal', tag };
  if (rest === 'world') return { kind: 'world', tag };
  if (rest === 'exp') return { kind: 'expiry', tag };
  return null;
}

/** `{gNN}:` — the hash tag of a slot group, the prefix of every key that lives in that group. */
function inGroup(g: number): string {
  return `{${groupTag(g)}}:`;
}

/**
 * Keys of the stores beside the ledger — cards, customers, transaction records, the partner-call
 * outbox — built here with the ledger's, so that one module names every key the project writes.
 * Card and customer keys carry their own hash tag (one key per operation, so they work unchanged
 * on a Cluster); records and outbox entries live in slot groups like the ledger's.
 */
export const StoreKeys = {
  /** `customer:{<customerId>}`: the customer hash, and beside it `:locks` (set of lock reasons) and `:cards` (set of card ids). */
  customer(customerId: string): { hash: string; locks: string; cards: string } {
    const p = 'customer:{' + customerId + '}';
    return { hash: p, locks: p + ':locks', cards: p + ':cards' };
  },
  /** `customer:{<customerId>}:cards`: the ids of every card issued or seeded for the customer (set). */
  customerCards(customerId: string): string { return 'customer:{' + customerId + '}:cards'; },
  /** `customer:seq`: the counter that numbers customers created without an id of their own. */
  customerSequence(): string { return 'customer:seq'; },
  /** `api:idem:<scope>`: the management API's idempotency record of one request scope (hash). */
  apiIdempotency(scope: string): string { return 'api:idem:' + scope; },
  /** `api:deleted-balances`: balances deleted through the API, balance id → when, ms (hash); the ledger keeps them. */
  deletedBalances(): string { return 'api:deleted-balances'; },
  /** `lowbal:<partnerBalanceId>`: whether a partner balance is below its program's low-balance level (adapters/low-balance.ts). */
  lowBalance(partnerBalanceId: string): string { return 'lowbal:' + partnerBalanceId; },
  /** `{g00}:ob:meta`: the outbox's group count (hash). */
  outboxMeta(): string { return '{g00}:ob:meta'; },
  /** `card:pan:<panIndex>`: the card record (hash), found by the PAN's keyed hash. */
  cardRecord(panIndex: string): string { return 'card:pan:' + panIndex; },
  /** `card:id:<cardId>`: the card's PAN index (string). */
  cardIdIndex(cardId: string): string { return 'card:id:' + cardId; },
  /** `card:delivery:<cardId>`: the delivery address of a physical card (hash of address fields). */
  cardDelivery(cardId: string): string { return 'card:delivery:' + cardId; },
  /** `{gNN}:rec:<recordId>`: a transaction record (string; stores/record-codec.ts gives its layout). */
  record(g: number, recordId: string): string { return inGroup(g) + 'rec:' + recordId; },
  /** `{gNN}:recs:bal:<balanceId>`: record ids of a balance, scored by time ms (zset). */
  recordsOfBalance(g: number, balanceId: string): string { return inGroup(g) + 'recs:bal:' + balanceId; },
  /** `{gNN}:recs:card:<cardId>`: record ids of a card (zset). */
  recordsOfCard(g: number, cardId: string): string { return inGroup(g) + 'recs:card:' + cardId; },
  /**
   * `{gNN}:recs:log`: the slot group's record log (stream): every record written or replaced, and
   * every record forgotten, until the history copier has copied it (history/copier.ts).
   */
  recordLog(g: number): string { return inGroup(g) + 'recs:log'; },
  /** `{gNN}:recs:unattributed`: records of messages for unknown cards (zset). */
  recordsUnattributed(g: number): string { return inGroup(g) + 'recs:unattributed'; },
  /** `{gNN}:dup:<key>`: the cached answer of a message, by its duplicate key (base64url), kept 48 h. */
  duplicateAnswer(g: number, duplicateKey: string): string { return inGroup(g) + 'dup:' + duplicateKey; },
  /** `{gNN}:rrn:<cardId>:<field 37>`: ledger transaction ids of the card's approved originals with that retrieval reference (newline-separated string; a set if written before 2026-11-30). */
  originalsByRrn(g: number, cardId: string, rrn: string): string { return inGroup(g) + 'rrn:' + cardId + ':' + rrn; },
  /** `{gNN}:oid:<identity>`: ledger transaction ids of the approved originals with that field-90 identity (as originalsByRrn). */
  originalsByIdentity(g: number, identity: string): string { return inGroup(g) + 'oid:' + identity; },
  /** The partner-call outbox of a slot group: `{gNN}:ob:` + due, pend, dead, att (see adapters/outbox.ts). */
  outbox(g: number): { prefix: string; due: string; pend: string; dead: string; att: string } {
    const prefix = inGroup(g) + 'ob:';
    return { prefix, due: prefix + 'due', pend: prefix + 'pend', dead: prefix + 'dead', att: prefix + 'att' };
  },
  /** `{gNN}:ob:e:<entryId>`: one outbox entry (hash). */
  outboxEntry(g: number, entryId: string): string { return inGroup(g) + 'ob:e:' + entryId; },
} as const;

const PARTNER_ID = /^pb-(DEPOSIT|CREDIT|COMPANY)-([A-Z]{3})-(.+)$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * The first 16 bytes of `h` (a hash, at least 16 bytes) shaped as a UUID v4 (version and variant
 * bits set): the one way the project turns a derived value into a UUID (balance ids, record ids,
 * partner call keys and object ids).
 */
export function uuidFromHash(h: Uint8Array): string {
  const b = Buffer.from(h.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

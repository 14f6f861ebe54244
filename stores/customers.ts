// Customer state the authorization path depends on: KYC status and transactional locks (seed
// "External Transactional Lock Reason Notifier"; SPEC §6). While a customer has any lock, every
// debit of every card of the customer declines AML_EXCEPTION.
//
// Where the lock is read. The customer id is known only once the card record has been read, so
// reading the customer "in the same pipeline" as the card would be a second, dependent round trip
// per batch. Instead each card record carries a denormalized "debits blocked" flag, and the
// authorization reads nothing but the card (one HGETALL). The flag is written here, after every
// lock change, to each card of the customer, guarded by a per-customer lock version so that two
// concurrent changes can never leave an older answer on a card:
//
//   customer:{<customerId>}         hash  kyc, lv (lock version, +1 per change), t (created ms),
//                                   p:<field> (wallet profile: firstName, lastName, phone, email, birthDate, state)
//   customer:{<customerId>}:locks   set of lock reasons
//   customer:{<customerId>}:cards   set of card ids (every card issued or seeded for the customer)
//
// KYC, unlike the locks, is read only when a balance or card is created (attachCard checks it in
// the same script that attaches the card), so a KYC change writes the customer hash and nothing
// else: no card carries it. REJECTED after SUCCESS stops new balances and cards; what exists keeps
// working until a transactional lock is set (docs/cards.md).
//
// The three keys share one hash tag, so each script below touches one slot. A card is created
// blocked and only then attached (stores/cards.ts), so a crash between the two steps fails closed;
// `sync()` repairs any card whose flag a crash left behind.
import { StoreKeys } from '../ledger/keys.js';
import type { Redis, Cluster } from 'ioredis';
import { defineSwitchScripts } from './lua.js';
import { AppError, type CodeOf } from '../errors/index.js';

export type KycStatus = 'SUCCESS' | 'PENDING' | 'REJECTED';
export const KYC_STATUSES: readonly KycStatus[] = ['SUCCESS', 'PENDING', 'REJECTED'];

/** The seed's lock reasons, spelled as the seed spells them (including NAGATIVE_VERIFICATION). */
export const TRANSACTIONAL_LOCK_REASONS = [
  'DOCUMENT_EXPIRED', 'FRAUD_SUSPECTED', 'SCREENING_DETECTED', 'TEMPORARY_LOCKED', 'PEKAO_LOCK',
  'ZEN_LOCK', 'PROSECUTOR_LOCK', 'FENIGE_LOCK', 'POLICE_LOCK', 'MANY_CARDS_LOCK',
  'NAGATIVE_VERIFICATION', 'PRADO_VERIFICATION',
] as const;
export type TransactionalLockReason = typeof TRANSACTIONAL_LOCK_REASONS[number];

/** A customer may hold at most this many cards; propagation of a lock touches each of them. */
export const MAX_CARDS_PER_CUSTOMER = 1000;

/** The codes a customer operation is refused with (rows of errors/table.ts). */
export type CustomerErrorCode = CodeOf<'customer'> | 'CUSTOMER_NOT_FOUND';

/** What the wallet call (POST /lifecycle/v1/wallet) stores about a person; validated by the API. */
export interface CustomerProfile {
  firstName: string;
  lastName: string;
  phone: string;
  email: string;
  /** YYYY-MM-DD */
  birthDate: string;
  state: string;
}
const PROFILE_FIELDS: readonly (keyof CustomerProfile)[] = ['firstName', 'lastName', 'phone', 'email', 'birthDate', 'state'];
const PROFILE_PREFIX = 'p:';

export interface Customer {
  id: string;
  kyc: KycStatus;
  locks: TransactionalLockReason[];
  /** True while any transactional lock is set: debits decline AML_EXCEPTION. */
  debitsBlocked: boolean;
  createdAtMs: number;
}

/**
 * A change of a customer's wallet (PUT /lifecycle/v1/wallet/{customerId}, the seed's "update KYC
 * status" for partners with their own KYC): any of the profile fields and the KYC status, written
 * in one step. KYC gates only new balances and cards; existing ones keep working (docs/cards.md).
 */
export interface CustomerUpdate {
  kyc?: KycStatus;
  profile?: Partial<CustomerProfile>;
}

/** A customer with the profile fields that are stored (all six for a wallet made by the API). */
export interface Wallet {
  customer: Customer;
  profile: Partial<CustomerProfile>;
}

/** The card side of lock propagation (implemented by CardStore). */
export interface CustomerBlockSink {
  /** Sets a card's flag unless the card already carries a newer lock version. */
  applyCustomerBlock(cardId: string, lockVersion: number, blocked: boolean): Promise<void>;
}

const CUSTOMER_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function customerKeys(customerId: string): { hash: string; locks: string; cards: string } {
  if (!CUSTOMER_ID.test(customerId)) throw new AppError('CUSTOMER_INVALID_ARGUMENT', 'customer id must be 1-64 characters of [A-Za-z0-9._-]');
  return StoreKeys.customer(customerId);
}

interface CustomerCommands {
  customerCreate(hash: string, kyc: string, createdMs: number, ...profile: string[]): Promise<number>;
  customerSetKyc(hash: string, kyc: string): Promise<number>;
  customerUpdate(hash: string, ...fieldValues: string[]): Promise<number | string[]>;
  customerChangeLock(hash: string, locks: string, cards: string, op: string, reason: string): Promise<(number | string)[]>;
  customerAttachCard(hash: string, locks: string, cards: string, cardId: string, requireKyc: string, maxCards: number): Promise<number[]>;
}

/** The scripts of stores/lua/customer-*.lua (KEYS, ARGV and returns in each file's header). */
function commands(redis: Redis | Cluster): CustomerCommands {
  defineSwitchScripts(redis, 'customer-');
  return redis as unknown as CustomerCommands;
}

/**
 * Adds a card to its customer's card set (slot of the customer) and returns the customer's lock
 * state at that moment, for the card's flag. With requireKyc the customer must exist with KYC SUCCESS.
 */
export async function attachCard(redis: Redis | Cluster, customerId: string, cardId: string, requireKyc: boolean): Promise<{ lockVersion: number; blocked: boolean }> {
  const k = customerKeys(customerId);
  const res = await commands(redis).customerAttachCard(k.hash, k.locks, k.cards, cardId, requireKyc ? '1' : '0', MAX_CARDS_PER_CUSTOMER);
  const first = Number(res[0]);
  if (first === -1) throw new AppError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
  if (first === -2) throw new AppError('KYC_REQUIRED', `customer ${customerId} has not passed KYC`);
  if (first === -3) throw new AppError('CUSTOMER_TOO_MANY_CARDS', `customer ${customerId} holds ${MAX_CARDS_PER_CUSTOMER} cards`);
  return { lockVersion: first, blocked: Number(res[1]) > 0 };
}

export class CustomerStore {
  private readonly cmd: CustomerCommands;

  constructor(private readonly redis: Redis | Cluster, private readonly cards: CustomerBlockSink) {
    this.cmd = commands(redis);
  }

  /** Ids of every card issued or seeded for the customer (one SMEMBERS; unordered). Throws CUSTOMER_INVALID_ARGUMENT for a malformed id. */
  cardIds(customerId: string): Promise<string[]> {
    return this.redis.smembers(customerKeys(customerId).cards);
  }

  /**
   * Creates a customer, with the wallet profile when given (stored with it in one step); the id
   * defaults to the next integer (SPEC §6 answers `{"id": <int>}`).
   */
  async create(input: { kyc: KycStatus; id?: string; nowMs?: number; profile?: CustomerProfile }): Promise<Customer> {
    checkKyc(input.kyc);
    const id = input.id ?? String(await this.redis.incr(StoreKeys.customerSequence()));
    const createdAtMs = input.nowMs ?? Date.now();
    const profile: string[] = [];
    if (input.profile !== undefined) for (const f of PROFILE_FIELDS) profile.push(PROFILE_PREFIX + f, input.profile[f]);
    const created = await this.cmd.customerCreate(customerKeys(id).hash, input.kyc, createdAtMs, ...profile);
    if (created !== 1) throw new AppError('CUSTOMER_EXISTS', `customer ${id} already exists`);
    return { id, kyc: input.kyc, locks: [], debitsBlocked: false, createdAtMs };
  }

  async get(customerId: string): Promise<Customer | null> {
    const k = customerKeys(customerId);
    const [h, locks] = await Promise.all([this.redis.hgetall(k.hash), this.redis.smembers(k.locks)]);
    if (h.kyc === undefined) return null;
    return {
      id: customerId, kyc: h.kyc as KycStatus, locks: (locks as TransactionalLockReason[]).sort(),
      debitsBlocked: locks.length > 0, createdAtMs: Number(h.t ?? 0),
    };
  }

  /** The wallet profile, or null for a customer created without one (or not at all). */
  async getProfile(customerId: string): Promise<CustomerProfile | null> {
    const v = await this.redis.hmget(customerKeys(customerId).hash, ...PROFILE_FIELDS.map((f) => PROFILE_PREFIX + f));
    if (v.some((x) => x === null)) return null;
    const out = {} as CustomerProfile;
    PROFILE_FIELDS.forEach((f, i) => { out[f] = v[i] as string; });
    return out;
  }

  /** The customer with whichever profile fields are stored, or null when there is no such customer. */
  async getWallet(customerId: string): Promise<Wallet | null> {
    const k = customerKeys(customerId);
    const [h, locks] = await Promise.all([this.redis.hgetall(k.hash), this.redis.smembers(k.locks)]);
    if (h.kyc === undefined) return null;
    return walletOf(customerId, h, locks);
  }

  /**
   * Writes the given profile fields and KYC status in one script and answers the customer after it.
   * Throws AppError CUSTOMER_NOT_FOUND, CUSTOMER_INVALID_KYC, or CUSTOMER_INVALID_ARGUMENT for
   * an empty change or a value that is not a string (the API validates formats before this).
   */
  async update(customerId: string, change: CustomerUpdate): Promise<Wallet> {
    const args: string[] = [];
    if (change.kyc !== undefined) { checkKyc(change.kyc); args.push('kyc', change.kyc); }
    for (const f of PROFILE_FIELDS) {
      const v = change.profile?.[f];
      if (v === undefined) continue;
      if (typeof v !== 'string') throw new AppError('CUSTOMER_INVALID_ARGUMENT', `${f} must be a string`);
      args.push(PROFILE_PREFIX + f, v);
    }
    if (args.length === 0) throw new AppError('CUSTOMER_INVALID_ARGUMENT', `an update needs at least one of kyc, ${PROFILE_FIELDS.join(', ')}`);
    const k = customerKeys(customerId);
    const res = await this.cmd.customerUpdate(k.hash, ...args);
    if (!Array.isArray(res)) throw new AppError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
    const h: Record<string, string> = {};
    for (let i = 0; i + 1 < res.length; i += 2) h[res[i] as string] = res[i + 1] as string;
    return walletOf(customerId, h, await this.redis.smembers(k.locks));
  }

  async setKyc(customerId: string, kyc: KycStatus): Promise<void> {
    checkKyc(kyc);
    const r = await this.cmd.customerSetKyc(customerKeys(customerId).hash, kyc);
    if (r !== 1) throw new AppError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
  }

  /** Idempotent: adding a reason already set changes nothing (and re-applies the flag to the cards). */
  async addLock(customerId: string, reason: string): Promise<Customer> {
    return this.changeLock(customerId, 'add', checkReason(reason));
  }

  /** Idempotent: removing a reason not set changes nothing. */
  async removeLock(customerId: string, reason: string): Promise<Customer> {
    return this.changeLock(customerId, 'remove', checkReason(reason));
  }

  /** Re-applies the customer's current lock state to every card (repair after a crash mid-propagation). */
  async sync(customerId: string): Promise<Customer> {
    return this.changeLock(customerId, 'read', '');
  }

  private async changeLock(customerId: string, op: 'add' | 'remove' | 'read', reason: string): Promise<Customer> {
    const k = customerKeys(customerId);
    const res = await this.cmd.customerChangeLock(k.hash, k.locks, k.cards, op, reason);
    const lockVersion = Number(res[0]);
    if (lockVersion === -1) throw new AppError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
    const blocked = Number(res[1]) > 0;
    // Issued in one tick, so auto-pipelining sends the card updates together.
    await Promise.all(res.slice(2).map((cardId) => this.cards.applyCustomerBlock(String(cardId), lockVersion, blocked)));
    const customer = await this.get(customerId);
    if (customer === null) throw new AppError('CUSTOMER_NOT_FOUND', `customer ${customerId} does not exist`);
    return customer;
  }
}

function walletOf(id: string, h: Record<string, string>, locks: string[]): Wallet {
  const profile: Partial<CustomerProfile> = {};
  for (const f of PROFILE_FIELDS) { const v = h[PROFILE_PREFIX + f]; if (v !== undefined) profile[f] = v; }
  const customer: Customer = {
    id, kyc: h.kyc as KycStatus, locks: (locks as TransactionalLockReason[]).sort(),
    debitsBlocked: locks.length > 0, createdAtMs: Number(h.t ?? 0),
  };
  return { customer, profile };
}

function checkKyc(kyc: string): void {
  if (!(KYC_STATUSES as readonly string[]).includes(kyc)) throw new AppError('CUSTOMER_INVALID_KYC', `kyc must be one of ${KYC_STATUSES.join(', ')}`);
}

function checkReason(reason: string): TransactionalLockReason {
  if (!(TRANSACTIONAL_LOCK_REASONS as readonly string[]).includes(reason)) {
    throw new AppError('CUSTOMER_INVALID_LOCK_REASON', `lock reason must be one of ${TRANSACTIONAL_LOCK_REASONS.join(', ')}`);
  }
  return reason as TransactionalLockReason;
}

// The demo's customers, balances and cards, all made through the management API, and the keeper
// that holds them funded while the workload runs: a funded card whose available balance falls low
// (field 54 of an approval says so) or that is declined 51 is topped up through the API, and the
// program's DEPOSIT and CREDIT partner balances are reloaded before they could decline anything.
// Without this the answers drift to all-51 within minutes, as they did with the old `npm run sim`.
// The physical cards get a PIN through the API (an encrypted request), and the card keys the
// traffic plays the cards with are found here (cardKeys), checked against what the API says.
import { randomInt } from 'node:crypto';
import { maskPan } from '../../iso/mask.js';
import { CardDataBuilder, type CardRef } from '../../cardauth/card-data.js';
import { ApiError, DEMO_CONFIG_ID, type ManagementApi, type ProvisionedCard } from '../lib/management-api.js';
import { PARTNER_CONFIG_ID } from './target.js';

/**
 * What a card is for. funded: everyday traffic (and the expired-card, invalid-amount and
 * unknown-processing-code declines, which any card gets); poor: 51; locked: 59; aml: 62 (its
 * customer has a transactional lock); limited: 61 (a per-transaction limit through the API);
 * controlled: 57 (a card control blocks a merchant category); partial: a card holding a little,
 * for partial approvals (10); attack: a physical card with a PIN that the attacks (a wrong CVV2, a
 * replayed ATC, a wrong PIN) are played on, each followed by the right datum.
 */
export type Role = 'funded' | 'poor' | 'locked' | 'aml' | 'limited' | 'controlled' | 'partial' | 'attack';

export interface DemoCard extends ProvisionedCard {
  role: Role;
  configId: string;
  physical: boolean;
  /** The PIN set through the API at start (physical cards); in memory only, never printed. */
  pin: string | null;
  /** ATC of the card's next chip read: a real chip counts it up with every cryptogram. */
  nextAtc: number;
  /** A chip read of the card is in flight: the next waits, so that ATCs reach the switch in order (a swipe goes instead). */
  chipInFlight: boolean;
  /** The card data and amount of the card's last answered chip read (a replay sends them again). */
  lastChip: { fields: Record<number, string>; amountMinor: number } | null;
  /** A message of a card that takes one at a time (the attack and partial cards) is in flight. */
  busy: boolean;
  /** The attack card's last attack that the right datum has not yet followed (so no count ever reaches a lock). */
  owed: 'cvv2' | 'pin' | null;
  /** How it was made, for the listing: "virtual", "physical, activated", "partner program". */
  kind: string;
  /** Last available balance an answer's field 54 showed; null before the first. */
  availableMinor: number | null;
  topUpInFlight: boolean;
  lastTopUpMs: number;
  /** Its money is held by the partner (EXTERNAL_BALANCE): funded there, not topped up through the API. */
  external: boolean;
}

/** Money a funded card starts with and gets at each top-up: 5,000.00 EUR. */
export const TOP_UP_MINOR = 500_000;
/** A funded card below this (1,000.00 EUR) is topped up. */
const LOW_WATER_MINOR = 100_000;
/** Answers still in flight show the balance from before a top-up: none again for this long. */
const TOP_UP_QUIET_MS = 3_000;
/** The per-transaction limit of the limited card: 50.00 EUR. */
export const LIMIT_PER_TRANSACTION_MINOR = 5_000;
/** What the partial-approval card holds before each partial approval, and is topped up with after it: 20.00 EUR. */
export const PARTIAL_FLOAT_MINOR = 2_000;
/** The merchant category the controlled card's control blocks (gambling). */
export const BLOCKED_MCC = '7995';
/** Partner balances are kept at least this full (10,000,000.00 EUR), checked every PARTNER_CHECK_MS. */
const PARTNER_TARGET_MINOR = 1_000_000_000;
const PARTNER_CHECK_MS = 10_000;

export interface Fleet {
  cards: DemoCard[];
  customers: number;
  balances: number;
  partnerBalances: string[];
  /** One line per note: a skipped partner program, and so on. */
  notes: string[];
}

export class FundingKeeper {
  topUps = 0;
  partnerReloads = 0;
  /** The last management API failure while keeping funds, for the screen. */
  lastError: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly api: ManagementApi, private readonly fleet: Fleet) {}

  start(): void {
    this.timer = setInterval(() => { void this.checkPartnerBalances(); }, PARTNER_CHECK_MS);
    this.timer.unref();
  }

  stop(): void { if (this.timer) clearInterval(this.timer); this.timer = null; }

  /** An answer showed `availableMinor` on the card (field 54). */
  observe(card: DemoCard, availableMinor: number): void {
    card.availableMinor = availableMinor;
    if (availableMinor < (card.role === 'partial' ? PARTIAL_FLOAT_MINOR : LOW_WATER_MINOR)) this.topUp(card);
  }

  /** A funded card was declined for want of money. */
  insufficient(card: DemoCard): void { this.topUp(card); }

  /** Tops the card up (5,000.00 EUR; the partial-approval card 20.00) unless it is not the kind kept funded, or was topped up a moment ago. */
  topUp(card: DemoCard): void {
    if (!KEPT_FUNDED.has(card.role) || card.external) return;
    if (card.topUpInFlight || Date.now() - card.lastTopUpMs < TOP_UP_QUIET_MS) return;
    card.topUpInFlight = true;
    const amount = card.role === 'partial' ? PARTIAL_FLOAT_MINOR : TOP_UP_MINOR;
    this.api.topUp(card.customerId, card.balanceId, amount, 'demo top-up').then(() => {
      this.topUps++;
      card.lastTopUpMs = Date.now();
      if (card.availableMinor !== null) card.availableMinor += amount;
    }, (e: unknown) => { this.lastError = (e as Error).message; }).finally(() => { card.topUpInFlight = false; });
  }

  async checkPartnerBalances(): Promise<void> {
    for (const id of this.fleet.partnerBalances) {
      try {
        if (await refill(this.api, id)) this.partnerReloads++;
      } catch (e) {
        this.lastError = (e as Error).message;
      }
    }
  }
}

/** Roles whose card is topped up through the API when it runs low. */
const KEPT_FUNDED: ReadonlySet<Role> = new Set<Role>(['funded', 'limited', 'partial', 'attack']);

/** Reloads a partner balance up to PARTNER_TARGET_MINOR when it is below half of it. */
async function refill(api: ManagementApi, id: string): Promise<boolean> {
  const available = await api.partnerAvailable(id);
  if (available >= PARTNER_TARGET_MINOR / 2) return false;
  await api.reloadPartnerBalance(id, PARTNER_TARGET_MINOR - available);
  return true;
}

/** Everything the demo needs, through the API. `log` gets one line per step worth telling. */
export interface FleetOptions {
  cards: number;
  /** Funds a balance at the partner simulator; null: no partner program. */
  fundAtPartner: ((customerId: string, balanceId: string, amountMinor: number) => void) | null;
}

export async function provisionFleet(api: ManagementApi, o: FleetOptions, log: (line: string) => void): Promise<Fleet> {
  const fleet: Fleet = { cards: [], customers: 0, balances: 0, partnerBalances: [], notes: [] };
  for (const type of ['DEPOSIT', 'CREDIT'] as const) {
    const id = await api.ensurePartnerBalance(type);
    await refill(api, id);
    fleet.partnerBalances.push(id);
  }
  log(`partner balances of the demo program ${DEMO_CONFIG_ID}: ${fleet.partnerBalances.join(', ')} (reloaded to at least ${major(PARTNER_TARGET_MINOR)} EUR)`);
  const add = async (role: Role, label: string, topUpMinor: number, kind: 'virtual' | 'physical' = 'virtual', configId = DEMO_CONFIG_ID): Promise<DemoCard> => {
    const customerId = await api.newCustomer('Demo', label);
    const balanceId = await api.newBalance(customerId, configId);
    fleet.customers++;
    fleet.balances++;
    if (topUpMinor > 0) await api.topUp(customerId, balanceId, topUpMinor, 'demo opening balance');
    const c = await api.issueCard(customerId, balanceId, kind);
    const card: DemoCard = {
      ...c, role, configId, physical: kind === 'physical', pin: null, nextAtc: 1, chipInFlight: false, lastChip: null, busy: false, owed: null,
      kind, availableMinor: topUpMinor, topUpInFlight: false, lastTopUpMs: 0, external: configId !== DEMO_CONFIG_ID,
    };
    fleet.cards.push(card);
    if (kind === 'physical') await activateWithPin(api, card);
    return card;
  };
  for (let i = 0; i < o.cards; i++) await add('funded', `funded-${i + 1}`, TOP_UP_MINOR);
  for (let i = 0; i < PHYSICAL_CARDS; i++) await add('funded', `physical-${i + 1}`, TOP_UP_MINOR, 'physical');
  await add('poor', 'poor', 100);
  const locked = await add('locked', 'locked', TOP_UP_MINOR);
  await api.lock(locked, 7);
  locked.kind = 'virtual, locked 7 (suspected fraud)';
  const aml = await add('aml', 'aml', TOP_UP_MINOR);
  await api.addTransactionalLock(aml.customerId, 'FRAUD_SUSPECTED');
  aml.kind = 'virtual, customer transactional lock FRAUD_SUSPECTED';
  const limited = await add('limited', 'limited', TOP_UP_MINOR);
  await api.setLimits(limited, { perTransaction: LIMIT_PER_TRANSACTION_MINOR });
  limited.kind = `virtual, per-transaction limit ${major(LIMIT_PER_TRANSACTION_MINOR)} EUR`;
  const controlled = await add('controlled', 'controlled', TOP_UP_MINOR);
  await api.setControls(controlled, [{ id: 'no-gambling', mode: 'ENFORCED', type: 'MCC_BLOCK', values: [BLOCKED_MCC] }]);
  controlled.kind = `virtual, card control MCC_BLOCK ${BLOCKED_MCC}`;
  const partial = await add('partial', 'partial', PARTIAL_FLOAT_MINOR);
  partial.kind = `virtual, ${major(PARTIAL_FLOAT_MINOR)} EUR topped up after each partial approval`;
  const attack = await add('attack', 'attack', TOP_UP_MINOR, 'physical');
  attack.kind += ', the attacks\' target';
  fleet.cards.find((c) => c.role === 'poor')!.kind = 'virtual, 1.00 EUR';
  if (o.fundAtPartner !== null) await addPartnerCard(api, fleet, add, o.fundAtPartner);
  for (const c of fleet.cards) log(`card ${c.cardId} ${maskPan(c.pan)} ${c.kind}`);
  return fleet;
}

/**
 * A card in the EXTERNAL_BALANCE program. Partner modes are being wired into the switch: while it
 * answers 501 (or refuses such a balance otherwise) the program is skipped with a note.
 */
async function addPartnerCard(
  api: ManagementApi, fleet: Fleet, add: (role: Role, label: string, topUpMinor: number, kind: 'virtual', configId: string) => Promise<DemoCard>,
  fundAtPartner: NonNullable<FleetOptions['fundAtPartner']>,
): Promise<void> {
  try {
    fleet.partnerBalances.push(await api.ensurePartnerBalance('DEPOSIT', PARTNER_CONFIG_ID));
    await refill(api, fleet.partnerBalances.at(-1) as string);
    const card = await add('funded', 'partner', 0, 'virtual', PARTNER_CONFIG_ID);
    fundAtPartner(card.customerId, card.balanceId, PARTNER_TARGET_MINOR);
    card.kind = `virtual, program ${PARTNER_CONFIG_ID} (EXTERNAL_BALANCE, funded at the partner simulator)`;
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    fleet.notes.push(`partner program ${PARTNER_CONFIG_ID} skipped: the switch refused it (${e.message})`);
  }
}

/** Physical funded cards (activated, with a PIN): swipes, chip reads, ATM withdrawals. */
const PHYSICAL_CARDS = 2;

/** Activates a physical card and sets a random 4-digit PIN on it through the API (an encrypted request). */
async function activateWithPin(api: ManagementApi, card: DemoCard): Promise<void> {
  await api.activate(card);
  const pin = String(randomInt(0, 10_000)).padStart(4, '0');
  await api.setPin(card, pin);
  card.pin = pin;
  card.kind = 'physical, activated, PIN set';
}

/** What the demo plays the cards with: the card keys, or none (then only what the API gave: the CVV2s). */
export interface CardKeys {
  /** Card data builder on the switch's key set; null when it is not at hand or not this switch's. */
  builder: CardDataBuilder | null;
  /** One line saying which, for the start of the run. */
  note: string;
}

/**
 * The card key file (KEYS_FILE, else the development key set var/keys.json the switch writes at
 * first start), checked against this switch: the CVV2 it gives one of the demo's cards must be the
 * one the card data API gave. A file that is missing, or another switch's, leaves swipes, chip
 * reads and PIN blocks out (the demo program verifies what is present and requires nothing).
 */
export function cardKeys(fleet: Fleet, keyFile: string): CardKeys {
  const probe = fleet.cards.find((c) => c.configId === DEMO_CONFIG_ID && c.cvv2 !== undefined);
  let builder: CardDataBuilder;
  try {
    builder = CardDataBuilder.fromFile(keyFile);
  } catch (e) {
    return { builder: null, note: `card data: ${(e as Error).message.split('\n')[0]}; e-commerce payments carry the CVV2s the API gave, swipes, chip reads and PIN blocks are left out` };
  }
  if (!builder.has(DEMO_CONFIG_ID) || (probe !== undefined && builder.cvv2(cardRef(probe)) !== probe.cvv2)) {
    return { builder: null, note: `card data: the key file ${keyFile} is not this switch's (a card's CVV2 differs); e-commerce payments carry the CVV2s the API gave, swipes, chip reads and PIN blocks are left out` };
  }
  return { builder, note: `card data: CVV2s, tracks, ARQCs and PIN blocks made with the card keys of ${keyFile}` };
}

/** What the card-data builder needs of a card. */
export function cardRef(c: DemoCard): CardRef {
  return { configId: c.configId, pan: c.pan, expiry: c.expiry };
}

/** Minor units of EUR as "1,234.56". */
export function major(minor: number): string {
  return (minor / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// One run of the scheme simulator: provision cards through the management API, open the links,
// run the scripted scenarios and/or the seeded random mix, check every card's balance through the
// API against the model, and return the tallies. main.ts is the command line around it; the
// test calls it in-process against a test switch.
import { randomInt } from 'node:crypto';
import { DIALECT_1987, DIALECT_2003 } from '../../iso/dialect.js';
import { IsoLink, type LinkTls } from '../../iso/link.js';
import { Engine, type Mismatch, type ModelCard } from './engine.js';
import { Script, StanCounter } from './model.js';
import { ManagementApi } from '../lib/management-api.js';
import { drawIntents, runMix } from './mix.js';
import { TOP_UP, type Scenario } from './scenarios.js';
import { CardDataBuilder, toolKeyFile } from '../../cardauth/card-data.js';

export interface SchemeOptions {
  isoHost: string;
  isoPort: number;
  httpUrl: string;
  tls: LinkTls | null;
  dialect: '1987' | '2003';
  connections: number;
  /** Scripted scenarios to run (empty: none). */
  scenarios: Scenario[];
  /** Random mix: number of messages (0: none), seed, rate, cards. */
  count: number;
  seed: number;
  ratePerSecond: number;
  cards: number;
  /**
   * The card key file the card-data scenarios play the card and the acquirer with (undefined:
   * KEYS_FILE, else the development key set ./var/keys.json the switch writes at first start).
   */
  keysFile?: string;
}

export interface SchemeSummary {
  counts: Map<string, number>;
  mismatches: Mismatch[];
  cardsChecked: number;
  partnerBalancesFunded: string[];
}

/** Money each random-mix card starts with. */
const MIX_TOP_UP_MINOR = 50_000;

export async function runScheme(o: SchemeOptions): Promise<SchemeSummary> {
  const api = new ManagementApi(o.httpUrl.replace(/\/$/, ''));
  const funded = await api.fundPartnerBalancesIfPresent(100_000_000);
  const links: IsoLink[] = [];
  for (let i = 0; i < o.connections; i++) links.push(await IsoLink.open({ host: o.isoHost, port: o.isoPort, tls: o.tls }));
  const engine = new Engine(links, o.dialect === '2003' ? DIALECT_2003 : DIALECT_1987);
  const stans = new StanCounter(randomInt(1, 800_000), String(randomInt(100_000, 999_999)));
  const cards: ModelCard[] = [];
  const newCard = async (label: string, topUpMinor: number, kind: 'virtual' | 'physical' = 'virtual'): Promise<ModelCard> => {
    const c: ModelCard = { ...(await api.newCard(label, topUpMinor, undefined, kind)), label, availableMinor: topUpMinor, blockedMinor: 0, lock: 0 };
    cards.push(c);
    return c;
  };
  let builder: CardDataBuilder | null = null;
  const cardData = (): CardDataBuilder => (builder ??= CardDataBuilder.fromFile(o.keysFile ?? toolKeyFile()));
  try {
    await Promise.all(o.scenarios.map(async (s, i) => {
      const x = new Script(engine, s.name, i, stans);
      try {
        await s.run({
          x, card: (label, topUp = TOP_UP, kind = 'virtual') => newCard(label === s.name ? label : `${s.name}-${label}`, topUp, kind),
          cardData, setPin: (c, pin) => api.setPin(c, pin),
          lock: async (c, reason) => { await api.lock(c, reason); c.lock = reason; },
          unlock: async (c) => { await api.unlock(c); c.lock = 0; },
          setControls: (c, controls) => api.setControls(c, controls),
          record: async (c, rrn) => (await api.transactions(c.cardId)).find((r) => (r.transactionData as { retrievalReferenceNumber?: string } | undefined)?.retrievalReferenceNumber === rrn) ?? null,
        });
      } catch (e) {
        engine.fail(s.name, '(scenario)', 'to run to its end', (e as Error).message, 'a scenario stops only on an error');
      }
    }));
    if (o.count > 0) {
      const mixCards: ModelCard[] = [];
      for (let i = 0; i < o.cards; i++) mixCards.push(await newCard(`mix-${i}`, MIX_TOP_UP_MINOR));
      await runMix(drawIntents(o.seed, o.count, o.cards), mixCards, (linkNo) => new Script(engine, 'random mix', linkNo, stans), o.connections, o.ratePerSecond);
    }
    await checkBalances(api, engine, cards);
  } finally {
    engine.close();
  }
  return { counts: engine.counts, mismatches: engine.mismatches, cardsChecked: cards.length, partnerBalancesFunded: funded };
}

/** Every card's balance through the API against the model. */
async function checkBalances(api: ManagementApi, engine: Engine, cards: ModelCard[]): Promise<void> {
  for (const c of cards) {
    const b = await api.balance(c);
    if (b.available !== c.availableMinor || b.blocked !== c.blockedMinor) {
      engine.fail(c.label, `balance of card ${c.label}`, `available ${c.availableMinor}, blocked ${c.blockedMinor}`, `available ${b.available}, blocked ${b.blocked}`, 'the model applied every expected effect');
    }
  }
}

/** The summary as printed: counts by request MTI, answer MTI, field 39 and reason, then each mismatch. */
export function formatSummary(s: SchemeSummary): string {
  const lines = ['answers (request → answer, field 39, reason):'];
  const total = [...s.counts.values()].reduce((a, b) => a + b, 0);
  for (const [key, n] of [...s.counts].sort((a, b) => a[0].localeCompare(b[0]))) lines.push(`  ${String(n).padStart(6)}  ${key}`);
  lines.push(`  ${String(total).padStart(6)}  in all`);
  lines.push(`balances checked through the management API: ${s.cardsChecked} cards`);
  lines.push(`mismatches: ${s.mismatches.length}`);
  for (const m of s.mismatches) lines.push(`  [${m.scenario}] ${m.request}: expected ${m.expected}, got ${m.got} — ${m.why}`);
  return lines.join('\n');
}

// The one-message tool's memory between runs (var/iso/state.json): the next STAN and the last
// answers, so that `reverse` and `clear` can build field 90 from a previous exchange. It never
// holds a full PAN: only what field 90 and the follow-up message need, and the PAN masked, so a
// follow-up asks for --pan again and checks it against the mask; and, per card id, the ATC of the
// card's next chip read (--chip).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomInt } from 'node:crypto';

/** One exchange as remembered: the request's identity and what a follow-up copies from it. */
export interface SavedExchange {
  /** Request MTI (0100, 0200, ...). */
  mti: string;
  stan: string;
  /** Field 7 of the request. */
  f7: string;
  /** Field 32 as sent ('' when absent). */
  acquirer: string;
  maskedPan: string;
  /** Field 3, 4 (minor units, '' when absent), 49, 37, 41 and the answer's 38 and 39. */
  proc: string;
  amount: string;
  currency: string;
  rrn: string;
  terminal: string;
  authId: string;
  responseCode: string;
  /** ISO time the answer arrived. */
  at: string;
}

interface StateFile {
  nextStan: number;
  exchanges: SavedExchange[];
  /** Card id → the ATC of the card's next chip read (--chip): a real chip counts it up with every cryptogram. */
  atc?: Record<string, number>;
}

/** How many exchanges the file keeps, newest last. */
const KEPT_EXCHANGES_MAX = 20;
/** How many cards' ATCs the file keeps; the oldest is forgotten past it. */
const KEPT_ATCS_MAX = 100;
/** The highest ATC (9F36 is two bytes). */
export const ATC_MAX = 65_535;

export class ToolState {
  private constructor(private readonly path: string, private readonly data: StateFile) {}

  /** Reads `dir/state.json`; a missing or unreadable file starts afresh with a random STAN. */
  static load(dir: string): ToolState {
    const path = join(dir, 'state.json');
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<StateFile>;
      if (typeof parsed.nextStan === 'number' && Array.isArray(parsed.exchanges)) return new ToolState(path, parsed as StateFile);
    } catch { /* a fresh state below */ }
    return new ToolState(path, { nextStan: randomInt(1, 999_999), exchanges: [] });
  }

  /** The next STAN (6 digits, 000001-999999, wrapping), counted on from the previous run. */
  takeStan(): string {
    const stan = this.data.nextStan;
    this.data.nextStan = stan >= 999_999 ? 1 : stan + 1;
    return String(stan).padStart(6, '0');
  }

  /** The newest approved exchange (field 39 00 / 0000) whose request MTI is one of `mtis`. */
  latest(mtis: readonly string[]): SavedExchange | undefined {
    for (let i = this.data.exchanges.length - 1; i >= 0; i--) {
      const e = this.data.exchanges[i] as SavedExchange;
      if (mtis.includes(e.mti) && (e.responseCode === '00' || e.responseCode === '0000')) return e;
    }
    return undefined;
  }

  /**
   * The ATC of the card's next chip read: `given` (--atc, e.g. one used before, to show a replay),
   * else one above the highest this tool used for the card (1 at first). Null past ATC_MAX.
   */
  takeAtc(cardId: string, given?: number): number | null {
    const atcs = (this.data.atc ??= {});
    const stored = atcs[cardId] ?? 1;
    const atc = given ?? stored;
    if (atc > ATC_MAX) return null;
    // Inserted again, last: the cards used most recently are the ones kept.
    delete atcs[cardId];
    atcs[cardId] = Math.max(stored, atc + 1);
    const ids = Object.keys(atcs);
    for (const id of ids.slice(0, Math.max(0, ids.length - KEPT_ATCS_MAX))) delete atcs[id];
    return atc;
  }

  remember(e: SavedExchange): void {
    this.data.exchanges.push(e);
    this.data.exchanges.splice(0, Math.max(0, this.data.exchanges.length - KEPT_EXCHANGES_MAX));
  }

  /** Writes the file atomically (temporary file, then rename), creating the directory. */
  save(): void {
    mkdirSync(join(this.path, '..'), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.path);
  }
}

// 0100 frames for the switch benchmark, packed before a run. Each card's message is packed once by
// IsoCodec as a template; a request is a copy of its card's template with its own STAN (field 11),
// acquirer (field 32) and retrieval reference (field 37) written into the digits, so every request
// of a benchmark run is distinct to the switch's duplicate check (PAN, STAN, field 7, acquirer,
// terminal) and its STAN is unique among the requests in flight.
import { frame } from '../switch/net/framer.js';
import { IsoCodec } from '../iso/codec.js';
import { DIALECT_1987 } from '../iso/dialect.js';
import { luhnCheckDigit } from '../stores/cards.js';
import { FieldScanner, STAN_LIMIT, writeDigits, type RequestPlan } from './loadgen.js';
import { cardFieldsForCodec, type CardDataBuilder } from '../cardauth/card-data.js';

/** A benchmark card's PAN: BIN 555770 (the demo program), the index in 9 digits, a Luhn digit. */
export function benchPan(i: number): string {
  const body = '555770' + String(i).padStart(9, '0');
  return body + luhnCheckDigit(body);
}

interface Template { frame: Buffer; stanAt: number; acquirerAt: number; rrnAt: number }

/** What a benchmark run's requests come from: `count` requests, request i to card (first + i) mod cards. */
export interface RequestSource {
  plan(count: number, first?: number): RequestPlan;
}

/**
 * Builds request plans over a fixed set of PANs. The sequence number runs across every plan of
 * one factory (one benchmark run): the STAN is seq mod 999,999 + 1, the acquirer id 100000 plus
 * seq div 999,999, the retrieval reference seq itself.
 */
export class RequestFactory implements RequestSource {
  private readonly templates: Template[];
  private seq = 0;

  constructor(pans: readonly string[], amountMinor = 100) {
    const codec = new IsoCodec(DIALECT_1987);
    const scanner = new FieldScanner(DIALECT_1987);
    const f7 = transmissionTime(new Date());
    this.templates = pans.map((pan) => {
      const body = codec.pack({
        mti: '0100',
        fields: new Map<number, string>([
          [2, pan], [3, '000000'], [4, String(amountMinor).padStart(12, '0')], [7, f7], [11, '000000'], [12, '101500'],
          [13, f7.slice(0, 4)], [14, '3012'], [18, '5411'], [22, '051'], [32, '100000'], [37, '000000000000'],
          [41, 'TERM0001'], [42, 'MERCHANT0000001'], [49, '978'],
        ]),
      });
      const framed = frame(body);
      // Offsets inside the framed buffer: the body starts after the 2-byte length.
      return { frame: framed, stanAt: 2 + scanner.find(body, 11), acquirerAt: 2 + scanner.find(body, 32), rrnAt: 2 + scanner.find(body, 37) };
    });
  }

  /** `count` requests; request i of the plan goes to card (first + i) mod cards. */
  plan(count: number, first = 0): RequestPlan {
    const frames: Buffer[] = new Array(count);
    const stans = new Uint32Array(count);
    const cards = this.templates.length;
    for (let i = 0; i < count; i++) {
      const t = this.templates[(first + i) % cards]!;
      const seq = this.seq++;
      const stan = (seq % (STAN_LIMIT - 1)) + 1;
      const f = Buffer.allocUnsafe(t.frame.length);
      t.frame.copy(f);
      writeDigits(f, t.stanAt, 6, stan);
      writeDigits(f, t.acquirerAt, 6, 100000 + Math.floor(seq / (STAN_LIMIT - 1)));
      writeDigits(f, t.rrnAt, 12, seq);
      frames[i] = f;
      stans[i] = stan;
    }
    return { frames, stans };
  }
}

/**
 * Chip reads (entry mode 05): each 0100 carries field 23, the iCVV track-2 equivalent (field 35)
 * and field 55 with an ARQC the card computes for it (cardauth/card-data.ts, from the program's
 * IMK), with the card's application transaction counter counted up per message, as a card does
 * (a counter the switch has seen is refused as a replay). Every frame is packed on its own
 * before the run (a cryptogram covers the amount and the counter), so the generator's cost stays
 * out of the measured time. At most 65,535 messages per card (the counter's range).
 */
export class ChipRequestFactory implements RequestSource {
  private readonly codec = new IsoCodec(DIALECT_1987);
  private readonly atc: Uint16Array;
  private readonly f7 = transmissionTime(new Date());
  private seq = 0;

  constructor(private readonly pans: readonly string[], private readonly cards: CardDataBuilder, private readonly configId: string, private readonly amountMinor = 100) {
    this.atc = new Uint16Array(pans.length);
  }

  plan(count: number, first = 0): RequestPlan {
    const frames: Buffer[] = new Array(count);
    const stans = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      const card = (first + i) % this.pans.length;
      const pan = this.pans[card]!;
      const atc = ++this.atc[card]!;
      if (atc === 0) throw new Error('chip benchmark: more than 65,535 messages for one card');
      const seq = this.seq++;
      const stan = (seq % (STAN_LIMIT - 1)) + 1;
      const acquirer = String(100000 + Math.floor(seq / (STAN_LIMIT - 1)));
      const chip = this.cards.chipRead({ configId: this.configId, pan, expiry: '3012' }, { atc, amountMinor: this.amountMinor, currencyN3: '978' }, { acquirer });
      const fields = new Map<number, string | Buffer>([
        [2, pan], [3, '000000'], [4, String(this.amountMinor).padStart(12, '0')], [7, this.f7], [11, String(stan).padStart(6, '0')], [12, '101500'],
        [13, this.f7.slice(0, 4)], [14, '3012'], [18, '5411'], [32, acquirer], [37, String(seq).padStart(12, '0')],
        [41, 'TERM0001'], [42, 'MERCHANT0000001'], [49, '978'], ...cardFieldsForCodec(chip),
      ]);
      frames[i] = frame(this.codec.pack({ mti: '0100', fields }));
      stans[i] = stan;
    }
    return { frames, stans };
  }
}

function transmissionTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return p(d.getUTCMonth() + 1) + p(d.getUTCDate()) + p(d.getUTCHours()) + p(d.getUTCMinutes()) + p(d.getUTCSeconds());
}

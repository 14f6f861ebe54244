// What an acquirer (or a processor acting for one) puts in a request: field 7's UTC time, the
// terminal's local time (12, 13), field 43's layout, the fields that name an original (90, 95),
// and the reasons a field 39 stands for. Shared by the sandbox of the management API (api/sandbox.ts)
// and the processor-side tools and simulators (simulators/), which build messages the same way.
import { REASONS, type Reason } from './reasons.js';

const p2 = (n: number): string => String(n).padStart(2, '0');

/** Field 7, transmission date and time in UTC: MMDDhhmmss. */
export function transmissionTime(d: Date): string {
  return p2(d.getUTCMonth() + 1) + p2(d.getUTCDate()) + p2(d.getUTCHours()) + p2(d.getUTCMinutes()) + p2(d.getUTCSeconds());
}

/** Fields 12 (hhmmss) and 13 (MMDD), the terminal's local time; the machine's time zone stands in for it. */
export function localTime(d: Date): { 12: string; 13: string } {
  return { 12: p2(d.getHours()) + p2(d.getMinutes()) + p2(d.getSeconds()), 13: p2(d.getMonth() + 1) + p2(d.getDate()) };
}

/** Field 43 in the documented layout (docs/wire-format.md): name in positions 1-22, city 24-36, country alpha-3 38-40. */
export function merchantNameLocation(name: string, city: string, country: string): string {
  return name.slice(0, 22).padEnd(23) + city.slice(0, 13).padEnd(14) + country.slice(0, 3).padEnd(3);
}

/** What field 90 needs of an original: MTI, STAN, field 7, acquirer (field 32). */
export interface OriginalRef { mti: string; stan: string; f7: string; acquirer: string }

/** Field 90: original MTI n4, STAN n6, field 7 n10, acquirer n11, forwarding institution n11 (zeros). */
export function originalDataElements(o: OriginalRef): string {
  return o.mti + o.stan + o.f7 + o.acquirer.padStart(11, '0') + '0'.repeat(11);
}

/** Field 95 of a partial reversal: positions 1-12 the new final amount, the rest zeros. */
export function replacementAmounts(finalMinor: number): string {
  return String(finalMinor).padStart(12, '0') + '0'.repeat(30);
}

/** Every reason of iso/reasons.ts that field 39 `code` stands for in the dialect (several share 05). */
export function reasonsFor(code: string, dialect: '1987' | '2003'): Reason[] {
  return (Object.keys(REASONS) as Reason[]).filter((r) => (dialect === '2003' ? REASONS[r].iso2003 : REASONS[r].iso1987) === code);
}

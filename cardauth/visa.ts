// The Visa card verification methods: CVV (and its CVV2 / iCVV variants) and the PIN
// verification value (PVV). Both take a double-length key pair (A ‖ B) and end by decimalising a
// cipher block: its hexadecimal digits 0-9 in order, then its digits A-F as 0-5, first n kept.
//
// CVV (Visa, also payShield CW/CY): the PAN, the expiry YYMM and the service code, right-padded
// with zeros to 32 digits, are two 8-byte blocks B1 B2; C = DES_A(B1) XOR B2; R = 3DES_AB(C);
// the CVV is the first three digits of R decimalised. CVV2 uses service code 000, iCVV 999.
//
// PVV (Visa PIN verification value, payShield DG/FW/EC): the transformed security parameter is the
// 11 rightmost PAN digits before the check digit, the PVKI (one digit) and the PIN's first four
// digits: 16 digits, one block, encrypted with 3DES under the PVK pair; the PVV is its first four
// digits decimalised.
import { single, TdesKey, xor } from './des.js';

/** The CVK pair of a program with the ciphers its CVV computation needs (created once). */
export class CvvKey {
  private readonly a: TdesKey;
  private readonly ab: TdesKey;

  /** `cvk`: 16 bytes, CVK A ‖ CVK B. */
  constructor(cvk: Buffer) {
    this.a = new TdesKey(single(cvk.subarray(0, 8)));
    this.ab = new TdesKey(cvk);
  }

  /**
   * The Visa CVV of (PAN, expiry YYMM, service code): three digits. PAN 12-19 digits, expiry 4,
   * service code 3 (000 for CVV2, 999 for iCVV). Throws RangeError on malformed input.
   */
  cvv(pan: string, expiryYymm: string, serviceCode: string): string {
    if (!/^\d{12,19}$/.test(pan) || !/^\d{4}$/.test(expiryYymm) || !/^\d{3}$/.test(serviceCode)) {
      throw new RangeError('CVV input: PAN 12-19 digits, expiry 4 digits, service code 3 digits');
    }
    const digits = (pan + expiryYymm + serviceCode).padEnd(32, '0');
    const b1 = Buffer.from(digits.slice(0, 16), 'hex');
    const b2 = Buffer.from(digits.slice(16, 32), 'hex');
    const r = this.ab.encrypt(xor(this.a.encrypt(b1), b2));
    return decimalise(r, 3);
  }
}

/** The PVK pair of a program (created once). */
export class PvvKey {
  private readonly ab: TdesKey;

  /** `pvk`: 16 bytes, PVK A ‖ PVK B. */
  constructor(pvk: Buffer) {
    this.ab = new TdesKey(pvk);
  }

  /**
   * The Visa PVV of a PIN for a PAN under the PVK index `pvki` (one digit): four digits. Only
   * the PIN's first four digits take part (the Visa method). Throws RangeError on malformed input.
   */
  pvv(pan: string, pvki: string, pin: string): string {
    if (!/^\d{12,19}$/.test(pan) || !/^\d$/.test(pvki) || !/^\d{4,12}$/.test(pin)) {
      throw new RangeError('PVV input: PAN 12-19 digits, PVKI one digit, PIN 4-12 digits');
    }
    const tsp = pan.slice(-12, -1) + pvki + pin.slice(0, 4);
    return decimalise(this.ab.encrypt(Buffer.from(tsp, 'hex')), 4);
  }
}

/**
 * The first `n` decimal digits of a block: its hex digits 0-9 left to right, then (if fewer than
 * `n`) its hex digits A-F left to right, each minus 10.
 */
export function decimalise(block: Buffer, n: number): string {
  let out = '';
  for (let i = 0; i < block.length * 2 && out.length < n; i++) {
    const d = nibble(block, i);
    if (d < 10) out += String.fromCharCode(48 + d);
  }
  for (let i = 0; i < block.length * 2 && out.length < n; i++) {
    const d = nibble(block, i);
    if (d >= 10) out += String.fromCharCode(48 + d - 10);
  }
  return out;
}

function nibble(b: Buffer, i: number): number {
  const byte = b[i >> 1]!;
  return i % 2 === 0 ? byte >> 4 : byte & 0x0f;
}

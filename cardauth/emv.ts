// EMV application cryptograms as an issuer verifies them (EMV 4.3 Book 2, Annex A1):
//
//   ICC master key, option A (A1.4.1): Y = the 16 rightmost digits of PAN ‖ PAN sequence number
//     (left-padded with zeros when shorter), packed as 8 bytes; MK = 3DES_IMK(Y) ‖ 3DES_IMK(Y XOR FF…FF).
//   Common session key (A1.3.1): for the diversification value R = R0…R7 (for an application
//     cryptogram R = ATC ‖ 00 00 00 00 00 00), SK = 3DES_MK(R0 R1 F0 R3…R7) ‖ 3DES_MK(R0 R1 0F R3…R7).
//   MAC, ISO/IEC 9797-1 algorithm 3 (A1.2.1) with padding method 2 (80 then zeros to a multiple of 8):
//     single DES CBC under the session key's left half, the last block then decrypted under the
//     right half and encrypted under the left half again. The ARQC is that MAC (8 bytes).
//   ARPC method 1 (A1.2.1): 3DES_SK(ARQC XOR (ARC ‖ 00 00 00 00 00 00)), ARC the 2-byte response code.
//
// Which data the ARQC covers is the cryptogram version's choice; the switch uses the Visa CVN 18
// selection: 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 9F10 (ARQC_TAGS), the values concatenated.
import { BLOCK_BYTES, cbcEncryptor, ecbDecryptor, single, type TdesKey, xor } from './des.js';
import type { Cipher, Decipher } from 'node:crypto';

/** The ICC master key (16 bytes) of a card under the issuer master key, option A. `psn`: 2 digits. */
export function iccMasterKeyOptionA(imk: TdesKey, pan: string, psn: string): Buffer {
  if (!/^\d{12,19}$/.test(pan) || !/^\d{2}$/.test(psn)) throw new RangeError('option A input: PAN 12-19 digits, PSN 2 digits');
  const y = Buffer.from((pan + psn).slice(-16).padStart(16, '0'), 'hex');
  const both = Buffer.allocUnsafe(16);
  y.copy(both, 0);
  for (let i = 0; i < 8; i++) both[8 + i] = y[i]! ^ 0xff;
  return imk.encrypt(both);
}

/** The EMV common session key (16 bytes) for a diversification value R (8 bytes), under the ICC master key. */
export function commonSessionKey(mk: TdesKey, r: Buffer): Buffer {
  if (r.length !== BLOCK_BYTES) throw new RangeError('the diversification value R is 8 bytes');
  const both = Buffer.allocUnsafe(16);
  r.copy(both, 0);
  r.copy(both, 8);
  both[2] = 0xf0;
  both[10] = 0x0f;
  return mk.encrypt(both);
}

/** R for an application cryptogram session key: ATC (2 bytes) ‖ six zero bytes. */
export function acDiversification(atc: Buffer): Buffer {
  if (atc.length !== 2) throw new RangeError('the ATC is 2 bytes');
  const r = Buffer.alloc(BLOCK_BYTES);
  atc.copy(r, 0);
  return r;
}

/** ISO/IEC 9797-1 padding method 2: 0x80, then zeros to a multiple of 8 bytes (always at least one byte). */
export function padMethod2(data: Buffer): Buffer {
  const n = Math.floor(data.length / BLOCK_BYTES + 1) * BLOCK_BYTES;
  const out = Buffer.alloc(n);
  data.copy(out, 0);
  out[data.length] = 0x80;
  return out;
}

/**
 * A session key's two ciphers, created once per key and used for its MAC and its ARPC:
 * single DES under the left half (a CBC encryptor whose chaining value is tracked, so any call
 * can start from a zero IV or act as plain ECB) and single DES decryption under the right half.
 */
export class SessionKey {
  private readonly left: Cipher;
  private readonly right: Decipher;
  private chain: Buffer = Buffer.alloc(BLOCK_BYTES);

  constructor(sk: Buffer) {
    if (sk.length !== 16) throw new RangeError('a session key is 16 bytes');
    this.left = cbcEncryptor(single(sk.subarray(0, 8)));
    this.right = ecbDecryptor(single(sk.subarray(8, 16)));
  }

  /** ISO/IEC 9797-1 MAC algorithm 3, padding method 2: 8 bytes. */
  mac(data: Buffer): Buffer {
    const padded = padMethod2(data);
    // The CBC cipher continues from its last output: XOR it out of the first block to start at IV 0.
    for (let i = 0; i < BLOCK_BYTES; i++) padded[i] = padded[i]! ^ this.chain[i]!;
    const out = this.left.update(padded);
    const h = out.subarray(out.length - BLOCK_BYTES);
    return this.encryptLeft(this.right.update(h), h);
  }

  /** Triple DES (EDE) of one block under the whole session key. */
  encrypt(block: Buffer): Buffer {
    const e1 = this.encryptLeft(block, this.chain);
    return this.encryptLeft(this.right.update(e1), this.chain);
  }

  /** Single DES under the left half: the CBC cipher fed x XOR its current chaining value. */
  private encryptLeft(x: Buffer, chain: Buffer): Buffer {
    const out = this.left.update(xor(x, chain));
    this.chain = out;
    return out;
  }
}

/** ARPC method 1: 3DES under the session key of ARQC XOR (ARC ‖ six zero bytes). `arc`: 2 bytes. */
export function arpcMethod1(session: SessionKey, arqc: Buffer, arc: Buffer): Buffer {
  if (arqc.length !== BLOCK_BYTES || arc.length !== 2) throw new RangeError('ARPC method 1: an 8-byte ARQC and a 2-byte ARC');
  const x = Buffer.from(arqc);
  x[0] = x[0]! ^ arc[0]!;
  x[1] = x[1]! ^ arc[1]!;
  return session.encrypt(x);
}

/** The tags of the ARQC's data, in order (Visa CVN 18 selection). */
export const ARQC_TAGS = ['9F02', '9F03', '9F1A', '95', '5F2A', '9A', '9C', '9F37', '82', '9F36', '9F10'] as const;
export type ArqcTag = typeof ARQC_TAGS[number];

/** The byte length each ARQC tag must have (9F10, issuer application data, varies: 1-32). */
export const ARQC_TAG_LENGTHS: Readonly<Record<ArqcTag, readonly [number, number]>> = {
  '9F02': [6, 6], '9F03': [6, 6], '9F1A': [2, 2], '95': [5, 5], '5F2A': [2, 2], '9A': [3, 3], '9C': [1, 1],
  '9F37': [4, 4], '82': [2, 2], '9F36': [2, 2], '9F10': [1, 32],
};

/** What an ARQC is verified with: the cryptogram and the data it covers, read from field 55. */
export interface ArqcData {
  /** 9F26, 8 bytes. */
  readonly arqc: Buffer;
  /** 9F36, 2 bytes. */
  readonly atc: Buffer;
  /** The ARQC_TAGS values concatenated in order. */
  readonly data: Buffer;
}

// DES and triple DES on node:crypto, the one block cipher the card methods are built from.
//
// OpenSSL 3 (Node 20+) keeps single DES (`des-ecb`) in its legacy provider, which Node does not
// load; two-key triple DES (`des-ede`, EDE with K1 = K3) is in the default provider. Single DES
// is EDE with K1 = K2 = K3, since E_K(D_K(E_K(x))) = E_K(x): `single(key8)` builds that key.
//
// A node:crypto cipher costs about ten microseconds to create and two to call, so keys that live
// long (CVK, PVK, IMK, ZPK) keep one encryptor and one decryptor each (`TdesKey`), and ECB runs
// whole buffers in one call. Cipher objects are never finalised: with padding off, ECB and CBC
// return each complete block at once, so one object serves any number of calls (CBC chains across
// calls, which emv.ts uses on purpose). Nothing here logs or returns a key.
import { createCipheriv, createDecipheriv, type Cipher, type Decipher } from 'node:crypto';

export const BLOCK_BYTES = 8;
/** A double-length (two-key) triple DES key, as every key of the card methods is: 16 bytes. */
export const DOUBLE_KEY_BYTES = 16;

/** A key of 8 bytes (single DES) as the 16-byte EDE key that computes single DES. */
export function single(key8: Buffer): Buffer {
  if (key8.length !== BLOCK_BYTES) throw new RangeError('a single DES key is 8 bytes');
  return Buffer.concat([key8, key8]);
}

function assertBlocks(data: Buffer): void {
  if (data.length === 0 || data.length % BLOCK_BYTES !== 0) throw new RangeError('DES data must be a positive multiple of 8 bytes');
}

function assertKey(key: Buffer): void {
  if (key.length !== DOUBLE_KEY_BYTES) throw new RangeError('a triple DES key here is double length: 16 bytes');
}

/** A two-key triple DES key with its ECB encryptor and decryptor, created once. */
export class TdesKey {
  private readonly enc: Cipher;
  private readonly dec: Decipher;

  /** `key`: 16 bytes, K1 ‖ K2 (EDE with K3 = K1). Use `single(k8)` for single DES. */
  constructor(key: Buffer) {
    assertKey(key);
    this.enc = createCipheriv('des-ede', key, null).setAutoPadding(false);
    this.dec = createDecipheriv('des-ede', key, null).setAutoPadding(false);
  }

  /** ECB encryption of whole blocks. */
  encrypt(data: Buffer): Buffer {
    assertBlocks(data);
    return this.enc.update(data);
  }

  /** ECB decryption of whole blocks. */
  decrypt(data: Buffer): Buffer {
    assertBlocks(data);
    return this.dec.update(data);
  }
}

/** Triple DES ECB encryption under a 16-byte key (a fresh cipher: for keys used once). */
export function tdesEcbEncrypt(key: Buffer, data: Buffer): Buffer {
  assertKey(key);
  assertBlocks(data);
  return createCipheriv('des-ede', key, null).setAutoPadding(false).update(data);
}

/** Triple DES ECB decryption under a 16-byte key. */
export function tdesEcbDecrypt(key: Buffer, data: Buffer): Buffer {
  assertKey(key);
  assertBlocks(data);
  return createDecipheriv('des-ede', key, null).setAutoPadding(false).update(data);
}

/** Triple DES CBC encryption under a 16-byte key (no padding: whole blocks). */
export function tdesCbcEncrypt(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  assertKey(key);
  assertBlocks(data);
  return createCipheriv('des-ede-cbc', key, iv).setAutoPadding(false).update(data);
}

/** A CBC encryptor that keeps its chaining value across calls (ISO/IEC 9797-1 MACs, emv.ts). */
export function cbcEncryptor(key: Buffer): Cipher {
  assertKey(key);
  return createCipheriv('des-ede-cbc', key, Buffer.alloc(BLOCK_BYTES)).setAutoPadding(false);
}

/** An ECB decryptor for one key (used for one session key, emv.ts). */
export function ecbDecryptor(key: Buffer): Decipher {
  assertKey(key);
  return createDecipheriv('des-ede', key, null).setAutoPadding(false);
}

/** a XOR b into a new buffer of a's length (b at least as long). */
export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * Key check value: the key encrypting eight zero bytes, the first three bytes as six upper-case
 * hex digits (the payShield BU command's 6-digit KCV). Safe to log: it identifies a key without
 * revealing it.
 */
export function kcv(key: Buffer): string {
  return tdesEcbEncrypt(key, Buffer.alloc(BLOCK_BYTES)).subarray(0, 3).toString('hex').toUpperCase();
}

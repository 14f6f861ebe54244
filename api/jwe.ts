// Sensitive card data leaves only as JWE (SPEC §6, seed "Configuration & JWE Security"): the
// caller sends `Encrypt-Response: true` and `Public-Key: <base64 of its PEM SPKI RSA public key>`,
// and gets `{"payload": "<compact JWE>"}`, alg RSA-OAEP-256, enc A256GCM. Errors stay in clear.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CompactEncrypt } from 'jose';
import { AppError } from '../errors/index.js';

export const JWE_ALG = 'RSA-OAEP-256';
export const JWE_ENC = 'A256GCM';
const RSA_BITS_MIN = 2048;
const RSA_BITS_MAX = 8192;
/** A base64 PEM of an 8192-bit key is about 2 KiB; anything far larger is not a key. */
const PUBLIC_KEY_HEADER_MAX = 8192;

/**
 * The caller's key when it asked for an encrypted answer, null when it did not. A request that
 * asks without a usable RSA public key is refused (400 INVALID_PUBLIC_KEY) before anything happens.
 */
export function encryptionKeyOf(headers: Record<string, string>): KeyObject | null {
  if ((headers['encrypt-response'] ?? '').trim().toLowerCase() !== 'true') return null;
  const b64 = (headers['public-key'] ?? '').trim();
  if (b64 === '') throw new AppError('INVALID_PUBLIC_KEY', 'Encrypt-Response: true needs a Public-Key header: base64 of a PEM SPKI RSA public key');
  if (b64.length > PUBLIC_KEY_HEADER_MAX || !/^[A-Za-z0-9+/=_-]+$/.test(b64)) {
    throw new AppError('INVALID_PUBLIC_KEY', 'Public-Key must be base64 of a PEM SPKI RSA public key');
  }
  const pem = Buffer.from(b64, 'base64').toString('utf8');
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) throw new AppError('INVALID_PUBLIC_KEY', 'Public-Key must decode to a PEM "BEGIN PUBLIC KEY" (SPKI) block');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem', type: 'spki' });
  } catch {
    throw new AppError('INVALID_PUBLIC_KEY', 'Public-Key does not parse as an SPKI public key');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < RSA_BITS_MIN || bits > RSA_BITS_MAX) {
    throw new AppError('INVALID_PUBLIC_KEY', `Public-Key must be an RSA key of ${RSA_BITS_MIN}-${RSA_BITS_MAX} bits`);
  }
  return key;
}

/** Like encryptionKeyOf, for calls that answer nothing but sensitive data (400 ENCRYPTION_REQUIRED). */
export function requireEncryptionKey(headers: Record<string, string>): KeyObject {
  const key = encryptionKeyOf(headers);
  if (key === null) throw new AppError('ENCRYPTION_REQUIRED', 'this answer holds card data: send Encrypt-Response: true and Public-Key');
  return key;
}

export async function encryptJson(value: unknown, key: KeyObject): Promise<{ payload: string }> {
  const payload = await new CompactEncrypt(new TextEncoder().encode(JSON.stringify(value)))
    .setProtectedHeader({ alg: JWE_ALG, enc: JWE_ENC, cty: 'application/json' })
    .encrypt(key);
  return { payload };
}

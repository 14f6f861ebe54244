// Sensitive card data leaves only as JWE (SPEC §6, seed "Configuration & JWE Security"): the
// caller sends `Encrypt-Response: true` and `Public-Key: <base64 of its PEM SPKI RSA public key>`,
// and gets `{"payload": "<compact JWE>"}`, alg RSA-OAEP-256, enc A256GCM. Errors stay in clear.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, CompactEncrypt, compactDecrypt, exportJWK } from 'jose';
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

// ---------------------------------------------------------------------------------------------
// Encrypted requests (seed "Configuration & JWE Security"): the caller fetches the switch's RSA
// public key (GET /secure/encryption-key), encrypts the request body to it (alg RSA-OAEP-256 or
// RSA-OAEP, enc A256GCM), and sends `Encrypted-Request: true` with `{"payload": "<compact JWE>"}`.
// The key pair is ENCRYPTION_KEY_FILE (a PEM RSA private key, PKCS#8 or PKCS#1), or a development
// key generated once under ./var (encryption-key.pem, mode 0600) with a warning at start.

/** Key-management algorithms an encrypted request may use (the seed's list), and its one content encryption. */
export const REQUEST_JWE_ALGS = ['RSA-OAEP-256', 'RSA-OAEP'] as const;
const COMPACT_JWE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** A payload far above what any encrypted request of the API needs (a PIN is a few bytes) is not read. */
const PAYLOAD_CHARS_MAX = 16_384;

/** The switch's key pair for encrypted requests. `kid`: the RFC 7638 SHA-256 thumbprint of the public key. */
export interface EncryptionKey {
  readonly kid: string;
  /** PEM SPKI. */
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
  readonly source: 'file' | 'development';
  readonly path: string;
}

/** ENCRYPTION_KEY_FILE when set, else the development key at `devFile` (created at first start). Throws SW_ERR_ENCRYPTION_KEY. */
export async function loadEncryptionKey(file: string | null, devFile: string): Promise<EncryptionKey> {
  const path = file ?? devFile;
  if (file === null && !existsSync(devFile)) {
    try {
      mkdirSync(dirname(devFile), { recursive: true });
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: RSA_BITS_MIN });
      writeFileSync(devFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AppError('SW_ERR_ENCRYPTION_KEY', `cannot write the development encryption key ${devFile}: ${(e as Error).message.slice(0, 120)}`);
    }
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: readFileSync(path, 'utf8'), format: 'pem' });
  } catch (e) {
    throw new AppError('SW_ERR_ENCRYPTION_KEY', `${file === null ? 'the development encryption key' : 'ENCRYPTION_KEY_FILE'} ${path} is not a readable PEM private key: ${(e as Error).message.slice(0, 120)}`);
  }
  const bits = privateKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (privateKey.asymmetricKeyType !== 'rsa' || bits < RSA_BITS_MIN || bits > RSA_BITS_MAX) {
    throw new AppError('SW_ERR_ENCRYPTION_KEY', `${path} must hold an RSA private key of ${RSA_BITS_MIN}-${RSA_BITS_MAX} bits`);
  }
  const publicKey = createPublicKey(privateKey);
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
  return { kid, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), privateKey, source: file === null ? 'development' : 'file', path };
}

/**
 * The plaintext JSON of an encrypted request: ENCRYPTION_REQUIRED without `Encrypted-Request: true`,
 * INVALID_PAYLOAD when the body is not `{"payload": compact JWE}` or its plaintext is not JSON,
 * CANT_DECRYPT_PAYLOAD when it does not decrypt with the switch's key under the accepted algorithms.
 */
export async function decryptRequest(key: EncryptionKey, headers: Record<string, string>, body: unknown): Promise<unknown> {
  if ((headers['encrypted-request'] ?? '').trim().toLowerCase() !== 'true') {
    throw new AppError('ENCRYPTION_REQUIRED', 'this call takes an encrypted body: send Encrypted-Request: true and {"payload": a JWE to GET /secure/encryption-key}');
  }
  const payload = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { payload?: unknown }).payload : undefined;
  if (typeof payload !== 'string' || payload.length > PAYLOAD_CHARS_MAX || !COMPACT_JWE.test(payload)) {
    throw new AppError('INVALID_PAYLOAD', 'the body must be {"payload": "<compact JWE>"}');
  }
  let header: unknown;
  try { header = JSON.parse(Buffer.from(payload.slice(0, payload.indexOf('.')), 'base64url').toString('utf8')); } catch { header = null; }
  if (typeof header !== 'object' || header === null) throw new AppError('INVALID_PAYLOAD', 'the payload\'s protected header is not base64url JSON');
  let plaintext: Uint8Array;
  try {
    plaintext = (await compactDecrypt(payload, key.privateKey, { keyManagementAlgorithms: [...REQUEST_JWE_ALGS], contentEncryptionAlgorithms: [JWE_ENC] })).plaintext;
  } catch {
    throw new AppError('CANT_DECRYPT_PAYLOAD', `the payload does not decrypt with key ${key.kid} (alg ${REQUEST_JWE_ALGS.join(' or ')}, enc ${JWE_ENC})`);
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plaintext)) as unknown;
  } catch {
    throw new AppError('INVALID_PAYLOAD', 'the decrypted payload is not JSON');
  }
}

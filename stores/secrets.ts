// Keys for card data. One master secret (SWITCH_SECRET, 32+ bytes as hex or base64) from which
// purpose-bound keys are derived with HKDF, so rotating one purpose never reuses another's key.
// Without SWITCH_SECRET a development secret is generated once into var/secret.key (mode 0600)
// and the switch says so at start-up: production deployments must set SWITCH_SECRET.
import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../errors/index.js';

export interface Secrets {
  source: 'env' | 'file';
  /** HMAC key for the PAN lookup index. */
  panIndexKey: Buffer;
  /** AES-256-GCM key for PAN at rest. */
  panEncryptionKey: Buffer;
}

function decode(v: string): Buffer {
  const hex = /^[0-9a-fA-F]+$/.test(v) ? Buffer.from(v, 'hex') : Buffer.from(v, 'base64');
  if (hex.length < 32) throw new AppError('SW_ERR_SECRET', 'SWITCH_SECRET must be at least 32 bytes, hex or base64');
  return hex;
}

export function derive(master: Buffer, source: Secrets['source']): Secrets {
  const k = (purpose: string) => Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), `antaca/${purpose}/v1`, 32));
  // `antaca/cvv/v1` once keyed an HMAC CVV; CVVs are now the Visa method under the program's CVK (cardauth/keys.ts).
  return { source, panIndexKey: k('pan-index'), panEncryptionKey: k('pan-encryption') };
}

export function loadSecrets(env: Record<string, string | undefined>, devFile: string): Secrets {
  const v = env.SWITCH_SECRET;
  if (v) return derive(decode(v.trim()), 'env');
  if (!existsSync(devFile)) {
    mkdirSync(dirname(devFile), { recursive: true });
    writeFileSync(devFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  }
  return derive(decode(readFileSync(devFile, 'utf8').trim()), 'file');
}

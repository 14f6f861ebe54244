// The signature of a webhook delivery (docs/partners.md, "Webhooks"):
//
//   Antaca-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>[,v1=<...>]
//
// one `v1` per configured secret (two during a rotation, the new secret first). A receiver
// recomputes the HMAC over the exact bytes it received, compares it in constant time with each
// `v1`, and rejects a timestamp more than 5 minutes away from its own clock (a replayed delivery).
// The switch signs here (adapters/partner-client.ts deliverWebhook); the partner simulator verifies
// here (simulators/partner); docs/partners.md shows the same check in a few lines of Node.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header's name. HTTP header names are case-insensitive; Node shows it as `antaca-signature`. */
export const SIGNATURE_HEADER = 'Antaca-Signature';
/** The header that names the event of a delivery (`transaction`, `cardLocked`, ...). */
export const EVENT_HEADER = 'Antaca-Event';
/** How far a signature's timestamp may be from the receiver's clock, seconds (either way). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
/** A header longer than this is not read (two signatures are about 150 characters). */
const HEADER_CHARS_MAX = 1024;

/** The hex HMAC-SHA256 of `t.body` under one secret (its UTF-8 bytes are the key). */
export function signatureOf(secret: string, tSeconds: number, rawBody: string | Buffer): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${tSeconds}.`).update(rawBody).digest('hex');
}

/** The header's value for a delivery sent at `tSeconds`: `t=...,v1=...` with one `v1` per secret, in the order given. */
export function signatureHeader(secrets: readonly string[], tSeconds: number, rawBody: string | Buffer): string {
  if (secrets.length === 0) throw new Error('a webhook needs at least one secret');
  if (!Number.isSafeInteger(tSeconds) || tSeconds < 0) throw new Error('the timestamp is whole seconds since the epoch');
  return [`t=${tSeconds}`, ...secrets.map((s) => `v1=${signatureOf(s, tSeconds, rawBody)}`)].join(',');
}

/** Why a signature is refused. */
export type SignatureProblem = 'MISSING' | 'MALFORMED' | 'TOO_OLD' | 'IN_THE_FUTURE' | 'NO_MATCH';

/**
 * Checks a delivery: the header parses, its timestamp is within `toleranceSeconds` of `nowSeconds`,
 * and some `v1` is the HMAC of the raw body under one of `secrets` (the receiver's, one or two
 * during a rotation). Every comparison is constant-time. Other schemes (`v0=`, future `v2=`) are ignored.
 */
export function verifySignature(
  header: string | undefined, rawBody: string | Buffer, secrets: readonly string[],
  o: { nowSeconds?: number; toleranceSeconds?: number } = {},
): { ok: true; tSeconds: number } | { ok: false; problem: SignatureProblem } {
  if (header === undefined || header === '') return { ok: false, problem: 'MISSING' };
  if (header.length > HEADER_CHARS_MAX) return { ok: false, problem: 'MALFORMED' };
  let t: number | null = null;
  const v1: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) v1.push(Buffer.from(v, 'hex'));
  }
  if (t === null || v1.length === 0) return { ok: false, problem: 'MALFORMED' };
  const now = o.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = o.toleranceSeconds ?? SIGNATURE_TOLERANCE_SECONDS;
  if (now - t > tolerance) return { ok: false, problem: 'TOO_OLD' };
  if (t - now > tolerance) return { ok: false, problem: 'IN_THE_FUTURE' };
  let match = false;
  for (const secret of secrets) {
    const want = Buffer.from(signatureOf(secret, t, rawBody), 'hex');
    for (const got of v1) if (timingSafeEqual(want, got)) match = true;
  }
  return match ? { ok: true, tSeconds: t } : { ok: false, problem: 'NO_MATCH' };
}

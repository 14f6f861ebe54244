// ISO 9564-1 PIN block format 0 (ANSI X9.8): the PIN field `0 L P P P P P/F … F` (control 0,
// PIN length L 4-12, the PIN's digits, filler F to 16 nibbles) XOR the account field `0000` ‖ the
// 12 rightmost PAN digits before the check digit. On the wire (field 52) it travels encrypted
// under the acquirer's zone PIN key (3DES ECB).
//
// `decodeFormat0` returns the PIN or why the block is not a format-0 block for that PAN; the
// reason never quotes the block, the PIN or the PAN.

/** The 8-byte clear format-0 PIN block of a PIN (4-12 digits) for a PAN (13-19 digits). */
export function encodeFormat0(pin: string, pan: string): Buffer {
  if (!/^\d{4,12}$/.test(pin)) throw new RangeError('a PIN is 4 to 12 digits');
  const pinField = Buffer.from(('0' + pin.length.toString(16) + pin).padEnd(16, 'F'), 'hex');
  const account = accountField(pan);
  for (let i = 0; i < 8; i++) pinField[i] = pinField[i]! ^ account[i]!;
  return pinField;
}

/** Why a block is not a format-0 PIN block (safe to log: names no content). */
export type PinBlockFault = 'NOT_FORMAT_0' | 'BAD_LENGTH' | 'NOT_DIGITS' | 'BAD_FILLER';

/** The PIN of a clear format-0 block for `pan`, or the fault. */
export function decodeFormat0(block: Buffer, pan: string): { pin: string } | { fault: PinBlockFault } {
  if (block.length !== 8) return { fault: 'BAD_LENGTH' };
  const account = accountField(pan);
  let hex = '';
  for (let i = 0; i < 8; i++) hex += (block[i]! ^ account[i]!).toString(16).padStart(2, '0');
  if (hex[0] !== '0') return { fault: 'NOT_FORMAT_0' };
  const n = parseInt(hex[1]!, 16);
  if (n < 4 || n > 12) return { fault: 'BAD_LENGTH' };
  const pin = hex.slice(2, 2 + n);
  if (!/^\d+$/.test(pin)) return { fault: 'NOT_DIGITS' };
  if (!/^f*$/.test(hex.slice(2 + n))) return { fault: 'BAD_FILLER' };
  return { pin };
}

/** `0000` ‖ the 12 PAN digits left of the check digit, as 8 bytes. */
function accountField(pan: string): Buffer {
  if (!/^\d{13,19}$/.test(pan)) throw new RangeError('a PAN for a PIN block is 13 to 19 digits');
  return Buffer.from('0000' + pan.slice(-13, -1), 'hex');
}

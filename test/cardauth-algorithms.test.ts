// Every card algorithm of cardauth/ against published test vectors. Sources:
//   [FIPS81]  NIST FIPS PUB 81 (DES modes), the "Now is t" example; and J. Orlin Grabbe,
//             "The DES Algorithm Illustrated", key 133457799BBCDFF1 over 0123456789ABCDEF.
//   [VISA]    the classic Visa CVV example (PAN 4123456789012345, expiry 8701, service code 101,
//             CVK A 0123456789ABCDEF, CVK B FEDCBA9876543210 → 561), as in payShield and EMV guides.
//   [PSEC]    knovichikhin/psec, tests/test_cvv.py, tests/test_pin.py (Visa PVV), tests/test_pinblock.py
//             (ISO 9564 format 0) — an open-source payment security library's test suite.
//   [PYEMV]   knovichikhin/pyemv, tests/test_kd_hsm.py (option A, common session key, ARQC, ARPC
//             method 1), tests/test_cvn_hsm.py (Visa CVN 18), tests/test_mac.py (ISO 9797-1 MAC 3),
//             pyemv/ac.py docstring (ARQC and ARPC method 1 under a given session key).
//   [EFTLAB]  EFTlab's "Complete list of PIN-blocks" (PAN 43219876543210987, PIN 1234 → 0412AC89ABCDEF67)
//             and devindtools' PIN block calculator (PIN 123456, PAN 4451234567890129, ZPK
//             E8DD93B8AF13999C7644C0FE11F5D2A7 → ABC5E23474210DAC).
//   [KCV]     the check value 08D7B4 of the test key 0123456789ABCDEF FEDCBA9876543210 (pyemv asserts 08D7).
import t from 'tap';
import { kcv, single, TdesKey, tdesEcbDecrypt, tdesEcbEncrypt, tdesCbcEncrypt } from '../cardauth/des.js';
import { CvvKey, decimalise, PvvKey } from '../cardauth/visa.js';
import { decodeFormat0, encodeFormat0 } from '../cardauth/pin-block.js';
import { acDiversification, arpcMethod1, commonSessionKey, iccMasterKeyOptionA, padMethod2, SessionKey } from '../cardauth/emv.js';
import { SoftwareKeyStore } from '../cardauth/keys.js';
import { parseIccField } from '../cardauth/fields.js';
import { tlv } from '../cardauth/tlv.js';

const h = (s: string): Buffer => Buffer.from(s, 'hex');
const hex = (b: Buffer): string => b.toString('hex').toUpperCase();
const TEST_KEY = '0123456789ABCDEFFEDCBA9876543210';

t.test('DES and triple DES on node:crypto', async (t) => {
  t.equal(hex(new TdesKey(single(h('0123456789ABCDEF'))).encrypt(Buffer.from('Now is t'))), '3FA40E8A984D4815', '[FIPS81] single DES as EDE with K1 = K2 = K3');
  t.equal(hex(new TdesKey(single(h('133457799BBCDFF1'))).encrypt(h('0123456789ABCDEF'))), '85E813540F0AB405', '[FIPS81] the illustrated example');
  t.equal(hex(tdesEcbEncrypt(h(TEST_KEY), Buffer.alloc(8))), '08D7B4FB629D0885', '[KCV] 3DES of zeros under the test key');
  t.equal(kcv(h(TEST_KEY)), '08D7B4', '[KCV] six hex digits');
  const k = new TdesKey(h(TEST_KEY));
  const two = k.encrypt(Buffer.alloc(16));
  t.equal(hex(two), '08D7B4FB629D088508D7B4FB629D0885', 'ECB: each block alone, one call');
  t.same(k.decrypt(two), Buffer.alloc(16), 'and back');
  t.same(tdesEcbDecrypt(h(TEST_KEY), two), Buffer.alloc(16));
  const cbc = tdesCbcEncrypt(h(TEST_KEY), Buffer.alloc(8), Buffer.alloc(16));
  t.equal(hex(cbc.subarray(0, 8)), '08D7B4FB629D0885', 'CBC: first block as ECB');
  t.same(cbc.subarray(8), tdesEcbEncrypt(h(TEST_KEY), cbc.subarray(0, 8)), 'CBC: the second block chains on the first');
  for (let i = 0; i < 3; i++) t.equal(hex(k.encrypt(Buffer.alloc(8))), '08D7B4FB629D0885', `a kept cipher gives the same block on call ${i + 1}`);
  t.throws(() => new TdesKey(Buffer.alloc(8)), RangeError, 'a key is 16 bytes');
  t.throws(() => k.encrypt(Buffer.alloc(7)), RangeError, 'whole blocks only');
});

t.test('Visa CVV, CVV2, iCVV', async (t) => {
  const cvk = new CvvKey(h(TEST_KEY));
  t.equal(cvk.cvv('4123456789012345', '8701', '101'), '561', '[VISA] the classic example');
  t.equal(new CvvKey(h('99999999999999998888888888888888')).cvv('2222222222222222', '3333', '111'), '361', '[PSEC] test_generate_cvv');
  t.match(cvk.cvv('4123456789012345', '8701', '000'), /^\d{3}$/, 'CVV2 is service code 000');
  t.not(cvk.cvv('4123456789012345', '8701', '999'), undefined, 'iCVV is service code 999');
  t.throws(() => cvk.cvv('41234567', '8701', '101'), RangeError, 'a PAN of 12-19 digits');
  t.equal(decimalise(h('0123456789ABCDEF'), 3), '012', 'decimalisation: digits first');
  t.equal(decimalise(h('ABCDEFABCDEF1ABC'), 3), '101', 'then A-F as 0-5');
  t.equal(decimalise(h('ABCDEFABCDEFABCD'), 4), '0123', 'letters only');
});

t.test('Visa PVV', async (t) => {
  const pvk = new PvvKey(h(TEST_KEY));
  const vectors: Array<[string, string, string, string]> = [
    ['1', '4524', '1122334455667788', '8523'], ['2', '1912', '1122334455667788', '3244'],
    ['1', '0570', '1122334455667718', '3144'], ['1', '8299', '1122334455667708', '4422'],
  ];
  for (const [pvki, pin, pan, pvv] of vectors) t.equal(pvk.pvv(pan, pvki, pin), pvv, `[PSEC] PVKI ${pvki}, PIN ${pin}: PVV ${pvv}`);
  t.equal(pvk.pvv('1122334455667788', '1', '452499'), '8523', 'only the PIN\'s first four digits take part');
  t.throws(() => pvk.pvv('1122334455667788', '12', '4524'), RangeError, 'a PVKI is one digit');
});

t.test('ISO 9564-1 format 0 PIN block, clear and under a ZPK', async (t) => {
  t.equal(hex(encodeFormat0('1234', '5555555551234567')), '041261AAAAEDCBA9', '[PSEC] 4 digits');
  t.equal(hex(encodeFormat0('123456789012', '5555555551234567')), '0C1261032D8226A9', '[PSEC] 12 digits');
  t.equal(hex(encodeFormat0('1234', '43219876543210987')), '0412AC89ABCDEF67', '[EFTLAB] a 17-digit PAN');
  for (const [pin, block] of [['1234', '041261AAAAEDCBA9'], ['123456789', '091261032D8DCBA9'], ['1234567890', '0A1261032D82CBA9'], ['123456789012', '0C1261032D8226A9']] as const) {
    t.same(decodeFormat0(h(block), '5555555551234567'), { pin }, `[PSEC] decodes ${pin.length} digits`);
  }
  t.same(decodeFormat0(h('241261AAAAEDCBA9'), '5555555551234567'), { fault: 'NOT_FORMAT_0' }, '[PSEC] control field 2');
  t.same(decodeFormat0(h('0F1261AAAAEDCBA9'), '5555555551234567'), { fault: 'BAD_LENGTH' }, '[PSEC] length 15');
  t.same(decodeFormat0(h('041261AAAAEDCBAA'), '5555555551234567'), { fault: 'BAD_FILLER' }, '[PSEC] bad filler');
  t.same(decodeFormat0(h('051261AAAAEDCBA9'), '5555555551234567'), { fault: 'NOT_DIGITS' }, '[PSEC] a non-digit');
  const zpk = h('E8DD93B8AF13999C7644C0FE11F5D2A7');
  const encrypted = tdesEcbEncrypt(zpk, encodeFormat0('123456', '4451234567890129'));
  t.equal(hex(encrypted), 'ABC5E23474210DAC', '[EFTLAB] encrypted under the ZPK (3DES ECB)');
  t.same(decodeFormat0(tdesEcbDecrypt(zpk, encrypted), '4451234567890129'), { pin: '123456' }, 'and back');
});

t.test('EMV: option A, common session key, ISO 9797-1 MAC 3, ARQC, ARPC method 1', async (t) => {
  const imk = new TdesKey(h(TEST_KEY));
  const mk = iccMasterKeyOptionA(imk, '12345678901234567', '45');
  t.equal(kcv(mk).slice(0, 4), 'FF08', '[PYEMV] ICC master key, option A, PSN 45');
  const sk = commonSessionKey(new TdesKey(mk), h('1234567890123456'));
  t.equal(kcv(sk).slice(0, 4), 'DF82', '[PYEMV] common session key of R 1234567890123456');
  const s = new SessionKey(sk);
  const arqc = s.mac(h('0123456789ABCDEF0123456789ABCDEF'));
  t.equal(hex(arqc), '19C1FBC83EBDC0D5', '[PYEMV] the AC under that session key');
  t.equal(hex(arpcMethod1(s, arqc, h('0000'))), 'C3620580668E5B65', '[PYEMV] ARPC method 1 under the session key');
  t.equal(hex(s.mac(h('0123456789ABCDEF0123456789ABCDEF'))), '19C1FBC83EBDC0D5', 'a session key object gives the same MAC again');

  const noPsn = commonSessionKey(new TdesKey(iccMasterKeyOptionA(imk, '12345678901234567', '00')), h('1234567890123456'));
  t.equal(kcv(noPsn).slice(0, 4), '3F4F', '[PYEMV] option A with PSN 00');
  t.equal(hex(new SessionKey(noPsn).mac(h('0123456789ABCDEF0123456789ABCDEF'))), '8698A7319324FD93', '[PYEMV] its AC');

  const given = new SessionKey(h('29B33180E567CE38EA4CBC9D753B0E61'));
  const ac = given.mac(h('0123456789ABCDEF0123456789ABCDEF'));
  t.equal(hex(ac), 'FA624250B008B59A', '[PYEMV] ac.py: ARQC under a given session key');
  t.equal(hex(arpcMethod1(given, ac, h('0000'))), '45D4255EEF10C920', '[PYEMV] ac.py: ARPC method 1');

  t.equal(hex(new SessionKey(h('AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB')).mac(Buffer.from('hello world'))), '2BC2D9EDE0CF31F6', '[PYEMV] MAC algorithm 3, padding method 2');
  t.equal(hex(padMethod2(Buffer.alloc(8, 0x46))), '4646464646464646' + '8000000000000000', '[PYEMV] padding method 2 adds a block to a whole one');

  // Visa CVN 18: option A (a 16-digit PAN), the ATC's common session key, the CVN 18 data in order.
  const mk18 = iccMasterKeyOptionA(imk, '1234567890123456', '00');
  t.equal(kcv(mk18).slice(0, 4), 'BAB0', '[PYEMV] CVN 18 ICC master key');
  const atc = h('001C');
  const sk18 = commonSessionKey(new TdesKey(mk18), acDiversification(atc));
  t.equal(kcv(sk18).slice(0, 4), '22C8', '[PYEMV] CVN 18 session key of ATC 001C');
  const tags: Array<[string, string]> = [
    ['9F02', '000000004000'], ['9F03', '000000000000'], ['9F1A', '0124'], ['95', '8000048000'], ['5F2A', '0124'], ['9A', '191105'],
    ['9C', '01'], ['9F37', '52BF4585'], ['82', '1800'], ['9F36', '001C'], ['9F10', '06011203A0B800'],
  ];
  t.equal(hex(new SessionKey(sk18).mac(h(tags.map(([, v]) => v).join('')))), '7A788EA6B8A3E733', '[PYEMV] CVN 18 ARQC');

  // The same through field 55 and the key store.
  const f55 = hex(Buffer.concat([tlv('9F26', h('7A788EA6B8A3E733')), tlv('9F27', h('80')), ...tags.reverse().map(([tag, v]) => tlv(tag, h(v)))]));
  const parsed = parseIccField(f55);
  if (parsed === null || 'reason' in parsed) throw new Error('field 55 did not parse');
  const store = new SoftwareKeyStore({ P: { cvk: TEST_KEY, pvk: TEST_KEY, pvki: '1', imkAc: TEST_KEY, zpk: {} } });
  t.ok(await store.verifyArqc('P', '1234567890123456', '00', parsed), 'the key store verifies the CVN 18 ARQC from field 55 (tags in any order)');
  t.notOk(await store.verifyArqc('P', '1234567890123456', '01', parsed), 'not with another PAN sequence number');
  const arpc = await store.generateArpc({ configId: 'P', pan: '1234567890123456', panSequence: '00', atc, arqc: h('7A788EA6B8A3E733') }, '00');
  t.same(arpc, arpcMethod1(new SessionKey(sk18), h('7A788EA6B8A3E733'), Buffer.from('00', 'latin1')), 'its ARPC: method 1 with ARC "00" (ASCII 3030)');
  t.same(store.checkValues(), [{ configId: 'P', cvk: '08D7B4', pvk: '08D7B4', pvki: '1', imkAc: '08D7B4', zpk: {} }], 'check values, never keys');
});

// The card-data readers (fields 35, 48, 52, 55, 23) and the verification rules (STRICT / RELAXED),
// both pure: a table per reader with malformed input (a field error naming the field, never its
// content, never a throw), and a table of rules, one row per case of the contract.
import t from 'tap';
import { cardDataOf, isFieldError, messageExpiry, messagePan, parseField48, parseIccField, parsePanSequence, parsePinBlockField, parseTrack2, type CardData, type FieldError } from '../cardauth/fields.js';
import { parseTlv } from '../cardauth/tlv.js';
import { cardFacts, planVerification, type CardholderVerification, type VerificationPlan } from '../cardauth/verify.js';
import type { IsoFields } from '../iso/codec.js';
import type { TxKind } from '../iso/processing.js';

const TRACK = '5557701234567890=30122011123456789';

t.test('field 35: track 2 in the personalisation layout', async (t) => {
  t.same(parseTrack2(TRACK), { pan: '5557701234567890', expiry: '3012', serviceCode: '201', pvki: '1', pvv: '1234', cvv: '567' });
  t.same(parseTrack2(';5557701234567890D30122011123456789000?'), { pan: '5557701234567890', expiry: '3012', serviceCode: '201', pvki: '1', pvv: '1234', cvv: '567' }, 'D separator, sentinels, further digits ignored');
  const bad: Array<[string, RegExp]> = [
    ['5557701234567890', /no field separator/], ['55577=30122011123456789', /PAN of track 2/], ['5557701234567890=3012201', /shorter/],
    ['5557701234567890=3013201112345678', /YYMM/], ['5557701234567890=3012:011123456789', /other than a digit/], ['', /no field separator/],
  ];
  for (const [v, why] of bad) {
    const r = parseTrack2(v);
    t.ok(isFieldError(r), `refused: ${why.source}`);
    t.match((r as FieldError).reason, why);
    t.equal((r as FieldError).field, 35);
    if (v.length >= 8) t.notOk((r as FieldError).reason.includes(v.slice(0, 8)), 'the reason quotes nothing of the track');
  }
});

t.test('field 48: subelements', async (t) => {
  t.same(parseField48('9203123'), { cvv2: '123', partialApproval: false, threeDSecure: false, credentialOnFile: false });
  t.same(parseField48('6101110011' + '4328' + 'A'.repeat(28) + '9203999'), { cvv2: '999', partialApproval: true, threeDSecure: true, credentialOnFile: true });
  t.same(parseField48('0104abcd'), { cvv2: null, partialApproval: false, threeDSecure: false, credentialOnFile: false }, 'unknown subelements skipped');
  for (const [v, why] of [['92031', /runs past/], ['920', /cut short/], ['9a03123', /not n2/], ['920312a', /not 3 digits/], ['92031239203123', /twice/], ['4300', /empty/]] as const) {
    const r = parseField48(v);
    t.ok(isFieldError(r) && r.field === 48 && why.test(r.reason), `${v.length} characters refused: ${why.source}`);
  }
});

t.test('field 52, field 23, field 55', async (t) => {
  t.same(parsePinBlockField(Buffer.alloc(8, 1)), Buffer.alloc(8, 1));
  t.same(parsePinBlockField('0102030405060708'), Buffer.from('0102030405060708', 'hex'));
  t.ok(isFieldError(parsePinBlockField(Buffer.alloc(7))));
  t.ok(isFieldError(parsePinBlockField('01020304050607')));
  t.equal(parsePanSequence(undefined), '00', 'absent field 23: 00');
  t.equal(parsePanSequence('001'), '01');
  t.ok(isFieldError(parsePanSequence('1')));
  t.equal(parseIccField('9F2701809F10020101'), null, 'no 9F26: no ARQC');
  for (const [v, why] of [['9F2', /hex/], ['ZZ', /hex/], ['9F2608AABB', /runs past/], ['9F', /cut short/], ['9F26', /no length/], ['9F2685', /length form/],
    ['9F2608' + '00'.repeat(8), /without tag 9F02/], ['9F2604AABBCCDD', /not 8 bytes/], ['9F020101' + '9F020101', /twice/]] as const) {
    const r = parseIccField(v);
    t.ok(isFieldError(r) && r.field === 55 && why.test(r.reason), `${v} refused: ${why.source}`);
  }
  const r = parseTlv(Buffer.from('00' + '5F2A020978' + '81' + '8181' + '01'.repeat(0x81), 'hex'));
  t.ok(r.ok && r.tags.get('5F2A')?.toString('hex') === '0978' && r.tags.get('81')?.length === 0x81, 'padding skipped, long-form length');
});

t.test('random bytes never throw, and always name the field', async (t) => {
  let errors = 0;
  for (let i = 0; i < 3000; i++) {
    const len = Math.floor(Math.random() * 60);
    const s = Array.from({ length: len }, () => String.fromCharCode(0x30 + Math.floor(Math.random() * 24))).join('');
    const h = Array.from({ length: len }, () => '0123456789ABCDEF9F'[Math.floor(Math.random() * 18)]).join('');
    for (const [field, r] of [[35, parseTrack2(s)], [48, parseField48(s)], [55, parseIccField(h)]] as const) {
      if (isFieldError(r)) { errors++; if (r.field !== field) t.fail(`field ${field} error names ${r.field}`); }
    }
  }
  t.ok(errors > 0, `malformed values answered with field errors (${errors})`);
});

t.test('the PAN and expiry of a message: field 2 and 14, else the track', async (t) => {
  const swipe: IsoFields = new Map([[35, TRACK]]);
  t.equal(messagePan(swipe), '5557701234567890');
  t.equal(messageExpiry(swipe), '3012');
  const both: IsoFields = new Map([[2, '5557709999999999'], [14, '2901'], [35, TRACK]]);
  t.equal(messagePan(both), '5557709999999999', 'field 2 wins (the rules then compare it with the track)');
  t.equal(messageExpiry(both), '2901');
  t.equal(messagePan(new Map([[35, 'garbage']])), undefined, 'a track that does not parse names no PAN');
  const d = cardDataOf(new Map<number, string | Buffer>([[35, TRACK], [48, '9203123'], [52, Buffer.alloc(8)], [22, '051'], [32, '123456'], [23, '002']]));
  t.notOk(isFieldError(d));
  t.match(d, { pan: '5557701234567890', expiry: '3012', entryMode: '05', acquirer: '123456', panSequence: '02', additional: { cvv2: '123' } });
  t.match(cardDataOf(new Map([[35, TRACK], [48, '92']])), { field: 48 }, 'the first field that does not parse');
});

// --- the rules -------------------------------------------------------------------------------

const ARQC = { arqc: Buffer.alloc(8), atc: Buffer.alloc(2), data: Buffer.alloc(8) };
const PHYS = cardFacts({ kind: 'PHYSICAL', serviceCode: '201', pvv: '1234', pvki: '1', cvv2Generation: 0 });
const VIRT = cardFacts({ kind: 'VIRTUAL', serviceCode: null, pvv: null, pvki: null, cvv2Generation: 2 });
const TRACK_OF = parseTrack2(TRACK) as Exclude<ReturnType<typeof parseTrack2>, FieldError>;

function data(o: Partial<CardData> & { cvv2?: string; cof?: boolean }): CardData {
  return {
    pan: '5557701234567890', expiry: '3012', f2: '5557701234567890', f14: '3012', track: null, pinBlock: null, iccPresent: false, arqc: null,
    panSequence: '00', entryMode: '00', acquirer: '123456',
    additional: { cvv2: o.cvv2 ?? null, partialApproval: false, threeDSecure: false, credentialOnFile: o.cof ?? false },
    ...o,
  };
}

interface Row { name: string; d: CardData; card?: typeof PHYS; policy?: CardholderVerification; kind?: TxKind; pc?: string; checks: string[]; refusal: string | null }

const ROWS: Row[] = [
  { name: 'STRICT debit without field 14 or a track: 54', d: data({ expiry: undefined, f14: undefined }), checks: [], refusal: 'EXPIRED_CARD/EXPIRY_MISSING' },
  { name: 'RELAXED debit without an expiry: nothing more required', d: data({ expiry: undefined, f14: undefined }), policy: 'RELAXED', checks: [], refusal: null },
  { name: 'a track with another PAN than field 2', d: data({ track: { ...TRACK_OF, pan: '5557700000000000' }, entryMode: '90' }), checks: [], refusal: 'SECURITY_VIOLATION/TRACK' },
  { name: 'a track with another expiry than field 14', d: data({ track: { ...TRACK_OF, expiry: '2901' }, entryMode: '90' }), checks: [], refusal: 'SECURITY_VIOLATION/TRACK' },
  { name: 'RELAXED: a disagreeing track is refused too', d: data({ track: { ...TRACK_OF, expiry: '2901' } }), policy: 'RELAXED', checks: [], refusal: 'SECURITY_VIOLATION/TRACK' },
  { name: 'STRICT: a swipe of a virtual card', d: data({ track: TRACK_OF, entryMode: '90' }), card: VIRT, checks: [], refusal: 'SECURITY_VIOLATION/VIRTUAL_CARD_PRESENT' },
  { name: 'STRICT: a chip read of a virtual card', d: data({ arqc: ARQC, entryMode: '07' }), card: VIRT, checks: [], refusal: 'SECURITY_VIOLATION/VIRTUAL_CARD_PRESENT' },
  { name: 'RELAXED: a virtual card\'s chip entry without card data passes', d: data({ entryMode: '05' }), card: VIRT, policy: 'RELAXED', checks: [], refusal: null },
  { name: 'STRICT swipe without a track', d: data({ entryMode: '90' }), checks: [], refusal: 'SECURITY_VIOLATION/TRACK_MISSING' },
  { name: 'swipe: the track\'s CVV with service code 201', d: data({ track: TRACK_OF, entryMode: '02' }), checks: ['CVV:201'], refusal: null },
  { name: 'chip read: the track-2 equivalent\'s iCVV (999), then the ARQC', d: data({ track: TRACK_OF, entryMode: '05', arqc: ARQC }), checks: ['iCVV:999', 'ARQC'], refusal: null },
  { name: 'STRICT chip read without an ARQC', d: data({ entryMode: '05', track: TRACK_OF }), checks: ['iCVV:999'], refusal: 'SECURITY_VIOLATION/ARQC_MISSING' },
  { name: 'RELAXED chip read without an ARQC', d: data({ entryMode: '05' }), policy: 'RELAXED', checks: [], refusal: null },
  { name: 'STRICT card-not-present without CVV2', d: data({ entryMode: '81' }), checks: [], refusal: 'SECURITY_VIOLATION/CVV2_MISSING' },
  { name: 'card-not-present with a credential on file: no CVV2 needed', d: data({ entryMode: '10', cof: true }), checks: [], refusal: null },
  { name: 'CVV2 of a reset card: its generation as service code', d: data({ entryMode: '01', cvv2: '123' }), card: VIRT, checks: ['CVV2:002'], refusal: null },
  { name: 'CVV2 of a card never reset: 000', d: data({ entryMode: '81', cvv2: '123' }), checks: ['CVV2:000'], refusal: null },
  { name: 'STRICT cash without a PIN block: PIN_REQUIRED', d: data({ entryMode: '05', arqc: ARQC }), pc: '01', checks: [], refusal: 'PIN_REQUIRED/PIN_MISSING' },
  { name: 'RELAXED cash without a PIN block', d: data({}), pc: '01', policy: 'RELAXED', checks: [], refusal: null },
  { name: 'a PIN is verified when sent, cash or not', d: data({ pinBlock: Buffer.alloc(8) }), checks: ['PIN'], refusal: null },
  { name: 'a PIN on a card without a PVV: 55', d: data({ pinBlock: Buffer.alloc(8), cvv2: '123' }), card: VIRT, checks: ['CVV2:002'], refusal: 'INCORRECT_PIN/NO_PVV' },
  { name: 'order: CVV2, track CVV, PIN, ARQC', d: data({ cvv2: '123', track: TRACK_OF, pinBlock: Buffer.alloc(8), arqc: ARQC, entryMode: '90' }), checks: ['CVV2:000', 'CVV:201', 'PIN', 'ARQC'], refusal: null },
  { name: 'a credit is verified on what it carries only', d: data({ entryMode: '81', expiry: undefined, f14: undefined }), kind: 'REFUND', pc: '20', checks: [], refusal: null },
  { name: 'a credit\'s CVV2 is still verified', d: data({ entryMode: '81', cvv2: '123' }), kind: 'PAYMENT_CREDIT', pc: '28', checks: ['CVV2:000'], refusal: null },
  { name: 'STRICT balance inquiry by chip needs its ARQC', d: data({ entryMode: '05', expiry: undefined, f14: undefined }), kind: 'INQUIRY', pc: '30', checks: [], refusal: 'SECURITY_VIOLATION/ARQC_MISSING' },
];

function shape(p: VerificationPlan): { checks: string[]; refusal: string | null } {
  return {
    checks: p.steps.map((s) => (s.check === 'CVV2' || s.check === 'CVV' ? `${s.detail}:${s.serviceCode}` : s.check)),
    refusal: p.refusal === null ? null : `${p.refusal.reason}/${p.refusal.detail}`,
  };
}

t.test('verification rules, one row per case', async (t) => {
  for (const r of ROWS) {
    const plan = planVerification({ data: r.d, card: r.card ?? PHYS, policy: r.policy ?? 'STRICT', kind: r.kind ?? 'DEBIT', processingCode: r.pc ?? '00' });
    t.same(shape(plan), { checks: r.checks, refusal: r.refusal }, r.name);
  }
});

import t from 'tap';
import { Framer, frame } from '../switch/net/framer.js';

function collect(max?: number) {
  const got = { frames: [] as string[], keepAlives: 0, oversize: [] as number[] };
  const f = new Framer({
    frame: (b) => got.frames.push(b.toString('latin1')),
    keepAlive: () => got.keepAlives++,
    oversize: (n) => got.oversize.push(n),
  }, max);
  return { f, got };
}

t.test('whole frames in one chunk, keep-alives ignored', async (t) => {
  const { f, got } = collect();
  f.push(Buffer.concat([frame(Buffer.from('abc')), Buffer.from([0, 0]), frame(Buffer.from('de'))]));
  t.same(got.frames, ['abc', 'de']);
  t.equal(got.keepAlives, 1);
});

t.test('frames split at every possible byte boundary are reassembled', async (t) => {
  const stream = Buffer.concat([frame(Buffer.from('hello')), Buffer.from([0, 0]), frame(Buffer.alloc(300, 65)), frame(Buffer.from('x'))]);
  for (let cut1 = 0; cut1 < stream.length; cut1++) {
    for (const cut2 of [cut1 + 1, cut1 + 3, stream.length]) {
      const { f, got } = collect();
      f.push(stream.subarray(0, cut1));
      f.push(stream.subarray(cut1, Math.min(cut2, stream.length)));
      f.push(stream.subarray(Math.min(cut2, stream.length)));
      if (got.frames.length !== 3 || got.frames[0] !== 'hello' || got.frames[1]?.length !== 300 || got.frames[2] !== 'x') {
        t.fail(`split at ${cut1}/${cut2}: ${JSON.stringify(got.frames.map((s) => s.length))}`);
        return;
      }
    }
  }
  t.pass('every split point reassembles');
});

t.test('byte-by-byte delivery', async (t) => {
  const stream = Buffer.concat([frame(Buffer.from('one')), frame(Buffer.from('two'))]);
  const { f, got } = collect();
  for (const b of stream) f.push(Buffer.from([b]));
  t.same(got.frames, ['one', 'two']);
});

t.test('a frame over the limit is reported once and nothing after it is parsed', async (t) => {
  const { f, got } = collect(8192);
  const head = Buffer.alloc(2); head.writeUInt16BE(9000);
  f.push(Buffer.concat([frame(Buffer.from('ok')), head, Buffer.alloc(100)]));
  f.push(frame(Buffer.from('after')));
  t.same(got.frames, ['ok']);
  t.same(got.oversize, [9000]);
});

t.test('exactly 8 KiB is accepted', async (t) => {
  const { f, got } = collect(8192);
  f.push(frame(Buffer.alloc(8192, 66)));
  t.equal(got.frames[0]?.length, 8192);
  t.same(got.oversize, []);
});

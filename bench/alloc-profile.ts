// Where the switch allocates, per function: a preload for the switch process under
// `npm run bench:switch`, which samples every allocation (collected or not) for a few seconds of
// load and prints the functions that allocated most, by bytes, on the switch's stdout:
//
//   BENCH_PLACEMENTS=main BENCH_PARTS=rates BENCH_RATES=1000 BENCH_SECONDS=8 \
//   BENCH_NODE_ARGS=--import=./dist/bench/alloc-profile.js BENCH_SWITCH_STDOUT=/tmp/alloc.txt \
//   npm run bench:switch
//
// Divide the bytes per second by the offered rate for the bytes per answer. Allocation is the
// figure to lower for fewer and shorter young-generation collections (docs/architecture.md, "Where
// the tail comes from"); unlike latency it hardly varies from run to run on a shared machine.
// It uses the inspector's sampling heap profiler with objects collected by either collector
// included (without them it reports only what is still alive at the end).
//
// Options (environment of the switch process): ALLOC_PROFILE_DELAY_MS (2000: after start-up and
// warm-up), ALLOC_PROFILE_MS (4000: how long to sample), ALLOC_PROFILE_TOP (30: lines printed),
// ALLOC_PROFILE_FILE (also write the raw .heapprofile there, for Chrome DevTools).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

interface ProfileNode { callFrame: { functionName: string; url: string; lineNumber: number }; selfSize: number; children: ProfileNode[] }

const num = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : dflt;
};

/** Self bytes per function (name file:line), summed over the profile's call tree. */
export function bytesByFunction(head: ProfileNode): Map<string, number> {
  const out = new Map<string, number>();
  const stack: ProfileNode[] = [head];
  while (stack.length > 0) {
    const n = stack.pop()!;
    const f = n.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').pop() || '(native)'}:${f.lineNumber + 1}`;
    out.set(key, (out.get(key) ?? 0) + n.selfSize);
    for (const c of n.children) stack.push(c);
  }
  return out;
}

function start(): void {
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}): Promise<unknown> =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  const sampleMs = num('ALLOC_PROFILE_MS', 4000);
  setTimeout(() => {
    void (async () => {
      await post('HeapProfiler.enable');
      await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      await new Promise((r) => setTimeout(r, sampleMs));
      const { profile } = await post('HeapProfiler.stopSampling') as { profile: { head: ProfileNode } };
      const file = process.env.ALLOC_PROFILE_FILE;
      if (file) writeFileSync(file, JSON.stringify(profile));
      const by = [...bytesByFunction(profile.head)].sort((a, b) => b[1] - a[1]);
      const total = by.reduce((s, [, v]) => s + v, 0);
      const perSecond = (b: number) => (b / (sampleMs / 1000) / 1e6).toFixed(2);
      const lines = [`alloc-profile: ${perSecond(total)} MB/s allocated over ${sampleMs} ms (divide by the offered rate for bytes per answer); top functions by bytes:`];
      for (const [k, v] of by.slice(0, num('ALLOC_PROFILE_TOP', 30))) lines.push(`  ${perSecond(v).padStart(8)} MB/s  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
      process.stdout.write(lines.join('\n') + '\n');
      session.disconnect();
    })().catch((err: unknown) => process.stdout.write(`alloc-profile: failed: ${(err as Error).message}\n`));
  }, num('ALLOC_PROFILE_DELAY_MS', 2000)).unref();
}

start();

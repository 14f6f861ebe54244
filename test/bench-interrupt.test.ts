// An interrupted `npm run bench:switch` leaves nothing behind: the processes it started are
// stopped and their data directories (gigabytes after a soak) removed, and it exits 143 on
// SIGTERM. The bench runs from the sources with its temporary directories in a private TMPDIR.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

t.test('SIGTERM during a run: its processes are gone, its directories removed', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'antaca-interrupt-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const child = spawn(process.execPath, ['--import=tsx', 'bench/switch.ts'], {
    env: { ...process.env, TMPDIR: tmp, BENCH_PLACEMENTS: 'floor', BENCH_PARTS: 'rates', BENCH_RATES: '200', BENCH_SECONDS: '60', BENCH_WARMUP_S: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // The floor's process is up once its line is printed; its Redis and directory exist by then.
  const started = Date.now();
  while (!/floor: pid \d+/.test(out) && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 100));
  t.match(out, /floor: pid \d+/, 'the run started');
  const floorPid = Number(/floor: pid (\d+)/.exec(out)?.[1]);
  t.ok(readdirSync(tmp).some((d) => d.startsWith('antaca-bench-switch-')), 'the run made its directory');
  child.kill('SIGTERM');
  t.equal(await exited, 143, 'exits 143 on SIGTERM');
  t.match(out, /interrupted \(SIGTERM\)/);
  t.same(readdirSync(tmp).filter((d) => d.startsWith('antaca-bench-')), [], 'no directory left');
  // SIGKILL is delivered at once; a killed child whose parent has exited may stay a zombie until
  // PID 1 reaps it, which is gone all the same.
  const running = (): boolean => {
    try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${floorPid}/status`, 'utf8')); } catch { return false; }
  };
  for (let i = 0; i < 50 && running(); i++) await new Promise((r) => setTimeout(r, 100));
  t.notOk(running(), 'the floor process is gone');
  // redis-server runs in its data directory: no live process may still have its cwd under TMPDIR.
  const inTmp = (): string[] => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try { return readlinkSync(`/proc/${pid}/cwd`).startsWith(tmp) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
  });
  for (let i = 0; i < 50 && inTmp().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(inTmp(), [], 'no redis-server (or anything else) still runs in the removed directories');
});

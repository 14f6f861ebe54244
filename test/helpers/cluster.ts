// A real 3-master Redis Cluster on loopback for one test: three `redis-server --cluster-enabled yes`
// processes on free ports in temp dirs, joined with `redis-cli --cluster create`, ready when every
// node reports cluster_state:ok; all stopped (and their dirs removed) at teardown.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { startManagedRedis, type AppendFsync, type ManagedRedis } from '../../ledger/redis-server.js';

export interface TestCluster {
  nodes: ManagedRedis[];
  seeds: { host: string; port: number }[];
  /** A cluster client (auto-pipelining on); closed at teardown. */
  client: Cluster;
  /** Another client, closed at teardown. */
  connect(opts?: { enableAutoPipelining?: boolean }): Cluster;
}

interface Teardown { teardown(fn: () => unknown): void }

export async function startTestCluster(t: Teardown, opts: { masters?: number; appendfsync?: AppendFsync } = {}): Promise<TestCluster> {
  const masters = opts.masters ?? 3;
  const nodes: ManagedRedis[] = [];
  const dirs: string[] = [];
  const clients: Cluster[] = [];
  t.teardown(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(nodes.map((n) => n.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  for (let i = 0; i < masters; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'antaca-cluster-'));
    dirs.push(dir);
    nodes.push(await startManagedRedis({
      dir, appendfsync: opts.appendfsync ?? 'everysec',
      extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '3000'],
    }));
  }
  const seeds = nodes.map((n) => ({ host: n.host, port: n.port }));
  await run('redis-cli', ['--cluster', 'create', ...seeds.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', '0', '--cluster-yes']);
  await waitClusterOk(seeds);
  const connect = (o: { enableAutoPipelining?: boolean } = {}) => {
    const c = new Cluster(seeds, { enableAutoPipelining: o.enableAutoPipelining ?? true, redisOptions: { maxRetriesPerRequest: 2 } });
    clients.push(c);
    return c;
  };
  const client = connect();
  await new Promise<void>((res, rej) => { client.once('ready', res); client.once('error', rej); });
  return { nodes, seeds, client, connect };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.once('error', rej);
    p.once('exit', (code) => (code === 0 ? res() : rej(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${out.slice(-500)}`))));
  });
}

async function waitClusterOk(seeds: { host: string; port: number }[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const conns = seeds.map((s) => new Redis(s.port, s.host, { maxRetriesPerRequest: 1 }));
  try {
    while (Date.now() < deadline) {
      const infos = await Promise.all(conns.map((c) => c.cluster('INFO') as Promise<string>));
      if (infos.every((i) => i.includes('cluster_state:ok'))) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('cluster did not reach cluster_state:ok');
  } finally {
    for (const c of conns) c.disconnect();
  }
}

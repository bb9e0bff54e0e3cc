/**
 * `npm run demo:cluster`: etcd, three drproxy replicas sharing state through it and two sites,
 * all on 127.0.0.1. Traffic goes to every replica in turn; the leader is killed (another takes
 * over), then the primary site (every replica moves to the standby with one new epoch).
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { stringify } from 'yaml';
import { cleanup, paint, portFree, say, showProxyLog, start } from './procs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const HOST = 'demo.localhost';
const ETCD = { client: 18379, peer: 18380 };
const SITES = { 'a1-primary': 18181, 'b1-standby': 18182 } as const;
const REPLICAS = [
  { id: 'r1', port: 18281, admin: 18291 },
  { id: 'r2', port: 18282, admin: 18292 },
  { id: 'r3', port: 18283, admin: 18293 },
];
const TOKEN = 'demo-viewer-token-0123456789';
/** The replicas' log lines worth watching here: leadership, backends, flips. */
const SHOWN = /"msg":"(failover |leader|the cluster has no leader|took over|stepped down|backend (down|up|ejected)|tenant frozen)/;

function config(r: (typeof REPLICAS)[number]): Record<string, unknown> {
  return {
    listen: `127.0.0.1:${r.port}`,
    admin: { listen: `127.0.0.1:${r.admin}`, tokens: [{ name: 'demo', role: 'viewer', token_env: 'DRPROXY_DEMO_TOKEN' }] },
    state: { etcd: { endpoints: [`http://127.0.0.1:${ETCD.client}`], prefix: '/drproxy-demo', lease_ttl: '2s', replica_id: r.id } },
    log: { level: 'warn' },
    defaults: {
      health_check: { path: '/healthz', interval: '250ms', timeout: '200ms', rise: 2, fall: 2, jitter: 0.1 },
      failover: { mode: 'auto', failback: 'manual', min_interval: '10s', drain_timeout: '2s', hold_requests: '5s' },
    },
    tenants: {
      demo: {
        tier: 'BC',
        hosts: [HOST],
        sites: Object.entries(SITES).map(([name, port]) => ({ name, backends: [`http://127.0.0.1:${port}`] })),
      },
    },
  };
}

async function leader(alive: Map<string, ChildProcess>): Promise<string | undefined> {
  for (const r of REPLICAS) {
    if (!alive.has(r.id)) continue;
    try {
      const res = await request(`http://127.0.0.1:${r.admin}/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const s = (await res.body.json()) as { cluster?: { leader?: string } };
      if (s.cluster?.leader) return s.cluster.leader;
    } catch {
      /* that replica is not answering: ask the next */
    }
  }
  return undefined;
}

async function probe(n: number, r: (typeof REPLICAS)[number]): Promise<{ ok: boolean; site?: string; epoch?: string }> {
  try {
    const res = await request(`http://127.0.0.1:${r.port}/hello/${n}`, { headers: { host: HOST }, headersTimeout: 6000 });
    const text = await res.body.text();
    if (res.statusCode !== 200) {
      say(paint(31, `#${String(n).padStart(3)}  via ${r.id}  ${res.statusCode}  ${text.trim()}`));
      return { ok: false };
    }
    const j = JSON.parse(text) as { site: string; epoch: string };
    say(`#${String(n).padStart(3)}  via ${r.id}  200  served by ${paint(j.site === 'a1-primary' ? 32 : 36, j.site.padEnd(10))}  epoch ${j.epoch}`);
    return { ok: true, site: j.site, epoch: j.epoch };
  } catch (err) {
    say(paint(31, `#${String(n).padStart(3)}  via ${r.id}  error: ${(err as Error).message}`));
    return { ok: false };
  }
}

async function startAll(dir: string): Promise<{ sites: Record<string, ChildProcess>; alive: Map<string, ChildProcess> }> {
  say(`starting etcd on 127.0.0.1:${ETCD.client}`);
  await start('etcd', ['--name', 'demo', '--data-dir', join(dir, 'etcd'), '--listen-client-urls', `http://127.0.0.1:${ETCD.client}`, '--advertise-client-urls', `http://127.0.0.1:${ETCD.client}`,
    '--listen-peer-urls', `http://127.0.0.1:${ETCD.peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${ETCD.peer}`, '--initial-cluster', `demo=http://127.0.0.1:${ETCD.peer}`], ETCD.client, 'etcd');
  say('starting two sites: a1-primary (region A) and b1-standby (region B)');
  const sites: Record<string, ChildProcess> = {};
  for (const [name, port] of Object.entries(SITES)) sites[name] = await start(process.execPath, [`${root}dist/demo/site.js`, name, String(port)], port, name);
  const alive = new Map<string, ChildProcess>();
  for (const r of REPLICAS) {
    const file = join(dir, `${r.id}.yaml`);
    await writeFile(file, stringify(config(r)));
    say(`starting drproxy replica ${r.id} on 127.0.0.1:${r.port}`);
    alive.set(r.id, await start(process.execPath, [`${root}dist/cli.js`, '--config', file], r.port, r.id, (line) => SHOWN.test(line) && showProxyLog(r.id, line), { ...process.env, DRPROXY_DEMO_TOKEN: TOKEN }));
  }
  return { sites, alive };
}

async function main(): Promise<void> {
  if (spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status !== 0) {
    say('skipped: etcd is not installed (Debian: apt-get install etcd-server); the single-process demo is `npm run demo`');
    return;
  }
  for (const port of [ETCD.client, ETCD.peer, ...Object.values(SITES), ...REPLICAS.flatMap((r) => [r.port, r.admin])]) {
    if (!(await portFree(port))) throw new Error(`port ${port} on 127.0.0.1 is in use; the cluster demo needs 18181-18182, 18281-18283, 18291-18293, 18379-18380`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'drproxy-demo-cluster-'));
  try {
    await run(dir);
  } finally {
    cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

async function run(dir: string): Promise<void> {
  const { sites, alive } = await startAll(dir);
  say('sending a request every 100 ms, to each replica in turn …');
  let failed = 0;
  let killedPrimaryAt = 0;
  const after = new Map<string, string>();
  for (let n = 1; n <= 140; n++) {
    if (n === 20) {
      const id = await leader(alive);
      if (id !== undefined) {
        say(paint(31, `>>> killing the leader, replica ${id}, with SIGKILL`));
        alive.get(id)!.kill('SIGKILL');
        alive.delete(id);
      }
    }
    if (n === 50) {
      say(paint(31, '>>> killing the primary site a1-primary with SIGKILL'));
      sites['a1-primary']!.kill('SIGKILL');
      killedPrimaryAt = Date.now();
    }
    const live = REPLICAS.filter((r) => alive.has(r.id));
    const r = live[n % live.length]!;
    const res = await probe(n, r);
    if (!res.ok) failed++;
    if (killedPrimaryAt && res.site === 'b1-standby') after.set(r.id, res.epoch!);
    if (after.size === live.length && n > 80) break;
    await new Promise((done) => setTimeout(done, 100));
  }
  process.stdout.write('\n');
  if (after.size === 0) throw new Error('no replica moved to b1-standby');
  const epochs = [...new Set(after.values())];
  say(paint(1, `every live replica (${[...after.keys()].join(', ')}) routes to b1-standby with epoch ${epochs.join(', ')}; ${failed} request(s) failed`));
  say(epochs.length === 1 ? 'one epoch across the replicas: the flip was decided once, by the leader, and acknowledged by every replica.' : paint(31, 'replicas disagree on the epoch!'));
}

process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

main().catch((err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  cleanup();
  process.exitCode = 1;
});

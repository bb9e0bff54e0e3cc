/**
 * Real etcd members for tests: 1 or 3 `etcd` processes on 127.0.0.1 with free ports and temp
 * data dirs, fast heartbeats, polled until healthy; members can be stopped, killed, paused
 * (SIGSTOP) and resumed, and everything is removed by `stop()`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Etcd3 } from 'etcd3';
import { EtcdClient } from '../../src/cluster/etcd.js';
import { waitFor } from './poll.js';

/** Whether an `etcd` binary is on PATH (tests skip with a clear message when not). */
export const ETCD_INSTALLED = spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
export const ETCD_SKIP_REASON = 'etcd is not installed (apt-get install etcd-server): skipping the tests that need a real etcd';
// CI installs etcd (.ci/run): a missing binary there is a failing build, not a skipped suite.
if (!ETCD_INSTALLED && process.env.CI) throw new Error('etcd is missing: .ci/run installs the Debian package "etcd-server"; CI must run the clustered-mode tests');

export interface EtcdMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  proc: ChildProcess | undefined;
  output: string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** Every member's client URL. */
  endpoints: string[];
  /** SIGKILL (`signal` 'SIGKILL') or SIGTERM one member and wait for it to exit. */
  stopMember(i: number, signal?: NodeJS.Signals): Promise<void>;
  /** Start a stopped member again on its ports and data dir. */
  startMember(i: number): Promise<void>;
  pause(i: number): void;
  resume(i: number): void;
  /** Stop every member and remove the data dirs. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function spawnMember(m: EtcdMember, initialCluster: string, state: 'new' | 'existing'): void {
  const proc = spawn(
    'etcd',
    [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      '--initial-cluster-token=drproxy-test',
      // Fast elections: a lost member is noticed in ~0.5 s instead of 1 s.
      '--heartbeat-interval=50',
      '--election-timeout=500',
      '--logger=zap',
      '--log-level=error',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  m.proc = proc;
  const keep = (chunk: Buffer): void => {
    m.output = (m.output + chunk.toString()).slice(-8000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  proc.on('exit', () => {
    if (m.proc === proc) m.proc = undefined;
  });
}

/** Polls a member's /health until it reports a leader. */
async function waitHealthy(m: EtcdMember, timeout = 20_000): Promise<void> {
  await waitFor(
    async () => {
      if (m.proc === undefined) throw new Error(`etcd ${m.name} exited: ${m.output}`);
      const res = await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: string };
      return res.ok && body.health === 'true';
    },
    { timeout, interval: 50, what: `etcd ${m.name} healthy` },
  );
}

/**
 * Where members keep their data: in memory (/dev/shm) when it has room for a few clusters' 64 MB
 * WAL segments, since a WAL fsync on a disk shared with a busy test run can stall etcd past a
 * test's 2 s lease; otherwise the temporary directory.
 */
async function dataRoot(): Promise<string> {
  try {
    const fs = await statfs('/dev/shm');
    if (fs.bavail * fs.bsize >= 2 * 1024 ** 3) return '/dev/shm';
  } catch {
    // No /dev/shm: the temporary directory.
  }
  return tmpdir();
}

export async function startEtcd(size: 1 | 3 = 1): Promise<EtcdCluster> {
  const root = await mkdtemp(join(await dataRoot(), 'drproxy-etcd-'));
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(root, `m${i}`),
      proc: undefined,
      output: '',
    });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const exited = (m: EtcdMember): Promise<void> =>
    new Promise((resolve) => (m.proc === undefined || m.proc.exitCode !== null ? resolve() : m.proc.once('exit', () => resolve())));

  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async stopMember(i, signal = 'SIGTERM') {
      const m = members[i]!;
      const done = exited(m);
      m.proc?.kill('SIGCONT');
      m.proc?.kill(signal);
      await done;
    },
    async startMember(i) {
      spawnMember(members[i]!, initialCluster, 'existing');
      await waitHealthy(members[i]!);
    },
    pause: (i) => void members[i]!.proc?.kill('SIGSTOP'),
    resume: (i) => void members[i]!.proc?.kill('SIGCONT'),
    async stop() {
      await Promise.all(members.map((_, i) => cluster.stopMember(i, 'SIGKILL')));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    for (const m of members) spawnMember(m, initialCluster, 'new');
    await Promise.all(members.map((m) => waitHealthy(m)));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

export interface EtcdSuite {
  etcd: EtcdCluster;
  /** A client straight to the members (no relay). */
  direct: EtcdClient;
  /** Runs `fn` after the current test (last registered, first run). */
  cleanup(...fns: Array<() => unknown>): void;
}

/**
 * Registers the hooks of a describe block on one etcd cluster: started before the first test,
 * per-test cleanups after each, stopped after the last. Fields are set once beforeAll ran.
 */
export function useEtcd(size: 1 | 3 = 1, requestTimeout = 600): EtcdSuite {
  const cleanups: Array<() => unknown> = [];
  const suite = { cleanup: (...fns: Array<() => unknown>) => void cleanups.push(...fns) } as EtcdSuite;
  beforeAll(async () => {
    suite.etcd = await startEtcd(size);
    suite.direct = new EtcdClient({ endpoints: suite.etcd.endpoints, requestTimeout, dialTimeout: 2000 });
  });
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    suite.direct?.close();
    await suite.etcd?.stop();
  });
  return suite;
}

/**
 * Compacts etcd's history up to `revision`, as an operator's `etcdctl compact` would; through the
 * etcd3 client, since Debian's etcd-server package has no etcdctl.
 */
export async function compactEtcd(endpoint: string, revision: number): Promise<void> {
  const client = new Etcd3({ hosts: [endpoint] });
  try {
    await client.kv.compact({ revision: String(revision), physical: true });
  } finally {
    client.close();
  }
}

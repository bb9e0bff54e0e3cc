/**
 * Clustered mode for tests: real etcd members (helpers/etcd.ts) and several drproxy child
 * processes sharing them, each reaching every member through its own TCP relay, so that a test
 * can cut or black-hole one replica's link to etcd while the others keep theirs.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startEtcd, type EtcdCluster } from './etcd.js';
import { startRelay, type TcpRelay } from './tcp-relay.js';
import { spawnProxy, type ChildProxy } from './proxy.js';
import { OPERATOR, adminTokens } from './admin.js';
import { waitFor } from './poll.js';
import { afterEach } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './upstream.js';

/** One replica's links to etcd: one relay per member. */
export interface EtcdLink {
  relays: TcpRelay[];
  cut(): void;
  blackhole(): void;
  restore(): void;
}

export interface Replica {
  id: string;
  child: ChildProxy;
  link: EtcdLink;
}

export interface ClusterOptions {
  replicas: number;
  /** Tenants section of every replica's config, or of replica i (one reaching a site through a relay). */
  tenants: Record<string, unknown> | ((i: number) => Record<string, unknown>);
  defaults?: Record<string, unknown>;
  /** Extra `state.etcd` fields (lease_ttl, quorum, coordinator_loss…). */
  etcd?: Record<string, unknown>;
  /** Reuse these members (a test that stops some); else one member is started and stopped with the cluster. */
  members?: EtcdCluster;
  /** Environment of replica i (failpoints). */
  env?: (i: number) => Record<string, string>;
  /** Other top-level sections of every replica's config (`drills`). */
  config?: Record<string, unknown>;
  /** The admin section of every replica, or of replica i (default: adminTokens()). */
  admin?: Record<string, unknown> | ((i: number) => Record<string, unknown>);
}

export interface Cluster {
  etcd: EtcdCluster;
  prefix: string;
  replicas: Replica[];
  /** The replica whose /status says it leads, once one does. */
  leader(): Promise<Replica>;
  /** GET the admin API of a replica (operator token). */
  status(r: Replica): Promise<Record<string, unknown>>;
  /** Start replica `i` again after it was killed (same id, same config). */
  restart(i: number): Promise<Replica>;
  stop(): Promise<void>;
}

async function link(endpoints: string[]): Promise<EtcdLink> {
  const relays = await Promise.all(endpoints.map((e) => startRelay(e)));
  return {
    relays,
    cut: () => relays.forEach((r) => r.cut()),
    blackhole: () => relays.forEach((r) => r.blackhole()),
    restore: () => relays.forEach((r) => r.restore()),
  };
}

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const etcd = opts.members ?? (await startEtcd(1));
  const prefix = `/drproxy-test-${randomBytes(4).toString('hex')}`;
  const links: EtcdLink[] = [];
  const docs: Record<string, unknown>[] = [];
  for (let i = 0; i < opts.replicas; i++) {
    const l = await link(etcd.endpoints);
    links.push(l);
    docs.push({
      ...opts.config,
      admin: (typeof opts.admin === 'function' ? opts.admin(i) : opts.admin) ?? adminTokens(),
      ...(opts.defaults && { defaults: opts.defaults }),
      state: { etcd: { endpoints: l.relays.map((r) => r.url), prefix, lease_ttl: '2s', replica_id: `r${i}`, ...opts.etcd } },
      tenants: typeof opts.tenants === 'function' ? opts.tenants(i) : opts.tenants,
    });
  }
  const status = async (r: Replica): Promise<Record<string, unknown>> => {
    const res = await request(`${r.child.adminUrl}/status`, { headers: { authorization: `Bearer ${OPERATOR}` } });
    return (await res.body.json()) as Record<string, unknown>;
  };
  const spawnOne = async (i: number): Promise<Replica> => ({ id: `r${i}`, child: await spawnProxy(docs[i]!, undefined, opts.env?.(i) ?? {}), link: links[i]! });
  // r0 first, and the others once it leads: r0 is the first leader, whatever the machine's load.
  const replicas: Replica[] = [await spawnOne(0)];
  await waitFor(async () => {
    const s = (await status(replicas[0]!).catch(() => undefined)) as { cluster?: { leading?: boolean } } | undefined;
    return s?.cluster?.leading === true;
  }, { what: 'r0 leads', timeout: 15_000 });
  for (let i = 1; i < docs.length; i++) replicas.push(await spawnOne(i));
  const cluster: Cluster = {
    etcd,
    prefix,
    replicas,
    status,
    async leader() {
      let found: Replica | undefined;
      await waitFor(async () => {
        for (const r of cluster.replicas) {
          if (r.child.proc.exitCode !== null || r.child.proc.signalCode !== null) continue;
          const s = (await status(r).catch(() => undefined)) as { cluster?: { leader?: string; replica?: string } } | undefined;
          if (s?.cluster?.leader !== undefined && s.cluster.leader === s.cluster.replica) found = r;
        }
        return found !== undefined;
      }, { what: 'a replica that leads', timeout: 15_000 });
      return found!;
    },
    async restart(i) {
      cluster.replicas[i] = await spawnOne(i);
      return cluster.replicas[i]!;
    },
    async stop() {
      await Promise.all(cluster.replicas.map((r) => r.child.kill('SIGKILL')));
      await Promise.all(links.flatMap((l) => l.relays.map((r) => r.close())));
      if (!opts.members) await etcd.stop();
    },
  };
  return cluster;
}

/** GET an admin API path of a replica (operator token), parsed. */
export async function adminJson(r: Replica, path: string): Promise<Record<string, any>> {
  const res = await request(`${r.child.adminUrl}${path}`, { headers: { authorization: `Bearer ${OPERATOR}` } });
  return (await res.body.json()) as Record<string, any>;
}

/** One request through a replica: status, the upstream's site and the epoch it saw, drproxy's error code, time taken. */
export async function answer(r: Replica, host: string): Promise<{ status: number; site?: string; epoch?: string; error?: string; ms: number }> {
  const t0 = performance.now();
  const res = await request(r.child.url, { headers: { host }, headersTimeout: 10_000 });
  await res.body.dump();
  const h = res.headers;
  return { status: res.statusCode, site: h['x-site'] as string | undefined, epoch: h['x-seen-epoch'] as string | undefined, error: h['x-drproxy-error'] as string | undefined, ms: performance.now() - t0 };
}

/**
 * For a describe block: the upstreams and the cluster a test starts through this are stopped
 * after it (the cluster first).
 */
export function useClusterTest(): { upstreams(...sites: string[]): Promise<Upstream[]>; start(o: ClusterOptions): Promise<Cluster> } {
  let cluster: Cluster | undefined;
  const ups: Upstream[] = [];
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    await stopAll(...ups.splice(0));
  });
  return {
    async upstreams(...sites) {
      const started = await Promise.all(sites.map((site) => startUpstream(site)));
      ups.push(...started);
      return started;
    },
    async start(o) {
      cluster = await startCluster(o);
      return cluster;
    },
  };
}

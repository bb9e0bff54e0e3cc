/**
 * What the clustered scenario tests do to one replica of test/helpers/cluster.ts: send an
 * operator action to its admin API, read what it serves, read its audit records and its
 * tenant's state from /status.
 */
import { afterEach } from 'vitest';
import { request } from 'undici';
import { startCluster, type Cluster, type Replica } from './cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './proxy.js';
import { startUpstream, stopAll, type Upstream } from './upstream.js';
import { OPERATOR } from './admin.js';
import { waitFor } from './poll.js';

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** POST an operator action to replica `r` (operator token). */
export async function post(r: Replica, path: string, body: Record<string, unknown>): Promise<Answer> {
  const res = await request(`${r.child.adminUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

/** One request for tenant host `host` through replica `r`: the site and epoch that answered, or the status. */
export async function served(r: Replica, host = 't.example.com'): Promise<{ status: number; site?: string; epoch?: string; error?: string }> {
  const res = await request(`${r.child.url}/`, { headers: { host } });
  const text = await res.body.text();
  if (res.statusCode !== 200) return { status: res.statusCode, error: String(res.headers['x-drproxy-error'] ?? '') };
  const j = JSON.parse(text) as { site: string; headers: Record<string, string> };
  return { status: 200, site: j.site, epoch: j.headers['x-dr-epoch'] };
}

export interface TenantView {
  name: string;
  epoch: number;
  active: string;
  phase: string;
  fenced: string[];
  frozen_cause?: string;
}

/** Tenant `name` in replica `r`'s /status. */
export async function tenantOf(cluster: Cluster, r: Replica, name = 't'): Promise<TenantView> {
  const st = (await cluster.status(r)) as { tenants: TenantView[] };
  return st.tenants.find((t) => t.name === name)!;
}

/** The audit records (`audit: true` JSON lines) replica `r` wrote to its log so far. */
export function auditOf(r: Replica): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of r.child.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (j.audit === true) out.push(j);
    } catch {
      // a partial line
    }
  }
  return out;
}

/** Wait until replica `r` sees every site of tenant `name` available (an unforced failover needs its target up). */
export async function sitesUp(cluster: Cluster, r: Replica, name = 't'): Promise<void> {
  await waitFor(async () => {
    const st = (await cluster.status(r)) as { tenants?: Array<{ name: string; sites: Array<{ available: boolean }> }> };
    return st.tenants?.find((t) => t.name === name)?.sites.every((s) => s.available) === true;
  }, { what: `${r.id} sees every site of ${name} up`, timeout: 10_000 });
}

export interface TwoSiteCluster {
  cluster: Cluster;
  a1: Upstream;
  b1: Upstream;
  /** The replica that leads once every replica serves a1. */
  leader: Replica;
}

/**
 * For a describe block: `start()` runs `replicas` drproxy processes on one etcd in front of
 * upstreams a1 and b1 (tenant t, host t.example.com; `tenant` overrides its config), and
 * resolves once one leads, it sees both sites up and every replica serves a1. Everything is
 * stopped after each test.
 */
export function useTwoSiteCluster(): (replicas: number, tenant?: (a1: Upstream, b1: Upstream) => Record<string, unknown>) => Promise<TwoSiteCluster> {
  let cluster: Cluster | undefined;
  let ups: Upstream[] = [];
  afterEach(async () => {
    await cluster?.stop();
    await stopAll(...ups);
    cluster = undefined;
    ups = [];
  });
  return async (replicas, tenant) => {
    const [a1, b1] = (ups = await Promise.all([startUpstream('a1'), startUpstream('b1')])) as [Upstream, Upstream];
    cluster = await startCluster({
      replicas,
      // Fast, but with room for a loaded machine: a slow answer from a healthy site must not count as down.
      defaults: { health_check: { ...FAST_CHECKS, timeout: '500ms', fall: 3 }, failover: { drain_timeout: '1s' } },
      tenants: { t: tenant?.(a1, b1) ?? twoSiteTenant('t.example.com', a1, b1) },
    });
    const leader = await cluster.leader();
    await sitesUp(cluster, leader);
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });
    return { cluster, a1, b1, leader };
  };
}

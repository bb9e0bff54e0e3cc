/**
 * Issue 18: clustered mode's metrics on real replicas: leadership, replicas, lease validity,
 * serving, leader changes, etcd request latency and acknowledgement latency; `promtool check
 * metrics` passes on a replica's GET /metrics; a replica cut off from etcd shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { startCluster, type Cluster, type Replica } from './helpers/cluster.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { admin, OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';

const PROMTOOL = ['/usr/bin/promtool', '/usr/local/bin/promtool'].find((p) => existsSync(p));

/** GET /metrics; the admin API allows 5 a second per client, so a 429 is waited out. */
async function metrics(r: Replica): Promise<string> {
  for (let tries = 0; ; tries++) {
    const res = await request(`${r.child.adminUrl}/metrics`);
    const text = await res.body.text();
    if (res.statusCode === 200) return text;
    if (res.statusCode !== 429 || tries === 5) throw new Error(`GET /metrics: ${res.statusCode} ${text}`);
    await new Promise((done) => setTimeout(done, 1000));
  }
}

/** The value of a series (exact name and labels as printed), or undefined. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.skipIf(!ETCD_INSTALLED)('clustered mode metrics', () => {
  let cluster: Cluster;
  let a1: Upstream;
  let b1: Upstream;
  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    cluster = await startCluster({ replicas: 2, defaults: { health_check: FAST_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await stopAll(a1, b1);
  });

  it('show the leader, the replicas, the lease, etcd latency and acknowledgement latency', async () => {
    const [r0, r1] = cluster.replicas as [Replica, Replica];
    const keepalives = (m: string) => value(m, 'drproxy_etcd_request_duration_seconds_count{op="lease_keepalive",result="ok"}') ?? 0;
    await waitFor(async () => value(await metrics(r1), 'drproxy_cluster_replicas') === 2, { what: 'r1 sees two replicas', interval: 250 });
    for (const r of [r0, r1]) await waitFor(async () => keepalives(await metrics(r)) >= 1, { what: `${r.id} kept its lease alive`, interval: 250 });
    const m0 = await metrics(r0);
    const m1 = await metrics(r1);
    expect(value(m0, 'drproxy_cluster_leader')).toBe(1);
    expect(value(m1, 'drproxy_cluster_leader')).toBe(0);
    for (const m of [m0, m1]) {
      expect(value(m, 'drproxy_cluster_replicas')).toBe(2);
      expect(value(m, 'drproxy_cluster_lease_valid')).toBe(1);
      expect(value(m, 'drproxy_cluster_serving')).toBe(1);
      expect(value(m, 'drproxy_cluster_leader_changes_total')).toBeGreaterThanOrEqual(1);
      expect(value(m, 'drproxy_etcd_request_duration_seconds_count{op="lease_grant",result="ok"}')).toBeGreaterThanOrEqual(1);
    }
    // A flip: the leader times every replica's acknowledgements.
    const flip = await admin(r0.child.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'b1', reason: 'metrics test' } });
    expect(flip.status).toBe(200);
    await waitFor(async () => (value(await metrics(r0), 'drproxy_cluster_ack_duration_seconds_count{stage="routed"}') ?? 0) >= 1, { what: 'routed acks timed', interval: 250 });
    expect(value(await metrics(r0), 'drproxy_cluster_ack_duration_seconds_count{stage="drained"}')).toBeGreaterThanOrEqual(1);
    if (PROMTOOL) {
      const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: await metrics(r0), encoding: 'utf8', timeout: 30_000 });
      expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
      expect(lint.status).toBe(0);
    }
  }, 30_000);

  it('show a replica cut off from etcd: no lease, not serving', async () => {
    const r1 = cluster.replicas[1]!;
    r1.link.blackhole();
    try {
      await waitFor(async () => {
        const m = await metrics(r1);
        return value(m, 'drproxy_cluster_lease_valid') === 0 && value(m, 'drproxy_cluster_serving') === 0;
      }, { what: 'r1 reports it lost etcd', timeout: 10_000, interval: 250 });
      const failed = (await metrics(r1)).split('\n').filter((l) => l.startsWith('drproxy_etcd_request_duration_seconds_count{') && l.includes('result="error"'));
      expect(failed.reduce((n, l) => n + Number(l.split(' ').pop()), 0)).toBeGreaterThanOrEqual(1);
    } finally {
      r1.link.restore();
    }
    await waitFor(async () => value(await metrics(r1), 'drproxy_cluster_serving') === 1, { what: 'r1 serves again', timeout: 15_000, interval: 250 });
  }, 40_000);
});

/**
 * Clustered mode under server.workers: the leader times every replica's acknowledgements of a
 * flip from the moment it starts waiting, as inline (drproxy_cluster_ack_duration_seconds, both
 * stages), although its own ack reaches etcd only once its workers acknowledged; and the flip's
 * answer carries the drain as its workers counted it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { startCluster, type Cluster, type Replica } from './helpers/cluster.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { admin, OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { parseExposition, value } from './helpers/prom.js';

/** GET /metrics; the admin API allows 5 a second per client, so a 429 is waited out (no fixed sleep: polled). */
async function metrics(r: Replica): Promise<string> {
  let text = '';
  await waitFor(async () => {
    const res = await request(`${r.child.adminUrl}/metrics`);
    text = await res.body.text();
    if (res.statusCode !== 200 && res.statusCode !== 429) throw new Error(`GET /metrics: ${res.statusCode} ${text}`);
    return res.statusCode === 200;
  }, { what: 'GET /metrics answered', interval: 250 });
  return text;
}

const SLOW_MS = 800;

const acks = async (r: Replica, stage: string): Promise<number> => value(parseExposition(await metrics(r)), 'drproxy_cluster_ack_duration_seconds_count', { stage }) ?? 0;

describe.skipIf(!ETCD_INSTALLED)('clustered mode with data-plane workers', () => {
  let cluster: Cluster;
  let a1: Upstream;
  let b1: Upstream;
  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    cluster = await startCluster({ replicas: 2, config: { server: { workers: 1 } }, defaults: { health_check: FAST_CHECKS, failover: { drain_timeout: '3s' } }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    await stopAll(a1, b1);
  });

  it('times the drained and routed acknowledgements of a flip on the leader, and records the drain', async () => {
    const [r0, r1] = cluster.replicas as [Replica, Replica];
    await waitFor(async () => (await cluster.status(r1)).cluster !== undefined && (await cluster.status(r0)).cluster !== undefined, { what: 'both replicas up', interval: 250 });
    // A POST in flight on the leader's worker: its drain lasts ~SLOW_MS, the follower's (idle) does
    // not, so the follower has acknowledged drained long before the leader's own ack goes out.
    const post = request(`${r0.child.url}/slow?ms=${SLOW_MS}`, { method: 'POST', headers: { host: 't.example.com', 'content-type': 'text/plain' }, body: 'x' });
    await waitFor(async () => (await a1.stats()).byPath['/slow'] === 1, { what: 'the POST on a1' });
    const flip = await admin(r0.child.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'b1', reason: 'workers ack test' } });
    expect(flip.status).toBe(200);
    expect((flip.body as { drain?: object }).drain).toMatchObject({ inflight: 1, redispatched: 0, finished: 1, cut: 0, upgrades: 0 });
    const answer = await post;
    expect(answer.statusCode).toBe(200);
    await answer.body.dump();
    await waitFor(async () => (await acks(r0, 'routed')) >= 1, { what: 'routed acks timed', interval: 250 });
    const e = parseExposition(await metrics(r0));
    expect(value(e, 'drproxy_cluster_ack_duration_seconds_count', { stage: 'drained' })).toBe(1);
    // Timed from the leader's wait on, its own workers' drain included.
    expect(value(e, 'drproxy_cluster_ack_duration_seconds_sum', { stage: 'drained' })).toBeGreaterThanOrEqual((SLOW_MS - 100) / 1000);
  }, 30_000);

  it("a follower's drain line counts what its workers drained, not its idle main thread", async () => {
    const [r0, r1] = cluster.replicas as [Replica, Replica];
    // After the first test b1 is active: a POST in flight on the follower's worker, then the failback.
    const post = request(`${r1.child.url}/slow?ms=${SLOW_MS}`, { method: 'POST', headers: { host: 't.example.com', 'content-type': 'text/plain' }, body: 'x' });
    await waitFor(async () => (await b1.stats()).byPath['/slow'] === 1, { what: 'the POST on b1' });
    const flip = await admin(r0.child.adminUrl, 'POST', '/tenants/t/failback', { token: OPERATOR, body: { reason: 'workers follower drain' } });
    expect(flip.status, flip.text).toBe(200);
    const answer = await post;
    expect(answer.statusCode).toBe(200);
    await answer.body.dump();
    const line = await waitFor(
      () => r1.child.output().split('\n').find((l) => l.includes('(following the leader)') && l.includes('"epoch":3')),
      { what: "the follower's drain line" },
    );
    expect(JSON.parse(line)).toMatchObject({ site: 'b1', epoch: 3, inflight: 1, finished: 1, cut: 0 });
  }, 30_000);
});

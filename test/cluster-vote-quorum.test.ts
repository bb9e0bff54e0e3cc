/**
 * Issue 18, "Health by quorum", the pieces together on a real etcd and real upstreams: two
 * replicas, each with its own health checks of the same two sites, publish their votes
 * (cluster/health-votes.ts); a replica that sees a peer's `down` vote for a site it has up
 * probes it at once (failover/probe-now.ts) and publishes its new view; the leader's snapshot
 * is the quorum view (failover/quorum-health.ts). r2's checks are 60 s apart, so only the
 * out-of-schedule probe can explain its vote.
 *  - the primary dies: a quorum sees it down within a probe round trip of r1's vote;
 *  - only r1's link to the primary is cut (issue 18, scenario 8): r2 probes, still sees it up,
 *    and the quorum view never says unavailable.
 */
import { describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { EtcdClient } from '../src/cluster/etcd.js';
import { HealthVotes } from '../src/cluster/health-votes.js';
import { HealthRegistry } from '../src/health/registry.js';
import { newEjectable } from '../src/health/outlier.js';
import { SiteRuntime, snapshotSites } from '../src/failover/site.js';
import { probeSiteNow } from '../src/failover/probe-now.js';
import { quorumHealth, voteOf } from '../src/failover/quorum-health.js';
import type { HealthCheckConfig, SiteConfig } from '../src/config/types.js';
import type { Backend } from '../src/proxy/backend.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startRelay, type TcpRelay } from './helpers/tcp-relay.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON, useEtcd } from './helpers/etcd.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

const FAST = healthCheckConfig({ interval: '100ms', timeout: '300ms', fall: 2, rise: 2 });
const SLOW = healthCheckConfig({ interval: '60s', timeout: '300ms', fall: 2, rise: 2 });

interface Replica {
  id: string;
  sites: SiteRuntime[];
  votes: HealthVotes;
  /** When a peer's down vote made this replica probe (performance.now()). */
  probedAt: number[];
  /** The leader's view of site `a`. */
  quorumA(): { available: boolean; unavailable: boolean; votes: unknown };
}

describe.skipIf(!ETCD_INSTALLED)('health by quorum: votes, out-of-schedule probes, quorum view (real etcd)', () => {
  const s = useEtcd(1);
  let prefix = '';
  let n = 0;

  /** One replica: its own checks of sites a and b, its vote published on every health change, peerDown answered by a probe. */
  async function replica(id: string, origins: { a: string; b: string }, check: HealthCheckConfig): Promise<Replica> {
    const registry = new HealthRegistry();
    const client = new EtcdClient({ endpoints: s.etcd.endpoints, requestTimeout: 600, dialTimeout: 2000 });
    const lease = await client.grantLease(30);
    const votes = new HealthVotes({ client, prefix, replicaId: id, leaseId: lease });
    s.cleanup(
      () => client.close(),
      () => s.direct.revokeLease(lease),
      () => registry.close(),
      () => votes.close(),
    );
    const publish = (): void => void votes.publish('t', voteOf(snapshotSites(sites, Date.now(), 3_600_000), 1));
    const sites = (['a', 'b'] as const).map((name) => {
      const backends = [
        {
          backend: {} as Backend,
          health: registry.acquire(origins[name], check, { onResult: (_r, _s, changed) => changed && publish() }),
          drained: false,
          passive: newEjectable(),
          ejectedSince: 0,
          confirming: false,
        },
      ];
      return new SiteRuntime({ name, backends: [], min_healthy: { kind: 'count', value: 1 }, health_check: check } as unknown as SiteConfig, backends);
    });
    const r: Replica = {
      id,
      sites,
      votes,
      probedAt: [],
      quorumA: () => quorumHealth(snapshotSites(sites, Date.now(), 3_600_000), [...votes.votesFor('t').values()], { quorum: 'majority', live: 2 }).sites[0]!,
    };
    // What the lead wires in the controller: peerDown → probe now → publish the new view.
    votes.on('peerDown', (_tenant, site) => {
      r.probedAt.push(performance.now());
      void probeSiteNow(sites.find((x) => x.name === site)!).then(publish);
    });
    await votes.start();
    registry.start();
    return r;
  }

  async function upstreams(): Promise<[Upstream, Upstream]> {
    prefix = `/q${++n}`;
    const ups: [Upstream, Upstream] = [await startUpstream('a'), await startUpstream('b')];
    s.cleanup(() => stopAll(...ups));
    return ups;
  }

  /** Up at home, and seen up in the other replica's latest vote (not an earlier, part-probed one). */
  const allUp = (r: Replica, other: Replica) =>
    r.sites.every((x) => x.health().available && other.votes.votesFor('t').get(r.id)?.sites[x.name] === 'up');

  it('forms a quorum within a probe round trip of the first down vote when the primary dies', async () => {
    const [a, b] = await upstreams();
    const r1 = await replica('r1', { a: a.url, b: b.url }, FAST);
    const r2 = await replica('r2', { a: a.url, b: b.url }, SLOW);
    await waitFor(() => allUp(r1, r2) && allUp(r2, r1), { what: 'both replicas up and voting' });
    expect(r1.quorumA()).toMatchObject({ available: true, unavailable: false });

    await a.kill();
    await waitFor(() => r2.votes.votesFor('t').get('r1')?.sites.a === 'down', { what: 'r1\u2019s down vote, from its scheduled checks' });
    const voteSeen = performance.now();
    await waitFor(() => r1.quorumA().unavailable, { what: 'a quorum to see a down' });
    const ms = performance.now() - voteSeen;
    expect(r1.quorumA()).toMatchObject({ available: false, unavailable: true, votes: { down: 2, quorum: 2 } });
    expect(r2.probedAt).toHaveLength(1);
    // Two refused probes and two etcd writes (bound loose for a loaded machine); r2's own next
    // check is a minute away.
    expect(ms).toBeLessThan(3000);
  });

  it('moves nothing when only one replica\u2019s link to the primary is cut: the other probes and still sees it up', async () => {
    const [a, b] = await upstreams();
    const link: TcpRelay = await startRelay(a.url);
    s.cleanup(() => link.close());
    const r1 = await replica('r1', { a: link.url, b: b.url }, FAST);
    const r2 = await replica('r2', { a: a.url, b: b.url }, SLOW);
    await waitFor(() => allUp(r1, r2) && allUp(r2, r1), { what: 'both replicas up and voting' });
    const probesBefore = (await a.stats()).healthAt.length;

    link.cut();
    await waitFor(() => r2.probedAt.length === 1, { what: 'r2 to probe a on r1\u2019s down vote' });
    await waitFor(async () => (await a.stats()).healthAt.length > probesBefore, { what: 'r2\u2019s probe at a' });
    expect(r2.sites[0]!.health()).toMatchObject({ available: true });
    expect(r2.votes.ownVote('t')?.sites.a).toBe('up');
    // One of two down: not a quorum. r1 keeps seeing a down on its own checks meanwhile.
    await waitFor(() => r1.sites[0]!.health().unavailable && r2.votes.votesFor('t').get('r1')?.sites.a === 'down', { what: 'r1\u2019s down vote' });
    expect(r1.quorumA()).toMatchObject({ unavailable: false, votes: { up: 1, down: 1 } });
  });
});

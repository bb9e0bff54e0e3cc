/**
 * Split-brain scenario 3: the leader is SIGKILLed in the middle of a flip (after its intent was
 * committed and the old site drained). Another replica leads within lease TTL + 1 s and finishes
 * that flip at its persisted epoch: no second epoch, every replica on the new site.
 */
import { describe, expect, it } from 'vitest';
import { request } from 'undici';
import { ETCD_INSTALLED } from './helpers/etcd.js';
import { useClusterTest, type Replica } from './helpers/cluster.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

async function served(r: Replica): Promise<{ site?: string; epoch?: string }> {
  const res = await request(`${r.child.url}/`, { headers: { host: 't.example.com' } });
  const text = await res.body.text();
  if (res.statusCode !== 200) return {};
  const j = JSON.parse(text) as { site: string; headers: Record<string, string> };
  return { site: j.site, epoch: j.headers['x-dr-epoch'] };
}

describe.skipIf(!ETCD_INSTALLED)('clustered: the leader killed mid-flip', () => {
  const test = useClusterTest();

  it('a new leader within TTL + 1 s finishes the flip at its persisted epoch', async () => {
    const [a1, b1] = await test.upstreams('a1', 'b1');
    const cluster = await test.start({
      replicas: 2,
      defaults: { health_check: FAST_CHECKS, failover: { drain_timeout: '1s' } },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!) },
      // r0 starts first and leads; it dies right after the drain of the flip it runs.
      env: (i): Record<string, string> => (i === 0 ? { DRPROXY_FAILPOINTS: 'flip:after-drain' } : {}),
    });
    const [r0, r1] = cluster.replicas as [Replica, Replica];
    expect(await cluster.leader()).toBe(r0);
    for (const r of cluster.replicas) await waitFor(async () => (await served(r)).site === 'a1', { what: `${r.id} on a1` });

    const died = new Promise<number>((done) => r0.child.proc.once('exit', () => done(Date.now())));
    await a1!.kill('SIGKILL');
    const diedAt = await died;
    expect(r0.child.output()).toContain('failpoint flip:after-drain');

    // The next leader: lease TTL (2s) + 1 s after the old one died, at the latest.
    await waitFor(async () => (await cluster.leader()) === r1, { what: 'r1 leads', timeout: 10_000 });
    expect(Date.now() - diedAt).toBeLessThan(3_000 + 300);
    await waitFor(async () => (await served(r1)).site === 'b1', { what: 'r1 on b1', timeout: 10_000 });
    expect((await served(r1)).epoch).toBe('2');
    const st = (await cluster.status(r1)) as { tenants: Array<{ epoch: number; active: string; phase: string }> };
    expect(st.tenants[0]).toMatchObject({ epoch: 2, active: 'b1', phase: 'active' });
  }, 60_000);
});

/**
 * Issue 18, "Health by quorum": out-of-schedule probes (src/failover/probe-now.ts). A replica
 * that sees a peer's `down` vote probes the site's backends at once: with real upstreams on
 * 127.0.0.1 and a 60 s check interval, backends that died are seen down by probeSiteNow within
 * a few probe round trips (fall = 3 answers, back to back), long before any scheduled check;
 * concurrent calls share one run per backend.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { HealthRegistry } from '../src/health/registry.js';
import { SiteRuntime, type BackendRuntime } from '../src/failover/site.js';
import { newEjectable } from '../src/health/outlier.js';
import { probeSiteNow } from '../src/failover/probe-now.js';
import type { Backend } from '../src/proxy/backend.js';
import type { SiteConfig } from '../src/config/types.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { waitFor } from './helpers/poll.js';

const CHECK = healthCheckConfig({ interval: '60s', timeout: '500ms', fall: 3, rise: 2 });

let registry: HealthRegistry | undefined;
const ups: Upstream[] = [];
afterEach(async () => {
  await registry?.close();
  await stopAll(...ups.splice(0));
});

/** A site of real backends whose checks run on the registry (60 s apart). */
function site(origins: string[]): SiteRuntime {
  registry = new HealthRegistry();
  const backends: BackendRuntime[] = origins.map((origin) => ({
    // The data-plane side of a backend plays no part in probing.
    backend: {} as Backend,
    health: registry!.acquire(origin, CHECK, { onResult: () => {} }),
    drained: false,
    passive: newEjectable(),
    ejectedSince: 0,
    confirming: false,
  }));
  registry.start();
  return new SiteRuntime({ name: 'a', backends: [], min_healthy: { kind: 'count', value: 1 }, health_check: CHECK } as unknown as SiteConfig, backends);
}

async function healthProbes(u: Upstream): Promise<number> {
  return (await u.stats()).healthAt.length;
}

describe('probeSiteNow', () => {
  it('sees backends that died down at once, long before their next scheduled check', async () => {
    ups.push(await startUpstream('a1'), await startUpstream('a2'));
    const s = site(ups.map((u) => u.url));
    // The first scheduled probes come within the first second; the next ones 60 s later.
    await waitFor(() => s.health().available && s.health().up === 2, { what: 'both backends up' });
    await Promise.all(ups.map((u) => u.kill()));
    expect(s.health()).toMatchObject({ up: 2, available: true });

    const start = performance.now();
    const health = await probeSiteNow(s);
    const ms = performance.now() - start;
    expect(health).toMatchObject({ up: 0, down: 2, unavailable: true });
    expect(s.backends.map((b) => b.health.check.state)).toEqual(['down', 'down']);
    // Three refused connections per backend, back to back: milliseconds (bound loose for a
    // loaded machine), against a next scheduled check a minute away.
    expect(ms).toBeLessThan(2000);
    // A detection start for the RTO clock: the first of those failures.
    expect(s.detectionStart()).toBeGreaterThan(0);
  });

  it('probes a live backend once and leaves it up; concurrent calls share one probe per backend', async () => {
    const u = await startUpstream('a1');
    ups.push(u);
    const s = site([u.url]);
    await waitFor(() => s.health().up === 1, { what: 'the backend up' });
    const before = await healthProbes(u);
    const [h1, h2] = await Promise.all([probeSiteNow(s), probeSiteNow(s)]);
    expect(h1).toMatchObject({ up: 1, available: true });
    expect(h2).toMatchObject({ up: 1, available: true });
    expect((await healthProbes(u)) - before).toBe(1);
    // Once answered, the next call probes again.
    await probeSiteNow(s);
    expect((await healthProbes(u)) - before).toBe(2);
  });

  it('brings a down backend that came back up within one call (rise answers)', async () => {
    const u = await startUpstream('a1');
    ups.push(u);
    const s = site([u.url]);
    await waitFor(() => s.health().up === 1, { what: 'the backend up' });
    await u.setHealth(503);
    expect(await probeSiteNow(s)).toMatchObject({ up: 0, unavailable: true });
    await u.setHealth(200);
    expect(await probeSiteNow(s)).toMatchObject({ up: 1, available: true });
  });
});

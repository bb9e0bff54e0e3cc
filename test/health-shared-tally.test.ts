/**
 * A probe shared by many tenants calls them back only when the backend's state changes (or a
 * result is inconclusive); every result is counted once, in the check's tally, which the
 * metrics fold into each tenant site at scrape time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HealthRegistry } from '../src/health/registry.js';
import { CheckTally, type CheckResult } from '../src/health/active-check.js';
import { LatencyCounts } from '../src/request-latency.js';
import { SiteChecks } from '../src/metrics.js';
import type { HealthCheckConfig } from '../src/config/types.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { waitFor } from './helpers/poll.js';

const BOUNDS = Float64Array.from([0.001, 0.01, 0.1, 1]);
let up: Upstream | undefined;
let reg: HealthRegistry | undefined;

afterEach(async () => {
  await reg?.close();
  await stopAll(up);
  reg = up = undefined;
});

function healthConfig(): HealthCheckConfig {
  // Probes come from the test; the scheduled ones are 30 s apart (the first within 1 s).
  return healthCheckConfig({ interval: '30s', timeout: '1s', rise: 2, fall: 2 });
}

describe('a shared health check', () => {
  it('calls its tenants back on changes only, unless one asks for every result; its tally counts every result', async () => {
    up = await startUpstream('x');
    reg = new HealthRegistry(() => new LatencyCounts(BOUNDS));
    const hc = healthConfig();
    const lazy: boolean[] = [];
    const eager: boolean[] = [];
    const a = reg.acquire(up.url, hc, { onResult: (_r, _s, changed) => void lazy.push(changed) });
    const b = reg.acquire(up.url, hc, { onResult: (_r, _s, changed) => void eager.push(changed), everyResult: true });
    expect(b.check).toBe(a.check);
    reg.start();
    const check = a.check;
    // probe() is a no-op while a scheduled probe runs: then give that one time to end.
    while (check.tally.ok < 5) if (!(await check.probe())) await new Promise((r) => setTimeout(r, 5));
    expect(lazy).toEqual([true]); // unknown → up; the "still up" results reach nobody else
    expect(eager.length).toBe(check.tally.ok);
    expect(eager.filter((c) => c)).toEqual([true]);
    expect(check.tally.durations!.count).toBe(check.tally.ok);

    await up.kill();
    await waitFor(
      async () => {
        await check.probe();
        return lazy.length === 2;
      },
      { what: 'the down change' },
    );
    expect(lazy).toEqual([true, true]);
    expect(check.state).toBe('down');
    expect(check.tally.fail).toBeGreaterThanOrEqual(2); // fall 2: the first failure changed nothing (a scheduled probe may add one)
    expect(eager.length).toBe(check.tally.ok + check.tally.fail);
    a.release();
    b.release();
  });
});

describe('health-check series of a tenant site (SiteChecks)', () => {
  const result = (ok: boolean, ms: number): CheckResult => ({ ok, durationMs: ms, at: 0 });

  it('adds what each check counted since the last scrape, never goes down, and counts a check once', () => {
    const site = new SiteChecks(new LatencyCounts(BOUNDS));
    const t1 = new CheckTally(new LatencyCounts(BOUNDS));
    const t2 = new CheckTally(new LatencyCounts(BOUNDS));
    for (let i = 0; i < 3; i++) t1.add(result(true, 5));
    t2.add(result(false, 500));
    site.fold([t1, t2]);
    expect([site.ok, site.fail, site.duration.count]).toEqual([3, 1, 4]);
    expect(Array.from(site.duration.counts)).toEqual([0, 3, 0, 1, 0]);
    site.fold([t1, t2]);
    expect([site.ok, site.fail, site.duration.count]).toEqual([3, 1, 4]); // nothing new
    // A reload takes t1 out of the site: what it gave stays, what it counts later does not.
    t1.add(result(true, 5));
    t2.add(result(false, 500));
    site.fold([t2]);
    expect([site.ok, site.fail, site.duration.count]).toEqual([3, 2, 5]);
    // One check listed twice in a site (two backends on one origin) counts once.
    t2.add(result(true, 0.5));
    site.fold([t2, t2]);
    expect([site.ok, site.fail, site.duration.count]).toEqual([4, 2, 6]);
    expect(site.duration.counts[0]).toBe(1);
  });
});

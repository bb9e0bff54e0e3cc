/**
 * passive_health.slow_confirm (on by default): slow answers (slow_after) eject a backend only
 * when a health probe sent at that moment fails too. A backend that only serves long polls is
 * slow by design but answers its probe, so it keeps its traffic; a hung one answers neither,
 * and is ejected one probe timeout after its slow answers, long before its next scheduled probe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { Upstream } from './helpers/upstream.js';
import { startTwoSiteProxy, type TestProxy, type TwoSiteSetup } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { admin } from './helpers/admin.js';
import { parseExposition } from './helpers/prom.js';

const H = { host: 't.example.com' };
// Scheduled probes far apart: every probe in these tests is a confirmation. fall 2, so that a
// failed confirmation alone does not mark the backend down: the ejection is what moves the tenant.
const PROBES = { interval: '30s', timeout: '300ms', rise: 1, fall: 2, jitter: 0 };
const DEFAULTS = {
  health_check: PROBES,
  failover: { min_interval: '0s', hold_requests: '10s', drain_timeout: '2s' },
  passive_health: { consecutive_failures: 3, slow_after: '150ms' },
  proxy: { response_timeout: '30s' },
};

async function get(url: string): Promise<string> {
  const r = await request(url, { headers: H });
  await r.body.dump();
  return `${r.statusCode} ${String(r.headers['x-site'])}`;
}

describe('slow answers confirmed by a probe', () => {
  let setup: TwoSiteSetup | undefined;
  let primary: Upstream;
  let p: TestProxy;

  beforeAll(async () => {
    setup = await startTwoSiteProxy(DEFAULTS);
    ({ primary, p } = setup);
  });

  afterAll(() => setup?.stop());

  it('is on by default', () => {
    expect(p.proxy.tenant('t')!.config.passive_health.slow_confirm).toBe(true);
  });

  it('long polls on a backend that answers its probe eject nothing: one probe per streak, and the streak starts again', async () => {
    const t = p.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    const probesBefore = a1.health.check.tally.ok;
    // Only slow requests, more than consecutive_failures: nothing fast resets the streak.
    const polls = Array.from({ length: 4 }, (_, i) => get(`${p.url}/slow?ms=900&poll=${i}`));
    await waitFor(() => a1.health.check.tally.ok > probesBefore, { what: 'a confirming probe answered' });
    await waitFor(() => !a1.confirming, { what: 'the confirmation over' });
    expect(await Promise.all(polls)).toEqual(Array(4).fill('200 a1'));
    expect(a1.passive.ejectedUntil).toBe(0);
    expect(t.state!.active).toBe('a1');
    // Four slow answers: one streak of three confirmed once, then one more slow answer, short
    // of a new streak.
    expect(a1.health.check.tally.ok - probesBefore).toBe(1);
    expect(a1.backend.passiveFailures).toBe(0);
    // Counted for the operator, who may want slow_after above these answers.
    const e = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    expect(e.samples).toContainEqual({ name: 'drproxy_slow_unconfirmed_total', labels: { tenant: 't', site: 'a1' }, value: 1 });
  });

  it('slow answers and a failing probe eject the backend; the log names the probe error', async () => {
    const t = p.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    await primary.setHealth(503);
    try {
      const polls = Array.from({ length: 3 }, (_, i) => get(`${p.url}/slow?ms=900&eject=${i}`));
      await waitFor(() => a1.passive.ejectedUntil > 0, { what: 'a1 ejected', timeout: 5000 });
      await waitFor(() => t.state!.active === 'b1', { what: 'failover to b1', timeout: 5000 });
      // GETs: a1 answers them once its 900 ms are up, or the flip re-sends them to b1.
      for (const a of await Promise.all(polls)) expect(a).toMatch(/^200 (a1|b1)$/);
      expect(p.logs).toContainEqual(expect.objectContaining({ msg: 'backend ejected (passive health)', site: 'a1', kind: 'slow', probe: expect.stringContaining('503') }));
    } finally {
      await primary.setHealth(200);
    }
  });
});

describe('a hung backend, slow answers confirmed', () => {
  it('a SIGSTOPped primary is ejected when its confirming probe times out, and its requests are answered by the backup', async () => {
    // A proxy of its own: the tests above leave their tenant failed over.
    const { primary, p, stop } = await startTwoSiteProxy(DEFAULTS);
    const t = p.proxy.tenant('t')!;
    const a1 = t.site('a1')!.backends[0]!;
    await primary.kill('SIGSTOP');
    try {
      const sent = performance.now();
      const answers = Array.from({ length: 4 }, (_, i) => get(`${p.url}/hung-${i}`));
      // Well before the next scheduled probe (30 s) and the response timeout (30 s).
      await waitFor(() => t.state!.active === 'b1', { what: 'failover to b1', timeout: 5000 });
      // slow_after (150 ms) and then the probe's timeout (300 ms): never sooner.
      expect(performance.now() - sent).toBeGreaterThanOrEqual(450);
      expect(await Promise.all(answers)).toEqual(Array(4).fill('200 b1'));
      expect(a1.passive.ejectedUntil).toBeGreaterThan(0);
      expect(p.logs).toContainEqual(expect.objectContaining({ msg: 'backend ejected (passive health)', site: 'a1', kind: 'slow', probe: 'timeout after 300ms' }));
    } finally {
      await primary.kill('SIGCONT');
      await stop();
    }
  });
});

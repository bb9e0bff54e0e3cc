/**
 * server.workers: 2 (one on Node without reusePort): the primary is SIGKILLed under load and the
 * tenant flips with 0 failed requests; every worker then serves the backup at the new epoch, and
 * the flip's route step counted every worker's acknowledgement.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { failures, startLoad, type Load } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream | undefined, backup: Upstream | undefined;
let p: TestProxy | undefined;
let load: Load | undefined;

afterEach(async () => {
  await load?.stop();
  await p?.stop();
  await stopAll(primary, backup);
});

describe('failover with data-plane worker threads', () => {
  it('a primary SIGKILLed under load: 0 failed requests, the backup served at epoch 2 by the workers', async () => {
    [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({
      server: { workers: 2 },
      // Probes a loaded machine does not fail by mistake; the kill is seen by passive health anyway.
      defaults: { health_check: { ...FAST_CHECKS, interval: '250ms', timeout: '250ms', fall: 3 }, failover: { drain_timeout: '2s', hold_requests: '10s' } },
      tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
    });
    await sitesHealthy(p, 't');
    load = startLoad({ url: p.url, host: 't.example.com', rate: 300, maxMs: 20_000 });
    await waitFor(() => load!.samples.filter((s) => s.site === 'a1').length >= 200, { what: 'traffic on a1', timeout: 10_000 });
    await primary.kill('SIGKILL');
    await waitFor(() => load!.samples.slice(-50).length === 50 && load!.samples.slice(-50).every((s) => s.site === 'b1'), { what: 'traffic on b1', timeout: 15_000 });
    const all = await load.stop();
    load = undefined;
    expect(failures(all)).toEqual([]);
    expect(new Set(all.filter((s) => s.site === 'b1').map((s) => s.epoch))).toEqual(new Set(['2']));
    const flip = p.proxy.tenant('t')!.flips.at(-1)!;
    expect(flip).toMatchObject({ from: 'a1', to: 'b1', epoch: 2, result: 'routed' });
    // The routed step went through the workers' acknowledgements (src/workers/data-planes.ts).
    expect(p.proxy.threads!.acknowledged('t', 2, 'routed')).toBeUndefined();
  }, 60_000);
});

/**
 * "An alert is firing" for a scheduled drill (src/drill/alerts-firing.ts), read from a real
 * tenant controller (real upstreams and probes): nothing while all is well; a standing tenant
 * alert and the unready site while the active site is down in manual mode; a fenced standby.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { alertsFiring } from '../src/drill/alerts-firing.js';
import { startController, type ControllerSetup } from './helpers/controller.js';
import { waitFor } from './helpers/poll.js';

let setup: ControllerSetup | undefined;

afterAll(async () => {
  await setup?.stop();
});

describe('alerts firing for a tenant (scheduled drills are skipped while any is)', () => {
  it('none when healthy; a standing alert and the unready site, then a fenced standby', async () => {
    setup = await startController({ mode: 'manual', min_interval: '0s' });
    const { c } = setup;
    expect(alertsFiring(c, Date.now())).toEqual([]);

    // Manual mode, the active site loses its only backend: the tenant alerts and waits.
    const backend = c.site('a')!.backends[0]!.backend.name;
    c.setDrained('a', backend, true);
    const firing = await waitFor(() => {
      const r = alertsFiring(c, Date.now());
      return r.some((x) => x.code === 'alert_tenant') ? r : undefined;
    }, { what: 'the manual-mode alert' });
    expect(firing).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'alert_tenant', message: expect.stringContaining('waiting for an operator') }),
        expect.objectContaining({ code: 'alert_not_ready_unavailable', site: 'a' }),
      ]),
    );
    c.setDrained('a', backend, false);
    await waitFor(() => alertsFiring(c, Date.now()).length === 0, { what: 'the alert to clear' });

    await c.fence('b', { actor: 'test', reason: 'test' });
    expect(alertsFiring(c, Date.now())).toEqual([expect.objectContaining({ code: 'alert_not_ready_fenced', site: 'b' })]);
  }, 30_000);
});

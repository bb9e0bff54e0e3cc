/**
 * The kill switch of automatic flips (docs/safety.md) survives a restart: turned off with
 * `drproxy automatic off`, drproxy killed (SIGKILL) and started again on the same state
 * directory, automatic flips are still off: the primary failing does not flip the tenant
 * (its alert says why); turned on, the tenant flips.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { spawnProxy, tempDir, FAST_CHECKS, twoSiteTenant, type ChildProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';
import { waitFor } from './helpers/poll.js';

let primary: Upstream, backup: Upstream;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});

afterAll(async () => {
  await stopAll(primary, backup);
});

const doc = () => ({ admin: adminTokens(), defaults: { health_check: FAST_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', primary, backup) } });

async function servedBy(px: ChildProxy): Promise<string | undefined> {
  const r = await request(`${px.url}/`, { headers: { host: 't.example.com' }, headersTimeout: 3000, bodyTimeout: 3000 });
  const text = await r.body.text();
  return r.statusCode === 200 ? (JSON.parse(text) as { site: string }).site : undefined;
}

async function automaticMetric(px: ChildProxy): Promise<string | undefined> {
  const m = await admin(px.adminUrl, 'GET', '/metrics', { token: VIEWER });
  return /^drproxy_automatic_failover_enabled (\d)$/m.exec(m.text)?.[1];
}

describe('kill switch across a restart', () => {
  it('stays off after SIGKILL and a restart; the primary failing then does not flip; on again, it flips', async () => {
    const dir = await tempDir();
    let px = await spawnProxy(doc(), dir);
    try {
      await waitFor(async () => (await servedBy(px)) === 'a1', { what: 'traffic on a1' });
      const off = await runCli(['automatic', 'off', '--reason', 'network maintenance CHG-1'], { DRPROXY_ADMIN: px.adminUrl, DRPROXY_TOKEN: OPERATOR });
      expect(off.stderr).toBe('');
      expect(off.code).toBe(0);
      expect(off.stdout).toContain('automatic flips: OFF (by ops');
      await px.kill('SIGKILL');

      px = await spawnProxy(doc(), dir);
      const shown = await runCli(['automatic', '--json'], { DRPROXY_ADMIN: px.adminUrl, DRPROXY_TOKEN: VIEWER });
      expect(JSON.parse(shown.stdout)).toMatchObject({ enabled: false, by: 'ops', reason: 'network maintenance CHG-1' });
      const status = await admin(px.adminUrl, 'GET', '/status', { token: VIEWER });
      expect(status.body.automatic).toMatchObject({ enabled: false, by: 'ops' });
      expect(await automaticMetric(px)).toBe('0');
      await waitFor(async () => (await servedBy(px)) === 'a1', { what: 'traffic on a1 after the restart' });

      // The primary fails: health is watched, the flip is wanted, and held by the switch.
      await primary.setHealth(503);
      await waitFor(() => /automatic flips are OFF \(kill switch, by ops: network maintenance CHG-1\): flip to b1/.test(px.output()), { what: "the tenant's alert that the flip is held" });
      const t = await admin(px.adminUrl, 'GET', '/tenants/t', { token: VIEWER });
      expect(t.body).toMatchObject({ active: 'a1', epoch: 1 });

      const on = await admin(px.adminUrl, 'POST', '/automatic', { token: OPERATOR, body: { enabled: true, reason: 'maintenance over' } });
      expect(on.status).toBe(200);
      expect(on.body).toMatchObject({ enabled: true, by: 'ops', reason: 'maintenance over' });
      await waitFor(async () => (await admin(px.adminUrl, 'GET', '/tenants/t', { token: VIEWER })).body.active === 'b1', { what: 'the held flip to b1 once automatic flips are on' });
      expect(await automaticMetric(px)).toBe('1');
    } finally {
      await px.kill();
      await primary.setHealth(200);
    }
  });
});

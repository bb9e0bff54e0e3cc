/**
 * Issue 17 item 5: the tenant state series (phase and frozen cause, preferred site, sites
 * unavailable, stale and fenced, backends down), drproxy_tenants{phase}, build info and the
 * config reload series, read at scrape time through a failover and a freeze.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant, tempDir } from './helpers/proxy.js';
import { admin } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { parseExposition, value, type Exposition } from './helpers/prom.js';

let a1: Upstream, b1: Upstream, c1: Upstream;
let p: TestProxy;
let configFile: string;

beforeAll(async () => {
  [a1, b1, c1] = await Promise.all([startUpstream('a1'), startUpstream('b1'), startUpstream('c1')]);
  configFile = join(await tempDir(), 'drproxy.yaml');
  p = await startProxy(
    {
      defaults: { health_check: { ...FAST_CHECKS, data_age: { json_field: 'lag' } }, failover: { min_interval: '100ms' } },
      tenants: { acme: twoSiteTenant('acme.example.com', a1, b1), calm: { tier: 'BC', hosts: ['calm.example.com'], sites: [{ name: 'c1', backends: [c1.url] }] } },
    },
    { configFile },
  );
  await sitesHealthy(p, 'acme');
  await sitesHealthy(p, 'calm');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1, c1);
});

async function scrape(): Promise<Exposition> {
  return parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
}

const acme = (e: Exposition, name: string): number | undefined => value(e, name, { tenant: 'acme' });

describe('tenant state series', () => {
  it('follow the tenant through a failover and a freeze; fleet series count phases', async () => {
    let e = await scrape();
    expect(value(e, 'drproxy_tenant_phase', { tenant: 'acme', phase: 'active', cause: '' })).toBe(1);
    expect(acme(e, 'drproxy_tenant_on_preferred_site')).toBe(1);
    for (const n of ['sites_unavailable', 'sites_stale', 'sites_fenced', 'backends_down']) expect(acme(e, `drproxy_tenant_${n}`), n).toBe(0);
    expect(value(e, 'drproxy_tenants', { phase: 'active' })).toBe(2);
    expect(value(e, 'drproxy_tenants', { phase: 'frozen' })).toBe(0);
    expect(value(e, 'drproxy_build_info', { node_version: process.version })).toBe(1);

    // Stale standby: data age 20 min > the BC tier's RPO (15 min).
    await b1.setHealth(200, '{"lag": 1200}');
    await waitFor(async () => acme(await scrape(), 'drproxy_tenant_sites_stale') === 1, { what: 'b1 stale' });
    await b1.setHealth(200, '{"lag": 1}');

    await a1.setHealth(503);
    await waitFor(() => p.proxy.tenant('acme')!.state.active === 'b1' && p.proxy.tenant('acme')!.state.phase === 'active', { what: 'failover to b1' });
    e = await scrape();
    expect(acme(e, 'drproxy_tenant_on_preferred_site')).toBe(0);
    expect(acme(e, 'drproxy_tenant_sites_unavailable')).toBe(1);
    expect(acme(e, 'drproxy_tenant_backends_down')).toBe(1);
    await p.proxy.tenant('acme')!.fence('a1', { reason: 'metrics test', actor: 't' });
    expect(acme(await scrape(), 'drproxy_tenant_sites_fenced')).toBe(1);

    await b1.setHealth(503);
    await waitFor(() => p.proxy.tenant('acme')!.state.phase === 'frozen', { what: 'acme frozen' });
    e = await scrape();
    expect(value(e, 'drproxy_tenant_phase', { tenant: 'acme', phase: 'frozen', cause: 'no_site' })).toBe(1);
    expect(e.samples.filter((s) => s.name === 'drproxy_tenant_phase' && s.labels.tenant === 'acme')).toHaveLength(1);
    expect(acme(e, 'drproxy_tenant_sites_unavailable')).toBe(2);
    expect(acme(e, 'drproxy_tenant_backends_down')).toBe(2);
    expect(value(e, 'drproxy_tenants', { phase: 'frozen' })).toBe(1);
    expect(value(e, 'drproxy_tenants', { phase: 'active' })).toBe(1);
  });

  it('reports whether the last config load was applied, and when', async () => {
    let e = await scrape();
    expect(value(e, 'drproxy_config_last_reload_successful')).toBe(1);
    const started = value(e, 'drproxy_config_last_reload_success_timestamp_seconds')!;
    expect(Math.abs(started - Date.now() / 1000)).toBeLessThan(120);
    await writeFile(configFile, 'tenants: [not, a, map]\n');
    expect((await p.proxy.reload()).ok).toBe(false);
    e = await scrape();
    expect(value(e, 'drproxy_config_last_reload_successful')).toBe(0);
    expect(value(e, 'drproxy_config_last_reload_success_timestamp_seconds')).toBe(started);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { parseExposition, value } from './helpers/prom.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let auditFile: string;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  auditFile = join(await tempDir(), 'audit.log');
  p = await startProxy({
    admin: { ...adminTokens(), audit_file: auditFile },
    defaults: { health_check: FAST_CHECKS },
    tenants: { acme: { tier: 'DR1', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('forced failover through the admin API', () => {
  it('bumps the epoch, routes to the named site and answers with the timings', async () => {
    const r = await admin(p.adminUrl, 'POST', '/tenants/acme/failover', { token: OPERATOR, body: { to: 'b1', reason: 'DR drill CHG-1234' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: 'acme', epoch_before: 1, epoch: 2, from: 'a1', to: 'b1', result: 'routed', rto_seconds: 4 * 3600 });
    expect(r.body.duration_ms).toBeGreaterThanOrEqual(0);
    expect(r.body.rto_ratio).toBeLessThan(0.01);
    expect(Object.keys(r.body.timings as object)).toEqual(['detectedAt', 'trippedAt', 'persistedAt', 'drainedAt', 'fencedAt', 'promotedAt', 'routedAt']);
    const hit = await request(`${p.url}/`, { headers: { host: 'acme.example.com' } });
    const j = (await hit.body.json()) as { site: string; headers: Record<string, string> };
    expect(j.site).toBe('b1');
    expect(j.headers['x-dr-epoch']).toBe('2');
  });

  it('is in the audit stream with actor, reason and epochs (log and audit file)', async () => {
    const rec = p.logs.find((l) => l.audit === true && l.event === 'admin' && l.action === 'failover' && l.result === 'ok');
    expect(rec).toMatchObject({ actor: 'ops', role: 'operator', tenant: 'acme', site: 'b1', reason: 'DR drill CHG-1234', epoch_before: 1, epoch_after: 2, status: 200 });
    const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => l.event === 'admin' && l.action === 'failover' && l.actor === 'ops' && l.reason === 'DR drill CHG-1234')).toBe(true);
    expect(lines.some((l) => l.event === 'failover' && l.epoch === 2 && l.trigger === 'admin')).toBe(true);
  });

  it('observes drproxy_failover_duration_seconds and sets drproxy_failover_rto_ratio', async () => {
    const e = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    const labels = { tenant: 'acme', tier: 'DR1', trigger: 'admin', from_site: 'a1', to_site: 'b1' };
    expect(value(e, 'drproxy_failover_duration_seconds_count', labels)).toBe(1);
    expect(value(e, 'drproxy_failover_rto_ratio', { tenant: 'acme', tier: 'DR1' })).toBeLessThan(0.01);
    expect(value(e, 'drproxy_failovers_total', { tenant: 'acme', trigger: 'admin', result: 'routed' })).toBe(1);
    expect(value(e, 'drproxy_epoch', { tenant: 'acme' })).toBe(2);
    expect(value(e, 'drproxy_active_site', { tenant: 'acme', site: 'b1' })).toBe(1);
    expect(value(e, 'drproxy_active_site', { tenant: 'acme', site: 'a1' })).toBe(0);
    expect(value(e, 'drproxy_rto_seconds', { tenant: 'acme', tier: 'DR1' })).toBe(14400);
  });

  it('GET /tenants/:tenant shows the state, sites and the flip record', async () => {
    const r = await admin(p.adminUrl, 'GET', '/tenants/acme', { token: VIEWER });
    expect(r.body).toMatchObject({ name: 'acme', phase: 'active', epoch: 2, active: 'b1', fenced: ['a1'], tier: 'DR1' });
    expect((r.body.flips as unknown[]).length).toBe(1);
    expect((r.body.sites as Array<{ name: string }>).map((s) => s.name)).toEqual(['a1', 'b1']);
  });

  it('failback returns to the preferred site with a new epoch', async () => {
    const r = await admin(p.adminUrl, 'POST', '/tenants/acme/failback', { token: OPERATOR, body: { reason: 'drill over' } });
    expect(r.body).toMatchObject({ epoch_before: 2, epoch: 3, from: 'b1', to: 'a1', result: 'routed' });
  });

  it('drain and enable take a backend out of rotation and back', async () => {
    const backend = `127.0.0.1:${a1.port}`;
    const d = await admin(p.adminUrl, 'POST', `/tenants/acme/sites/a1/backends/${encodeURIComponent(backend)}/drain`, { token: OPERATOR, body: { reason: 'patching' } });
    expect(d.body).toMatchObject({ drained: true });
    expect(p.proxy.tenant('acme')!.slot.route.backends.length).toBe(0);
    const e = await admin(p.adminUrl, 'POST', `/tenants/acme/sites/a1/backends/${encodeURIComponent(backend)}/enable`, { token: OPERATOR, body: { reason: 'patched' } });
    expect(e.body).toMatchObject({ drained: false });
    expect(p.proxy.tenant('acme')!.slot.route.backends.length).toBe(1);
  });
});

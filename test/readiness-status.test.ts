/**
 * Standby readiness as operators see it, in a running drproxy with real upstreams and hooks:
 * GET /status gives each site `ready` and `not_ready: [{code, message}]` (a standby whose health
 * answer reports data older than the RPO: stale; one failing its health checks: unavailable; a
 * fenced one: fenced; one whose promote hook does not answer: promote_hook_unreachable), the
 * active site included; `drproxy status` shows a READY column and the reasons; GET /metrics has
 * drproxy_site_ready{tenant,site} 1/0 at site/backend detail and, for tenants at tenant detail,
 * drproxy_standby_ready{tenant} instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';
import { waitFor } from './helpers/poll.js';
import { parseExposition, value } from './helpers/prom.js';
import { FAST_CHECKS, startProxy, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

const SITES = ['a1', 'b1', 'c1', 'd1', 'e1', 'h1'] as const;
const ups: Record<string, Upstream> = {};
let p: TestProxy;

interface SiteJson {
  name: string;
  ready: boolean;
  not_ready: Array<{ code: string; message: string }>;
}

/** A port nothing listens on (bound, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const lag = (seconds: number): string => JSON.stringify({ replication: { lag_seconds: seconds } });

beforeAll(async () => {
  const started = await Promise.all(SITES.map((s) => startUpstream(s)));
  SITES.forEach((s, i) => (ups[s] = started[i]!));
  // Tier BC: RPO 15 minutes. b1 reports an hour of lag, c1 fails its checks, the rest are fresh.
  await Promise.all(SITES.map((s) => ups[s]!.setHealth(s === 'c1' ? 503 : 200, lag(s === 'b1' ? 3600 : 2))));
  const site = (name: string, extra: Record<string, unknown> = {}) => ({ name, backends: [ups[name]!.url], ...extra });
  p = await startProxy({
    admin: adminTokens(),
    metrics: { detail: 'tenant', full_detail: ['t'] },
    defaults: {
      health_check: { ...FAST_CHECKS, data_age: { json_field: 'replication.lag_seconds' } },
      // manual: a probe that times out on a loaded machine must not flip the tenant mid-test.
      failover: { mode: 'manual', hook_check_interval: '100ms' },
    },
    tenants: {
      t: { tier: 'BC', hosts: ['t.example.com'], sites: [site('a1'), site('b1'), site('c1'), site('d1'), site('e1'), site('h1', { promote: { url: `http://127.0.0.1:${await deadPort()}/dr/promote`, timeout: '500ms' } })] },
      // At tenant detail: f's only standby fails its checks, g's is ready.
      f: { tier: 'BC', hosts: ['f.example.com'], sites: [site('a1'), site('c1')] },
      g: { tier: 'BC', hosts: ['g.example.com'], sites: [site('a1'), site('e1')] },
    },
  });
  const fence = await admin(p.adminUrl, 'POST', '/tenants/t/sites/d1/fence', { token: OPERATOR, body: { reason: 'replica rebuild' } });
  expect(fence.status).toBe(200);
  const t = p.proxy.tenant('t')!;
  await waitFor(() => ['a1', 'b1', 'd1', 'e1', 'h1'].every((s) => t.site(s)!.health().available && t.site(s)!.dataAgeSeconds() !== undefined) && t.hookChecks('h1').promote, {
    what: 'probes and hook checks in',
  });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(...Object.values(ups));
});

async function statusSites(): Promise<Record<string, SiteJson>> {
  const r = await admin(p.adminUrl, 'GET', '/status', { token: VIEWER });
  expect(r.status).toBe(200);
  const t = (r.body.tenants as Array<{ name: string; sites: SiteJson[] }>).find((x) => x.name === 't')!;
  return Object.fromEntries(t.sites.map((s) => [s.name, s]));
}

describe('standby readiness in /status, drproxy status and /metrics', () => {
  it('/status: ready for the active and the sound standby, each reason for the others', async () => {
    const s = await statusSites();
    expect(s.a1).toMatchObject({ ready: true, not_ready: [] });
    expect(s.e1).toMatchObject({ ready: true, not_ready: [] });
    expect(s.b1).toMatchObject({ ready: false, not_ready: [{ code: 'stale', message: 'data age 3600 s is over the BC RPO of 900 s' }] });
    expect(s.c1!.ready).toBe(false);
    expect(s.c1!.not_ready.map((r) => r.code)).toContain('unavailable');
    expect(s.c1!.not_ready.find((r) => r.code === 'unavailable')!.message).toBe('0 of 1 backends healthy, 1 needed (min_healthy)');
    expect(s.d1).toMatchObject({ ready: false, not_ready: [{ code: 'fenced', message: 'it is fenced' }] });
    expect(s.h1!.ready).toBe(false);
    expect(s.h1!.not_ready).toEqual([{ code: 'promote_hook_unreachable', message: expect.stringMatching(/^its promote hook failed its check call: .*ECONNREFUSED/) }]);
    // GET /tenants/:t says the same.
    const one = await admin(p.adminUrl, 'GET', '/tenants/t', { token: VIEWER });
    expect((one.body.sites as SiteJson[]).map((x) => [x.name, x.ready])).toEqual([['a1', true], ['b1', false], ['c1', false], ['d1', false], ['e1', true], ['h1', false]]);
  });

  it('drproxy status: a READY column with the codes, and each reason under the table', async () => {
    const r = await runCli(['status', '--admin', p.adminUrl, '--token', VIEWER]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^TENANT\s+SITE\s+REGION\/ZONE\s+ROLE\s+AVAILABLE\s+BACKENDS\s+DATA AGE\s+READY$/m);
    expect(r.stdout).toMatch(/^t\s+a1\s.*\syes$/m);
    expect(r.stdout).toMatch(/^t\s+b1\s.*\sno \(stale\)$/m);
    expect(r.stdout).toMatch(/^t\s+d1\s+-\s+fenced\s.*\sno \(fenced\)$/m);
    expect(r.stdout).toMatch(/^t\s+h1\s.*\sno \(promote_hook_unreachable\)$/m);
    expect(r.stdout).toContain('\nNot ready:\n');
    expect(r.stdout).toContain('  t b1: stale: data age 3600 s is over the BC RPO of 900 s');
    expect(r.stdout).toContain('  t d1: fenced: it is fenced');
  });

  it('/metrics: drproxy_site_ready per site (site detail and above), drproxy_standby_ready for folded tenants', async () => {
    const e = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    expect(e.types.get('drproxy_site_ready')).toBe('gauge');
    const ready = Object.fromEntries(SITES.map((s) => [s, value(e, 'drproxy_site_ready', { tenant: 't', site: s })]));
    expect(ready).toEqual({ a1: 1, b1: 0, c1: 0, d1: 0, e1: 1, h1: 0 });
    // Folded tenants: no per-site series; one tenant series, 1 when some standby is ready.
    expect(e.samples.filter((x) => x.name === 'drproxy_site_ready' && x.labels.tenant !== 't')).toEqual([]);
    expect(value(e, 'drproxy_standby_ready', { tenant: 'f' })).toBe(0);
    expect(value(e, 'drproxy_standby_ready', { tenant: 'g' })).toBe(1);
    expect(value(e, 'drproxy_standby_ready', { tenant: 't' })).toBeUndefined();
  });

  it('a site that becomes sound is ready at the next look: unfenced, d1 is ready in /status and /metrics', async () => {
    const r = await admin(p.adminUrl, 'POST', '/tenants/t/sites/d1/unfence', { token: OPERATOR, body: { reason: 'rebuilt' } });
    expect(r.status).toBe(200);
    expect((await statusSites()).d1).toMatchObject({ ready: true, not_ready: [] });
    const e = parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
    expect(value(e, 'drproxy_site_ready', { tenant: 't', site: 'd1' })).toBe(1);
  });
});

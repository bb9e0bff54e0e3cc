import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { startLoad, failures } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';

let a1: Upstream, a2: Upstream, b1: Upstream, g1: Upstream;
let p: TestProxy;
let file: string;
let stateDir: string;

function doc(tenants: Record<string, unknown>): Record<string, unknown> {
  return { admin: { ...adminTokens(), listen: `127.0.0.1:${p?.proxy.admin?.address().port ?? 0}` }, defaults: { health_check: FAST_CHECKS }, tenants };
}

const acme = (backends: string[]) => ({ tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends }, { name: 'b1', backends: [b1.url] }] });
const old = () => ({ tier: 'DR3', hosts: ['old.example.com'], sites: [{ name: 'o1', backends: [b1.url] }] });

/** Rewrite the config file as the proxy would read it (same listeners and state dir). */
async function writeConfig(tenants: Record<string, unknown>): Promise<void> {
  const full = await testConfigDoc({ ...doc(tenants), listen: `127.0.0.1:${p.port}` }, stateDir);
  await writeFile(file, stringify(full));
}

beforeAll(async () => {
  [a1, a2, b1, g1] = await Promise.all([startUpstream('a1'), startUpstream('a2'), startUpstream('b1'), startUpstream('g1')]);
  file = join(await tempDir(), 'drproxy.yaml');
  stateDir = await tempDir();
  p = await startProxy(doc({ acme: acme([a1.url]), old: old() }), { configFile: file, stateDir });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, a2, b1, g1);
});

describe('reload', () => {
  it('refuses a broken file with 400 listing every problem, and traffic keeps flowing on the old config', async () => {
    await writeFile(file, stringify({ listen: `127.0.0.1:${p.port}`, tenants: { acme: { tier: 'GOLD', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['ftp://x'] }] } } }));
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: OPERATOR, body: {} });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_config');
    const paths = (r.body.problems as Array<{ path: string }>).map((x) => x.path);
    expect(paths).toContain('tenants.acme.tier');
    expect(paths).toContain('tenants.acme.sites[0].backends[0]');
    const hit = await request(`${p.url}/`, { headers: { host: 'old.example.com' } });
    expect(hit.statusCode).toBe(200);
    await hit.body.dump();
    expect(p.proxy.currentConfig.tenants.map((t) => t.name)).toEqual(['acme', 'old']);
  });

  it('adds a tenant, removes one and changes a site\u2019s backends without dropping a request under load', async () => {
    const t = p.proxy.tenant('acme')!;
    await t.operatorFailover({ to: 'b1', reason: 'before reload', actor: 'test' });
    await t.failback({ reason: 'back', actor: 'test' });
    const epoch = t.state.epoch;
    const load = startLoad({ url: p.url, host: 'acme.example.com', rate: 500, maxMs: 10_000 });
    await waitFor(() => load.samples.length > 200, { what: 'load running' });
    await writeConfig({ acme: acme([a1.url, a2.url]), green: { tier: 'BC', hosts: ['green.example.com'], sites: [{ name: 'g1', backends: [g1.url] }] } });
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: OPERATOR, body: { reason: 'add green, retire old, scale acme' } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body).toMatchObject({ ok: true, added: ['green'], removed: ['old'], changed: ['acme'] });
    await waitFor(async () => (await a2.stats()).requests > 20, { what: 'traffic on the new backend' });
    const samples = await load.stop();
    expect(failures(samples)).toEqual([]);
    // The epoch and active site survived; the unchanged backend kept its health state.
    const nt = p.proxy.tenant('acme')!;
    expect(nt).not.toBe(t);
    expect(nt.state).toMatchObject({ epoch, active: 'a1' });
    expect(nt.site('a1')!.backends[0]!.health.check.state).toBe('up');
    const g = await request(`${p.url}/`, { headers: { host: 'green.example.com' } });
    expect(g.headers['x-site']).toBe('g1');
    await g.body.dump();
    const o = await request(`${p.url}/`, { headers: { host: 'old.example.com' } });
    expect(o.statusCode).toBe(421);
    await o.body.dump();
    expect(p.logs.some((l) => l.audit === true && l.action === 'reload' && l.result === 'ok' && l.actor === 'ops')).toBe(true);
  });

  it('refuses changes that need a restart, naming them', async () => {
    const full = await testConfigDoc({ ...doc({ acme: acme([a1.url]) }), listen: '127.0.0.1:1' }, stateDir);
    await writeFile(file, stringify(full));
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: OPERATOR, body: {} });
    expect(r.status).toBe(400);
    expect((r.body.problems as Array<{ path: string }>)[0]!.path).toBe('listen');
  });
});

/**
 * A reload whose file adds `state.etcd` (clustered mode) is refused: moving a running proxy's
 * state to etcd takes a restart. It changes nothing: the other edits of the same file (a tenant
 * added) are not applied, and traffic and the tenant's state go on as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let file: string;
let stateDir: string;

function doc(tenants: Record<string, unknown>): Record<string, unknown> {
  return { admin: { ...adminTokens(), listen: `127.0.0.1:${p?.proxy.admin?.address().port ?? 0}` }, defaults: { health_check: FAST_CHECKS }, tenants };
}

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  file = join(await tempDir(), 'drproxy.yaml');
  stateDir = await tempDir();
  p = await startProxy(doc({ acme: twoSiteTenant('acme.example.com', a1, b1) }), { configFile: file, stateDir });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('reload with state.etcd', () => {
  it('is refused naming state (a restart), and changes nothing', async () => {
    const before = p.proxy.tenant('acme')!.state;
    const tenants = { acme: twoSiteTenant('acme.example.com', a1, b1), green: twoSiteTenant('green.example.com', b1, a1) };
    const full = await testConfigDoc({ ...doc(tenants), listen: `127.0.0.1:${p.port}`, state: { etcd: { endpoints: ['http://127.0.0.1:2379'] } } }, stateDir);
    await writeFile(file, stringify(full));
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: OPERATOR, body: {} });
    expect(r.status).toBe(400);
    const problems = r.body.problems as Array<{ path: string; message: string; code?: string }>;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: 'state' });
    expect(problems[0]!.message).toMatch(/needs a restart/);
    expect(p.proxy.currentConfig.tenants.map((t) => t.name)).toEqual(['acme']);
    expect(p.proxy.currentConfig.state).toEqual({ dir: stateDir });
    expect(p.proxy.tenant('green')).toBeUndefined();
    expect(p.proxy.tenant('acme')!.state).toBe(before);
    const hit = await request(`${p.url}/`, { headers: { host: 'acme.example.com' } });
    expect(hit.statusCode).toBe(200);
    expect(hit.headers['x-site']).toBe('a1');
    await hit.body.dump();
    const green = await request(`${p.url}/`, { headers: { host: 'green.example.com' } });
    expect(green.statusCode).toBe(421); // no tenant has this host
    await green.body.dump();
  });
});

/**
 * Reload under server.workers (src/workers/): the workers get the new table and every route (an
 * added tenant is served, a removed one is no longer routed, a changed one's new backends take
 * traffic) without dropping a request under load; the listener check compares with the port the
 * workers got, so the same `listen` reloads and another one is refused as a restart-only change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { startLoad, failures } from './helpers/load.js';
import { waitFor } from './helpers/poll.js';

let a1: Upstream, a2: Upstream, b1: Upstream, g1: Upstream;
let p: TestProxy;
let file: string;
let stateDir: string;

const STEADY = { interval: '1s', timeout: '1s', rise: 1, fall: 3, jitter: 0 };
const doc = (tenants: Record<string, unknown>) => ({ server: { workers: 2 }, defaults: { health_check: STEADY, failover: { mode: 'manual' } }, tenants });
const acme = (backends: string[]) => ({ tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends }, { name: 'b1', backends: [b1.url] }] });
const old = () => ({ tier: 'DR3', hosts: ['old.example.com'], sites: [{ name: 'o1', backends: [b1.url] }] });

async function writeConfig(tenants: Record<string, unknown>, listen = `127.0.0.1:${p.port}`): Promise<void> {
  const full = await testConfigDoc({ ...doc(tenants), listen, admin: { listen: `127.0.0.1:${p.proxy.admin!.address().port}` } }, stateDir);
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

async function hit(host: string): Promise<string> {
  const r = await request(`${p.url}/`, { headers: { host } });
  await r.body.dump();
  return `${r.statusCode} ${String(r.headers['x-site'] ?? '')}`;
}

describe('reload with data-plane workers', () => {
  it('adds a tenant, removes one and changes a site\u2019s backends in every worker, without dropping a request under load', async () => {
    expect(await hit('old.example.com')).toBe('200 b1');
    const load = startLoad({ url: p.url, host: 'acme.example.com', rate: 300, maxMs: 10_000 });
    await waitFor(() => load.samples.length > 100, { what: 'load running' });
    await writeConfig({ acme: acme([a1.url, a2.url]), green: { tier: 'BC', hosts: ['green.example.com'], sites: [{ name: 'g1', backends: [g1.url] }] } });
    const r = await p.proxy.reload();
    expect(r).toMatchObject({ ok: true, added: ['green'], removed: ['old'], changed: ['acme'] });
    await waitFor(async () => (await a2.stats()).requests > 20, { what: 'traffic on the new backend' });
    expect(failures(await load.stop())).toEqual([]);
    await waitFor(() => p.proxy.tenant('green')!.sites.every((s) => s.health().available), { what: 'green healthy' });
    // Every connection (whichever worker it lands on) sees the new table.
    for (let i = 0; i < 6; i++) {
      expect(await hit('green.example.com')).toBe('200 g1');
      expect(await hit('old.example.com')).toBe('421 ');
    }
  });

  it('compares listen with the port the workers got: the same one reloads, another is refused', async () => {
    await writeConfig({ acme: acme([a1.url, a2.url]) });
    expect(await p.proxy.reload()).toMatchObject({ ok: true });
    await writeConfig({ acme: acme([a1.url, a2.url]) }, '127.0.0.1:1');
    const r = await p.proxy.reload();
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.problems.map((x) => x.path)).toEqual(['listen']);
  });
});

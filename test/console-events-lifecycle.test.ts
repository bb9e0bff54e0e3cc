/**
 * GET /events across a reload and a shutdown (issue 21, item 5): a reload that removes a
 * tenant sends it in `removed` (and the rebuilt or added ones as changed); drproxy's stop with
 * streams open completes at once and ends each stream cleanly (the last chunk, not a reset).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { openEvents } from './helpers/sse.js';
import type { FleetSnapshot, TenantsChanged } from '../src/console/contract.js';

let a1: Upstream;
let p: TestProxy;
let file: string;
let stateDir: string;

const tenant = (host: string, tier = 'BC') => ({ tier, hosts: [host], sites: [{ name: 'a1', backends: [a1.url] }] });
const doc = (tenants: Record<string, unknown>) => ({ admin: { ...adminTokens(), listen: `127.0.0.1:${p?.proxy.admin?.address().port ?? 0}` }, defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' } }, tenants });

beforeAll(async () => {
  a1 = await startUpstream('a1');
  file = join(await tempDir(), 'drproxy.yaml');
  stateDir = await tempDir();
  p = await startProxy(doc({ keep: tenant('keep.example.com'), old: tenant('old.example.com'), tiered: tenant('tiered.example.com') }), { configFile: file, stateDir });
  await sitesHealthy(p, 'keep');
});
afterAll(async () => {
  await p?.stop();
  await stopAll(a1);
});

describe('GET /events: reload and shutdown', () => {
  it('a reload removing a tenant sends it in `removed`; added and rebuilt tenants come as changed', async () => {
    const s = await openEvents(p.adminUrl, VIEWER);
    const snap = (await s.next((e) => e.event === 'snapshot')).data as FleetSnapshot;
    expect(snap.tenants.map((t) => t.name)).toEqual(['keep', 'old', 'tiered']);
    const from = s.events.length;
    const full = await testConfigDoc({ ...doc({ keep: tenant('keep.example.com'), tiered: tenant('tiered.example.com', 'DR1'), added: tenant('added.example.com') }), listen: `127.0.0.1:${p.port}` }, stateDir);
    await writeFile(file, stringify(full));
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: OPERATOR, body: {} });
    expect(r.body).toMatchObject({ ok: true, removed: ['old'], added: ['added'], changed: ['tiered'] });
    const removed = await s.next((e) => e.event === 'tenants' && (e.data as TenantsChanged).removed.length > 0, { from, what: 'a tenants event with removed' });
    const ev = removed.data as TenantsChanged;
    expect(ev.removed).toEqual(['old']);
    expect(ev.counts.total).toBe(3);
    // The added and rebuilt ones in the same event (others may ride along: a health change, the sweep).
    expect(ev.tenants.map((t) => t.name)).toEqual(expect.arrayContaining(['added', 'tiered']));
    expect(ev.tenants.map((t) => t.name)).not.toContain('old');
    expect(ev.tenants.find((t) => t.name === 'tiered')!.tier).toBe('DR1');
    s.close();
  });

  it('stop with open streams completes at once, each stream ended cleanly', async () => {
    const streams = [await openEvents(p.adminUrl, VIEWER), await openEvents(p.adminUrl, VIEWER)];
    for (const s of streams) await s.next((e) => e.event === 'snapshot');
    const t0 = Date.now();
    await p.stop();
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(await Promise.all(streams.map((s) => s.ended))).toEqual(['end', 'end']);
    expect(p.proxy.console().feed.size).toBe(0);
  });
});

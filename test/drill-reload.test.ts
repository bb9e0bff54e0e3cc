/**
 * A config reload that rebuilds the tenant in the middle of a drill: the drill goes on with the
 * tenant's new controller (no automatic failback pulls it off the target there either), fails
 * back through it, and passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let file: string;
let stateDir: string;

const doc = (expect_status: string) => ({
  admin: adminTokens(),
  defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s', failback: 'auto', failback_after: '0s' } },
  drills: { dwell: '1500ms', verify: { interval: '20ms', timeout: '5s' } },
  tenants: { t: { tier: 'BC', hosts: ['t.example.com'], health_check: { expect_status }, sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
});

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  stateDir = await tempDir();
  file = join(await tempDir(), 'drproxy.yaml');
  p = await startProxy(doc('200-399'), { configFile: file, stateDir });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('a drill across a reload', () => {
  it('follows the rebuilt tenant and passes', async () => {
    const before = p.proxy.tenant('t')!;
    const started = await p.proxy.drills!.start({ tenant: 't', failback: true, reason: 'reload test', actor: 'test', trigger: 'operator' });
    await waitFor(async () => ((await p.proxy.drills!.get(started.id)) as DrillReport).steps.some((s) => s.name === 'dwell'), { what: 'the dwell' });
    await writeFile(file, stringify(await testConfigDoc({ ...doc('200-299'), listen: `127.0.0.1:${p.port}` }, stateDir)));
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: OPERATOR, body: {} });
    expect(r.body.changed).toEqual(['t']);
    const after = p.proxy.tenant('t')!;
    expect(after).not.toBe(before);
    await sitesHealthy(p, 't');
    // The new controller holds the automatic failback back too.
    expect(after.state.active).toBe('b1');
    const report = await p.proxy.drills!.done(started.id);
    expect(report.status, JSON.stringify(report.reasons)).toBe('passed');
    expect(after.state).toMatchObject({ active: 'a1', phase: 'active' });
    expect(after.flips.slice(-2).map((f) => [f.trigger, f.to])).toEqual([
      ['drill', 'b1'],
      ['drill', 'a1'],
    ]);
  }, 30_000);
});

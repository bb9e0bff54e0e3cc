/**
 * drproxy SIGKILLed in the middle of a drill's dwell: at the next start the drill's report is
 * `interrupted`, and the tenant is failed back to its original site (drills.on_interrupt:
 * failback) or frozen with an alert (freeze). A drill never leaves a tenant on a site it did
 * not start on unless --no-failback was asked for.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { spawnProxy, tempDir, FAST_CHECKS, type ChildProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import type { DrillReport } from '../src/drill/types.js';

let a1: Upstream, b1: Upstream;
let child: ChildProxy | undefined;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});

afterEach(async () => {
  await child?.kill('SIGTERM');
  child = undefined;
});

afterAll(async () => {
  await stopAll(a1, b1);
});

const doc = (onInterrupt: 'failback' | 'freeze') => ({
  admin: adminTokens(),
  // Probes that tolerate a busy machine: a spurious health failover would fence a site.
  defaults: { health_check: { ...FAST_CHECKS, timeout: '1s', fall: 3 }, failover: { min_interval: '0s' } },
  drills: { dwell: '10m', on_interrupt: onInterrupt, verify: { interval: '20ms', timeout: '5s' } },
  tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
});

async function tenant(c: ChildProxy): Promise<Record<string, unknown>> {
  return (await admin(c.adminUrl, 'GET', '/tenants/t', { token: VIEWER })).body;
}

/** Start a drill in a child drproxy and SIGKILL it during the dwell; the drill's id. */
async function killMidDrill(stateDir: string, onInterrupt: 'failback' | 'freeze'): Promise<string> {
  child = await spawnProxy(doc(onInterrupt), stateDir);
  const c = child;
  await waitFor(async () => (await tenant(c)).sites && ((await tenant(c)).sites as Array<{ available: boolean }>).every((s) => s.available), { what: 'both sites healthy' });
  const r = await admin(c.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'interrupted drill test' } });
  expect(r.status, r.text).toBe(202);
  const id = r.body.id as string;
  const file = join(stateDir, 'drills', `${id}.json`);
  await waitFor(async () => (JSON.parse(await readFile(file, 'utf8')) as DrillReport).steps.some((s) => s.name === 'dwell' && s.result === 'running'), { what: 'the dwell on disk' });
  expect((await tenant(c)).active).toBe('b1');
  await c.kill('SIGKILL');
  expect((JSON.parse(await readFile(file, 'utf8')) as DrillReport).status).toBe('running');
  return id;
}

describe('a drill interrupted by SIGKILL', () => {
  it('is marked interrupted at the next start, and the tenant is failed back (on_interrupt: failback)', async () => {
    const stateDir = await tempDir();
    const id = await killMidDrill(stateDir, 'failback');
    child = await spawnProxy(doc('failback'), stateDir);
    const c = child;
    const report = await waitFor(async () => {
      const r = await admin(c.adminUrl, 'GET', `/drills/${id}`, { token: VIEWER });
      return r.body.status === 'interrupted' ? (r.body as unknown as DrillReport) : undefined;
    }, { what: 'the report interrupted' });
    expect(report.reasons.map((r) => r.code)).toContain('interrupted');
    expect(report.steps.at(-1)).toMatchObject({ name: 'recovery', result: 'ok', detail: expect.stringMatching(/failed back to a1/) });
    expect(report.steps.find((s) => s.name === 'dwell')).toMatchObject({ result: 'aborted' });
    expect(await tenant(c)).toMatchObject({ active: 'a1', phase: 'active', fenced: [] });
    expect(report.epochs.after).toBe((await tenant(c)).epoch);
    // Traffic is on a1 again.
    await waitFor(async () => {
      const r = await request(`${c.url}/`, { headers: { host: 't.example.com' } });
      await r.body.dump();
      return r.headers['x-site'] === 'a1';
    }, { what: 'traffic on a1' });
    // Stored: the report file says so too.
    const files = await readdir(join(stateDir, 'drills'));
    expect(files).toContain(`${id}.json`);
  }, 60_000);

  it('freezes the tenant with an alert when drills.on_interrupt is freeze', async () => {
    const stateDir = await tempDir();
    const id = await killMidDrill(stateDir, 'freeze');
    child = await spawnProxy(doc('freeze'), stateDir);
    const c = child;
    const report = await waitFor(async () => {
      const r = await admin(c.adminUrl, 'GET', `/drills/${id}`, { token: VIEWER });
      return r.body.status === 'interrupted' ? (r.body as unknown as DrillReport) : undefined;
    }, { what: 'the report interrupted' });
    expect(report.steps.at(-1)).toMatchObject({ name: 'recovery', result: 'ok', detail: expect.stringMatching(/froze/) });
    expect(await tenant(c)).toMatchObject({ phase: 'frozen', frozen_cause: 'drill_interrupted', active: 'b1' });
    const alert = await waitFor(() => c.output().split('\n').find((l) => l.includes('"alert":true') && l.includes('drill_interrupted')), { what: 'the alert line' });
    expect(alert).toContain(id);
  }, 60_000);
});

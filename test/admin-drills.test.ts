/**
 * The admin API's drill endpoints: roles, input checks, the audit trail (the POST and each step),
 * the Markdown rendering hook, and a graceful stop in the middle of a drill (it fails back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import type { AnyDrillReport, DrillReport } from '../src/drill/types.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let auditFile: string;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  auditFile = join(await tempDir(), 'audit.log');
  p = await startProxy(
    {
      admin: { ...adminTokens(), audit_file: auditFile },
      defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s' } },
      drills: { dwell: '10m', verify: { interval: '20ms', timeout: '5s' } },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
    },
    { drills: { markdown: (r: AnyDrillReport) => `# Drill ${r.id}\n\nStatus: ${r.status}\n` } },
  );
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

const post = (body: unknown, token = OPERATOR, tenant = 't') => admin(p.adminUrl, 'POST', `/tenants/${tenant}/drills`, { token, body });

describe('admin API: drills', () => {
  it('needs an operator token to start a drill', async () => {
    const r = await post({ reason: 'x' }, VIEWER);
    expect(r.status).toBe(403);
    expect((await admin(p.adminUrl, 'GET', '/drills')).status).toBe(401);
  });

  it('answers 400 for bad input and 404 for an unknown tenant or drill, changing nothing', async () => {
    const epoch = p.proxy.tenant('t')!.state.epoch;
    for (const [body, match] of [
      [{ reason: 'x', dwell: 'soon' }, /"dwell" must be a duration/],
      [{ reason: 'x', dwell: 30 }, /"dwell" must be a duration/],
      [{ reason: 'x', failback: 'no' }, /"failback" must be true or false/],
      [{ reason: 'x', force: true }, /unknown field "force"/],
      [{ dwell: '1s' }, /"reason" is required/],
    ] as const) {
      const r = await post(body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(String(r.body.detail)).toMatch(match);
    }
    expect((await post({ reason: 'x' }, OPERATOR, 'nope')).status).toBe(404);
    expect((await admin(p.adminUrl, 'GET', '/drills/drill-nope', { token: VIEWER })).status).toBe(404);
    expect((await admin(p.adminUrl, 'GET', '/drills?limit=0', { token: VIEWER })).status).toBe(400);
    expect(p.proxy.tenant('t')!.state.epoch).toBe(epoch);
    expect((await p.proxy.drills!.list({ tenant: 't' })).length).toBe(0);
  });

  it('audits the call and each step, renders Markdown, and fails back when drproxy stops mid-drill', async () => {
    const r = await post({ reason: 'audited drill' });
    expect(r.status, r.text).toBe(202);
    const id = r.body.id as string;
    await waitFor(async () => ((await p.proxy.drills!.get(id)) as DrillReport).steps.some((s) => s.name === 'dwell'), { what: 'the dwell' });
    expect(p.proxy.tenant('t')!.state.active).toBe('b1');

    const md = await admin(p.adminUrl, 'GET', `/drills/${id}?format=markdown`, { token: VIEWER });
    expect(md.status).toBe(200);
    expect(md.headers['content-type']).toMatch(/^text\/markdown/);
    expect(md.text).toContain(`# Drill ${id}`);

    // A graceful stop ends the dwell and fails back before the proxy exits.
    await p.stop();
    const stored = JSON.parse(await readFile(join(p.stateDir, 'drills', `${id}.json`), 'utf8')) as DrillReport;
    expect(stored.status).toBe('aborted');
    expect(stored.reasons.map((x) => x.code)).toEqual(['stopped']);
    expect(stored.steps.find((s) => s.name === 'failback')).toMatchObject({ result: 'ok' });
    expect(await readFile(join(p.stateDir, 'drills', `${id}.md`), 'utf8')).toContain('Status: aborted');

    const audit = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit.some((a) => a.action === 'drill' && a.result === 'ok' && a.status === 202 && a.tenant === 't')).toBe(true);
    const steps = audit.filter((a) => a.event === 'drill' && a.drill === id).map((a) => a.step);
    expect(steps).toEqual(['preflight', 'failover', 'verify', 'dwell', 'failback', 'verify_failback', 'restore', 'report']);
  }, 30_000);
});

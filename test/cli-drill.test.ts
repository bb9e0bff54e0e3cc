/** `drproxy drill` and `drproxy drills` against a running proxy (the built CLI, as a shell runs it). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: adminTokens(),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s' } },
    drills: { dwell: '1s', verify: { interval: '20ms', timeout: '5s' } },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

const as = (token: string) => ['--admin', p.adminUrl, '--token', token];

describe('drproxy drill', () => {
  it('runs a drill, waits for it and prints its summary; exit 0 when it passed', async () => {
    const r = await runCli(['drill', 't', '--dwell', '300ms', '--reason', 'CLI drill', ...as(OPERATOR)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PASSED/);
    expect(r.stdout).toMatch(/measured RTO: \d+ ms of 15m/);
    expect(r.stdout).toMatch(/a1 → b1 → a1/);
    const id = /drill (drill-\S+): PASSED/.exec(r.stdout)![1]!;

    const list = await runCli(['drills', 't', ...as(VIEWER)]);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(id);
    const show = await runCli(['drills', 'show', id, '--json', ...as(VIEWER)]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ id, status: 'passed', kind: 'drproxy.drill' });
    const text = await runCli(['drills', 'show', id, ...as(VIEWER)]);
    expect(text.stdout).toMatch(/verify_failback/);
  }, 30_000);

  it('prints every reason of a refusal and exits 1', async () => {
    await admin(p.adminUrl, 'POST', '/tenants/t/sites/b1/fence', { token: OPERATOR, body: { reason: 'maintenance' } });
    try {
      const r = await runCli(['drill', 't', '--reason', 'CLI drill', ...as(OPERATOR)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/409 drill_refused/);
      expect(r.stderr).toMatch(/- fenced \(b1\): it is fenced/);
    } finally {
      await admin(p.adminUrl, 'POST', '/tenants/t/sites/b1/unfence', { token: OPERATOR, body: { reason: 'done' } });
    }
  });

  it('returns at once with --no-wait', async () => {
    const r = await runCli(['drill', 't', '--dwell', '100ms', '--no-wait', '--json', '--reason', 'no wait', ...as(OPERATOR)]);
    expect(r.code, r.stderr).toBe(0);
    const started = JSON.parse(r.stdout) as { id: string; status: string };
    expect(started.status).toBe('running');
    await p.proxy.drills!.done(started.id);
  });

  it('refuses a drill without --reason (usage, exit 2)', async () => {
    const r = await runCli(['drill', 't', ...as(OPERATOR)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--reason TEXT is required/);
  });
});

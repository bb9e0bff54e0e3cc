/**
 * Two-person approval from the CLI (the built dist/cli.js against a real drproxy):
 * `drproxy failover` on a marked tenant prints the pending request and exits 3; `drproxy
 * approve` with the same token is refused (exit 1), with another operator token it carries the
 * failover out; `drproxy approvals` lists it; `drproxy reject` of another request does nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { adminTokens, OPERATOR } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';

const OPERATOR2 = 'second-operator-secret-0123456789';
let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  process.env.DRP_TEST_OPERATOR2 = OPERATOR2;
  const base = adminTokens() as { tokens: unknown[] };
  p = await startProxy({
    admin: { tokens: [...base.tokens, { name: 'ops2', role: 'operator', token_env: 'DRP_TEST_OPERATOR2' }] },
    defaults: { health_check: FAST_CHECKS },
    tiers: { BC: { approval: 'two_person' } },
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

it('asks, refuses self-approval, approves with a second token, lists and rejects', async () => {
  const env = { DRPROXY_ADMIN: p.adminUrl };
  const asked = await runCli(['failover', 'acme', '--to', 'b1', '--reason', 'CHG-3'], { ...env, DRPROXY_TOKEN: OPERATOR });
  expect(asked.code).toBe(3);
  const id = /request ([0-9a-f-]{36})/.exec(asked.stdout)?.[1];
  expect(asked.stdout).toContain('PENDING two-person approval');
  expect(id).toBeDefined();
  expect(p.proxy.tenant('acme')!.state.epoch).toBe(1);

  const self = await runCli(['approve', id!, '--reason', 'me'], { ...env, DRPROXY_TOKEN: OPERATOR });
  expect(self.code).toBe(1);
  expect(self.stderr).toContain('403 same_approver');

  const ok = await runCli(['approve', id!, '--reason', 'checked'], { ...env, DRPROXY_TOKEN: OPERATOR2 });
  expect(ok.code).toBe(0);
  expect(ok.stdout).toContain('approved failover of acme asked by ops: carried out (routed to b1, epoch 2)');
  expect(p.proxy.tenant('acme')!.state).toMatchObject({ epoch: 2, active: 'b1' });

  const list = await runCli(['approvals', '--json'], { ...env, DRPROXY_TOKEN: OPERATOR });
  expect(list.code).toBe(0);
  expect(JSON.parse(list.stdout).approvals).toEqual([expect.objectContaining({ id, status: 'approved', decided_by: 'ops2' })]);

  const second = await runCli(['failback', 'acme', '--reason', 'home', '--json'], { ...env, DRPROXY_TOKEN: OPERATOR2 });
  expect(second.code).toBe(3);
  const rid = JSON.parse(second.stdout).approval.id as string;
  const rejected = await runCli(['reject', rid, '--reason', 'not now'], { ...env, DRPROXY_TOKEN: OPERATOR });
  expect(rejected.code).toBe(0);
  expect(rejected.stdout).toContain('rejected failback of acme asked by ops2: nothing was done');
  expect(p.proxy.tenant('acme')!.state.epoch).toBe(2);
});

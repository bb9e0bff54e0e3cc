/**
 * Two-person approval: a request not approved within admin.approval_timeout does nothing. Its
 * approval answers 410 approval_expired, the tenant keeps its epoch and site, and the expiry
 * is in the audit file.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';

const OPERATOR2 = 'second-operator-secret-0123456789';
let a1: Upstream, b1: Upstream;
let p: TestProxy;
let auditFile: string;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  auditFile = join(await tempDir(), 'audit.log');
  process.env.DRP_TEST_OPERATOR2 = OPERATOR2;
  const base = adminTokens() as { tokens: unknown[] };
  p = await startProxy({
    admin: { tokens: [...base.tokens, { name: 'ops2', role: 'operator', token_env: 'DRP_TEST_OPERATOR2' }], audit_file: auditFile, approval_timeout: '300ms' },
    defaults: { health_check: FAST_CHECKS },
    tenants: { acme: { tier: 'DR1', approval: 'two_person', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

it('an expired request does nothing, even when a second operator approves it', async () => {
  const r = await admin(p.adminUrl, 'POST', '/tenants/acme/failover', { token: OPERATOR, body: { to: 'b1', reason: 'CHG-2' } });
  expect(r.status).toBe(202);
  const { id, expires_at } = r.body.approval as { id: string; expires_at: string };
  // Poll the clock, not a fixed sleep: past expires_at the request is expired.
  await waitFor(() => Date.now() > Date.parse(expires_at) + 20, { what: 'the approval to expire' });
  const late = await admin(p.adminUrl, 'POST', `/approvals/${id}`, { token: OPERATOR2, body: { reason: 'too late' } });
  expect(late.status).toBe(410);
  expect(late.body).toMatchObject({ error: 'approval_expired' });
  expect(p.proxy.tenant('acme')!.state).toMatchObject({ epoch: 1, active: 'a1' });
  const list = await admin(p.adminUrl, 'GET', '/approvals', { token: VIEWER });
  expect(list.body.approvals).toEqual([expect.objectContaining({ id, status: 'expired' })]);
  const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.some((l) => l.event === 'approval_expired' && l.approval === id && l.requested_by === 'ops')).toBe(true);
  expect(lines.some((l) => l.action === 'approve' && l.actor === 'ops2' && l.status === 410)).toBe(true);
  expect(lines.some((l) => l.action === 'failover' && l.approved_by !== undefined)).toBe(false);
});

/**
 * Two-person approval (issue 20 item 9): on a tenant whose tier is marked `approval:
 * two_person`, a forced failover by one operator token is only a pending request; the same
 * token cannot approve it; a second operator's approval carries it out through the same path,
 * and the audit file names both. A reject does nothing; an unmarked tenant is not affected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import type { NotifyEvent } from '../src/notify/events.js';

const OPERATOR2 = 'second-operator-secret-0123456789';
let a1: Upstream, b1: Upstream;
let p: TestProxy;
let auditFile: string;
const events: NotifyEvent[] = [];

function sites(): Record<string, unknown>[] {
  return [
    { name: 'a1', backends: [a1.url] },
    { name: 'b1', backends: [b1.url] },
  ];
}

async function auditLines(): Promise<Record<string, unknown>[]> {
  return (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  auditFile = join(await tempDir(), 'audit.log');
  process.env.DRP_TEST_OPERATOR2 = OPERATOR2;
  const base = adminTokens() as { tokens: unknown[] };
  p = await startProxy({
    admin: { tokens: [...base.tokens, { name: 'ops2', role: 'operator', token_env: 'DRP_TEST_OPERATOR2' }], audit_file: auditFile },
    defaults: { health_check: FAST_CHECKS },
    tiers: { BC: { approval: 'two_person' } },
    tenants: {
      acme: { tier: 'BC', hosts: ['acme.example.com'], sites: sites() },
      plain: { tier: 'DR1', hosts: ['plain.example.com'], sites: sites() },
    },
  });
  // The proxy's notifier, as the admin API asks for it at each request.
  (p.proxy as unknown as { notifierService: () => { emit(e: NotifyEvent): void } }).notifierService = () => ({ emit: (e) => events.push(e) });
  await Promise.all([sitesHealthy(p, 'acme'), sitesHealthy(p, 'plain')]);
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('two-person approval', () => {
  let id = '';

  it('turns a forced failover on a marked tenant into a pending request (202), announced, with nothing changed', async () => {
    const r = await admin(p.adminUrl, 'POST', '/tenants/acme/failover', { token: OPERATOR, body: { to: 'b1', reason: 'CHG-1 move acme' } });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'pending', approval: { action: 'failover', tenant: 'acme', requested_by: 'ops' } });
    id = (r.body.approval as { id: string }).id;
    expect(Date.parse((r.body.approval as { expires_at: string }).expires_at)).toBeGreaterThan(Date.now() + 10 * 60_000);
    expect(p.proxy.tenant('acme')!.state).toMatchObject({ epoch: 1, active: 'a1' });
    expect(events).toEqual([expect.objectContaining({ kind: 'approval_requested', tenant: 'acme', tier: 'BC', details: expect.objectContaining({ approval: id, requested_by: 'ops' }) })]);
    const list = await admin(p.adminUrl, 'GET', '/approvals', { token: VIEWER });
    expect(list.body.approvals).toEqual([expect.objectContaining({ id, status: 'pending', action: 'failover', tenant: 'acme' })]);
    const lines = await auditLines();
    expect(lines.some((l) => l.phase === 'intent' && l.action === 'failover' && l.actor === 'ops' && l.tenant === 'acme')).toBe(true);
    expect(lines.some((l) => l.action === 'failover' && l.result === 'pending' && l.approval === id && l.status === 202 && l.requested_by === 'ops')).toBe(true);
  });

  it('refuses an approval by the same token (403 same_approver) and changes nothing', async () => {
    const r = await admin(p.adminUrl, 'POST', `/approvals/${id}`, { token: OPERATOR, body: { reason: 'me again' } });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ error: 'same_approver' });
    expect(String(r.body.detail)).toContain('different operator token');
    expect(p.proxy.tenant('acme')!.state.epoch).toBe(1);
    const viewer = await admin(p.adminUrl, 'POST', `/approvals/${id}`, { token: VIEWER, body: { reason: 'viewer' } });
    expect(viewer.status).toBe(403);
  });

  it('carries the failover out when a second operator approves, and audits both actors', async () => {
    const r = await admin(p.adminUrl, 'POST', `/approvals/${id}`, { token: OPERATOR2, body: { reason: 'checked CHG-1' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: 'acme', epoch_before: 1, epoch: 2, from: 'a1', to: 'b1', result: 'routed', approval: { id, status: 'approved', approved_by: 'ops2', requested_by: 'ops' } });
    expect(p.proxy.tenant('acme')!.state).toMatchObject({ epoch: 2, active: 'b1' });
    const lines = await auditLines();
    const carried = lines.filter((l) => l.action === 'failover' && l.approval === id && l.approved_by === 'ops2' && l.requested_by === 'ops');
    expect(carried.map((l) => l.phase ?? l.result)).toEqual(['intent', 'ok']);
    expect(carried[1]).toMatchObject({ epoch_before: 1, epoch_after: 2, site: 'b1', actor: 'ops' });
    expect(lines.some((l) => l.action === 'approve' && l.actor === 'ops2' && l.result === 'ok' && l.requested_by === 'ops' && l.approved_by === 'ops2')).toBe(true);
  });

  it('does not carry out a request twice (409 approval_decided)', async () => {
    const r = await admin(p.adminUrl, 'POST', `/approvals/${id}`, { token: OPERATOR2, body: { reason: 'again' } });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ error: 'approval_decided' });
    expect(p.proxy.tenant('acme')!.state.epoch).toBe(2);
  });

  it('a rejected request is never carried out', async () => {
    const q = await admin(p.adminUrl, 'POST', '/tenants/acme/failback', { token: OPERATOR2, body: { reason: 'back home' } });
    expect(q.status).toBe(202);
    const rid = (q.body.approval as { id: string }).id;
    const own = await admin(p.adminUrl, 'POST', `/approvals/${rid}/reject`, { token: OPERATOR2, body: { reason: 'withdraw' } });
    expect(own.status).toBe(403);
    const r = await admin(p.adminUrl, 'POST', `/approvals/${rid}/reject`, { token: OPERATOR, body: { reason: 'not now' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'rejected', approval: { id: rid, rejected_by: 'ops' } });
    const late = await admin(p.adminUrl, 'POST', `/approvals/${rid}`, { token: OPERATOR, body: { reason: 'changed my mind' } });
    expect(late.status).toBe(409);
    expect(p.proxy.tenant('acme')!.state).toMatchObject({ epoch: 2, active: 'b1' });
    const lines = await auditLines();
    expect(lines.some((l) => l.action === 'reject' && l.actor === 'ops' && l.approval === rid && l.requested_by === 'ops2')).toBe(true);
  });

  it('gates unfence and drills too, and validates the request before storing it', async () => {
    const f = await admin(p.adminUrl, 'POST', '/tenants/acme/sites/a1/unfence', { token: OPERATOR, body: { reason: 'a1 repaired' } });
    expect(f.status).toBe(202);
    expect(f.body).toMatchObject({ approval: { action: 'unfence', site: 'a1' } });
    const d = await admin(p.adminUrl, 'POST', '/tenants/acme/drills', { token: OPERATOR, body: { to: 'a1', reason: 'quarterly drill' } });
    expect(d.status).toBe(202);
    expect(d.body).toMatchObject({ status: 'pending', approval: { action: 'drill', tenant: 'acme' } });
    const bad = await admin(p.adminUrl, 'POST', '/tenants/acme/failover', { token: OPERATOR, body: { to: 'a1' } });
    expect(bad.status).toBe(400);
  });

  it('leaves a tenant without the mark alone: the failover runs at once', async () => {
    const r = await admin(p.adminUrl, 'POST', '/tenants/plain/failover', { token: OPERATOR, body: { to: 'b1', reason: 'unmarked' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ tenant: 'plain', epoch: 2, to: 'b1' });
    expect(r.body.approval).toBeUndefined();
  });
});

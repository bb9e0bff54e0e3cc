/**
 * Break glass through two-person approval: the pending request keeps `force` and `break_glass`
 * (the approval replays the body), so the approved failover breaks the per-flip rule and is
 * recorded as break glass with both operators in the audit record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { STEADY_CHECKS } from './helpers/steady-checks.js';

const OPERATOR2 = 'second-operator-secret-0123456789';
let ups: Upstream[], p: TestProxy, auditFile: string;

beforeAll(async () => {
  ups = await Promise.all([startUpstream('a1'), startUpstream('a2')]);
  auditFile = join(await tempDir(), 'audit.log');
  process.env.DRP_TEST_OPERATOR2 = OPERATOR2;
  const base = adminTokens() as { tokens: unknown[] };
  p = await startProxy({
    admin: { tokens: [...base.tokens, { name: 'ops2', role: 'operator', token_env: 'DRP_TEST_OPERATOR2' }], audit_file: auditFile },
    defaults: { health_check: STEADY_CHECKS },
    tenants: {
      t: {
        tier: 'BC',
        approval: 'two_person',
        hosts: ['t.example.com'],
        safety: { failure_domain: 'region' },
        sites: [
          { name: 'a1', region: 'A', backends: [ups[0]!.url] },
          { name: 'a2', region: 'A', backends: [ups[1]!.url] },
        ],
      },
    },
  });
  await sitesHealthy(p);
});

afterAll(async () => {
  await p?.stop();
  await stopAll(...(ups ?? []));
});

describe('break glass under two-person approval', () => {
  it('the approved request is carried out as break glass, audited with both operators', async () => {
    const asked = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'a2', reason: 'only region left', force: true, break_glass: true } });
    expect(asked.status).toBe(202);
    const id = (asked.body.approval as { id: string }).id;
    const done = await admin(p.adminUrl, 'POST', `/approvals/${id}`, { token: OPERATOR2, body: { reason: 'checked with the incident lead' } });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ to: 'a2', break_glass: true, rules_broken: [{ rule: 'failure_domain' }] });
    const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((r) => r.action === 'failover' && r.result === 'ok' && r.approved_by === 'ops2')).toMatchObject({ requested_by: 'ops', break_glass: true, rules_broken: ['failure_domain'] });
  });
});

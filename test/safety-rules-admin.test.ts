/**
 * Per-flip rules on operator actions (docs/safety.md "Per-flip rules"): a forced failover into
 * the same region is refused 409 safety_rule, then carried out with force + break_glass and
 * recorded as break glass (answer, audit file, flip history, safety_rule_tripped); a fence that
 * would leave fewer than min_available_sites sites is refused too.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, tempDir, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { startReceiver, type Receiver } from './helpers/notify-receiver.js';
import { waitFor } from './helpers/poll.js';
import { STEADY_CHECKS } from './helpers/steady-checks.js';

let ups: Upstream[], p: TestProxy, rx: Receiver, auditFile: string;
const SAFETY = { min_available_sites: 2, failure_domain: 'region' };

beforeAll(async () => {
  ups = await Promise.all(['a1', 'a2', 'b1'].map((n) => startUpstream(n)));
  rx = await startReceiver();
  process.env.TEST_NOTIFY_URL = rx.url;
  process.env.TEST_NOTIFY_SECRET = 'rules-secret';
  auditFile = join(await tempDir('drproxy-audit-'), 'audit.log');
  const sites = [
    { name: 'a1', region: 'A', zone: '1', backends: [ups[0]!.url] },
    { name: 'a2', region: 'A', zone: '2', backends: [ups[1]!.url] },
    { name: 'b1', region: 'B', zone: '1', backends: [ups[2]!.url] },
  ];
  p = await startProxy({
    admin: { ...adminTokens(), audit_file: auditFile },
    defaults: { health_check: STEADY_CHECKS },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites, safety: SAFETY } },
    notify: [{ name: 'hook', kind: 'webhook', url_env: 'TEST_NOTIFY_URL', secret_env: 'TEST_NOTIFY_SECRET', events: ['safety_rule_tripped'], coalesce: '0s' }],
  });
  await sitesHealthy(p);
});

afterAll(async () => {
  await p?.stop();
  await rx?.close();
  await stopAll(...(ups ?? []));
  delete process.env.TEST_NOTIFY_URL;
  delete process.env.TEST_NOTIFY_SECRET;
});

const audit = async () => (await readFile(auditFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
const events = () => rx.accepted().flatMap((b) => (b as { events: Array<Record<string, unknown>> }).events);

describe('per-flip rules on forced flips and fences', () => {
  it('refuses a forced failover into the same region (409 safety_rule), then does it under break glass, recorded as such', async () => {
    const refused = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'a2', reason: 'move within A', force: true } });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'safety_rule', rules: [{ rule: 'failure_domain', domain: 'region', from_domain: 'A', to_domain: 'A' }] });
    expect(String(refused.body.override)).toContain('"break_glass": true');
    expect(p.proxy.tenant('t')!.state.active).toBe('a1');
    // break_glass without force is a bad request.
    expect((await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'a2', reason: 'x', break_glass: true } })).status).toBe(400);

    const done = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'a2', reason: 'region B is being rebuilt', force: true, break_glass: true } });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ to: 'a2', result: 'routed', break_glass: true, rules_broken: [{ rule: 'failure_domain' }] });

    const records = await audit();
    const outcome = records.find((r) => r.action === 'failover' && r.result === 'ok');
    expect(outcome).toMatchObject({ break_glass: true, rules_broken: ['failure_domain'], reason: 'region B is being rebuilt', actor: 'ops' });
    expect(records.find((r) => r.event === 'failover' && r.to === 'a2')).toMatchObject({ break_glass: true, rules_broken: [{ rule: 'failure_domain' }] });
    const t = await admin(p.adminUrl, 'GET', '/tenants/t', { token: OPERATOR });
    expect((t.body.flips as Array<Record<string, unknown>>).at(-1)).toMatchObject({ to: 'a2', break_glass: true });
    await waitFor(() => events().some((e) => e.kind === 'safety_rule_tripped'), { what: 'the break-glass notification' });
    expect(events().filter((e) => e.kind === 'safety_rule_tripped')).toEqual([
      expect.objectContaining({ severity: 'critical', tenant: 't', from: 'a1', to: 'a2', dedup_key: 'safety:t:failure_domain', details: expect.objectContaining({ action: 'break_glass', actor: 'ops' }) }),
    ]);
  });

  it('refuses a fence that would leave fewer than min_available_sites, and does it under break glass', async () => {
    // Now: a2 active, a1 fenced: a2 and b1 can take traffic (2). Fencing b1 leaves 1.
    const refused = await admin(p.adminUrl, 'POST', '/tenants/t/sites/b1/fence', { token: OPERATOR, body: { reason: 'maintenance of b1' } });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'safety_rule', rules: [{ rule: 'min_available_sites', required: 2, before: 2, after: 1 }] });
    expect(p.proxy.tenant('t')!.state.fenced).toEqual(['a1']);
    const done = await admin(p.adminUrl, 'POST', '/tenants/t/sites/b1/fence', { token: OPERATOR, body: { reason: 'maintenance of b1', force: true, break_glass: true } });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ fenced: ['a1', 'b1'], break_glass: true });
    expect((await audit()).find((r) => r.action === 'fence' && r.result === 'ok')).toMatchObject({ break_glass: true, rules_broken: ['min_available_sites'] });
  });
});

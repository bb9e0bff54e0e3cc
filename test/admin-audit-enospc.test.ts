/**
 * The audit file on a full disk (a tiny tmpfs). A mutation whose intent record cannot be
 * written is refused with 503 audit_unavailable and changes nothing; every other record that
 * cannot be written (refused calls, outcomes, automatic state changes) is dropped and counted
 * in drproxy_audit_write_errors_total, with one alert line on the log (rate-limited); a record
 * cut short by the full disk is cut off again, never left half-written; once there is space,
 * mutations go through again. Before, one unauthenticated request on a full disk ended the
 * process (the sync pino destination threw ENOSPC out of the request handler).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditFile } from '../src/admin/audit-file.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { startProxy, sitesHealthy, twoSiteTenant, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { SKIP_REASON, tmpfs } from './helpers/tmpfs.js';
import { waitFor } from './helpers/poll.js';


/** Probes that a loaded test machine does not fail by accident (no unplanned failover mid-test). */
const CALM_CHECKS = { interval: '200ms', timeout: '150ms', rise: 2, fall: 5, jitter: 0 };
const fs = tmpfs('1m');
afterAll(() => fs.unmount());

describe.skipIf(!fs.mounted)(`audit file on a full disk (${fs.mounted ? 'tmpfs' : SKIP_REASON})`, () => {
  let a1: Upstream, b1: Upstream;
  let p: TestProxy;
  const auditFile = join(fs.dir, 'audit', 'audit.log');

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({
      admin: { ...adminTokens(), audit_file: auditFile },
      defaults: { health_check: CALM_CHECKS, failover: { min_interval: '0s', drain_timeout: '300ms' } },
      tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
    });
    await sitesHealthy(p, 't');
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(a1, b1);
    await fs.unfill();
  });

  const errors = async (record: string): Promise<number> => {
    const m = await p.proxy.metrics.registry.getSingleMetric('drproxy_audit_write_errors_total')!.get();
    return m.values.find((v) => v.labels.record === record)?.value ?? 0;
  };

  it('AuditFile: a record cut short by the full disk is removed again', async () => {
    const f = new AuditFile(join(fs.dir, 'cut.log'));
    expect(f.append('{"first":true}\n')).toBeUndefined();
    const before = (await stat(join(fs.dir, 'cut.log'))).size;
    await fs.fill(4096);
    const err = f.append(`{"big":"${'x'.repeat(64 * 1024)}"}\n`); // more than the page left: a partial write, then ENOSPC
    expect(err?.code).toBe('ENOSPC');
    expect((await stat(join(fs.dir, 'cut.log'))).size).toBe(before);
    expect(await readFile(join(fs.dir, 'cut.log'), 'utf8')).toBe('{"first":true}\n');
    f.close();
    await fs.unfill();
  });

  it('refuses a mutation with 503 and changes nothing; refused-call records are dropped and counted', async () => {
    const t = p.proxy.tenant('t')!;
    const before = { epoch: t.state.epoch, active: t.state.active };
    await fs.fill();
    // The last page of the audit file still has room: reads (audited, never refused for it)
    // use it up, until a record fails.
    for (let i = 0; i < 50 && (await errors('outcome')) === 0; i++) expect((await admin(p.adminUrl, 'GET', '/status', { token: VIEWER })).status).toBe(200);
    expect(await errors('outcome')).toBe(1);
    const lines = (await readFile(auditFile, 'utf8')).split('\n').length;

    const r = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { reason: 'disk full drill', to: 'b1', force: true } });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'audit_unavailable', detail: expect.stringMatching(/cannot be written .*ENOSPC.*nothing changed/) });
    expect({ epoch: t.state.epoch, active: t.state.active }).toEqual(before);
    expect(await errors('intent')).toBeGreaterThanOrEqual(1);

    for (let i = 0; i < 5; i++) expect((await admin(p.adminUrl, 'POST', '/tenants/t/failover', { body: { reason: 'x' } })).status).toBe(401);
    expect(await errors('refused')).toBeGreaterThanOrEqual(1);
    // One alert line, not one per failed record.
    expect(p.logs.filter((l) => l.event === 'audit_write_failed')).toHaveLength(1);
    expect(p.logs.find((l) => l.event === 'audit_write_failed')).toMatchObject({ alert: true, code: 'ENOSPC', file: auditFile });
    // Nothing was half-written.
    const text = await readFile(auditFile, 'utf8');
    expect(text.split('\n').length).toBe(lines);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('once there is space again, the same mutation goes through, with its intent and outcome audited', async () => {
    await fs.unfill();
    const t = p.proxy.tenant('t')!;
    const before = t.state.epoch;
    const r = await admin(p.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { reason: 'disk freed', to: 'b1', force: true } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(t.state.epoch).toBe(before + 1);
    const text = await readFile(auditFile, 'utf8');
    expect(text).toMatch(/"phase":"intent","action":"failover","actor":"ops".*"reason":"disk freed"/);
    expect(text).toMatch(/"action":"failover","actor":"ops".*"result":"ok","status":200/);
  });

  it('an automatic state change while the disk is full still happens; its lost audit event is counted', async () => {
    const t = p.proxy.tenant('t')!;
    expect(t.state).toMatchObject({ active: 'b1', fenced: ['a1'] });
    await fs.fill();
    const outcomes = await errors('outcome');
    for (let i = 0; i < 50 && (await errors('outcome')) === outcomes; i++) await admin(p.adminUrl, 'GET', '/status', { token: VIEWER });
    const events = await errors('event');
    // b1 goes down and a1 is fenced: the tenant freezes (a state change written to the audit file).
    await b1.kill();
    await waitFor(() => t.state.phase === 'frozen', { what: 'the tenant frozen', timeout: 10_000 });
    await waitFor(async () => (await errors('event')) > events, { what: 'the lost event counted' });
    expect((await admin(p.adminUrl, 'GET', '/healthz')).status).toBe(200);
  });
});

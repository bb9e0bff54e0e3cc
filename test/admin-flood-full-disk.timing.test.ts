/**
 * Acceptance (issue 16): a 4 MiB tmpfs holds the audit file of drproxy running as a child
 * process; 10,000 unauthenticated admin requests (keep-alive, undici Pool), some with a 15 KB
 * path or a foreign Host: the process is alive, answers 429 once rate-limited, and the audit
 * file stays small (refused calls summed per address and window, fields bounded). Then the
 * tmpfs is filled: an operator failover is refused with 503 audit_unavailable and changes
 * nothing (epoch unchanged), and the process still serves; once there is space, the same
 * failover goes through. Before the fix, the flood alone wrote ~3 MB of audit (and, with a
 * long path, filled the disk), and one request on a full disk ended the process.
 *
 * A `.timing` file: the flood takes both cores for a few seconds, so it runs in the serial
 * phase (`vitest run --config vitest.timing.config.ts`, part of `npm test`), where it cannot
 * starve the fast health checks of the other files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Pool } from 'undici';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { spawnAdminChild, type AdminChild } from './helpers/admin-child.js';
import { twoSiteTenant } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { SKIP_REASON, tmpfs } from './helpers/tmpfs.js';


/** Probes that a loaded test machine does not fail by accident (no unplanned failover mid-test). */
const CALM_CHECKS = { interval: '200ms', timeout: '150ms', rise: 2, fall: 5, jitter: 0 };
const fs = tmpfs('4m');
afterAll(() => fs.unmount());

/** The audit file's bound for this run: start-up state records, a few full refusals, one summary per 10 s. */
const AUDIT_BOUND = 64 * 1024;
const REQUESTS = 10_000;

describe.skipIf(!fs.mounted)(`10,000 unauthenticated admin calls, then a full disk (${fs.mounted ? '4 MiB tmpfs' : SKIP_REASON})`, () => {
  let a1: Upstream, b1: Upstream;
  let d: AdminChild;
  const auditFile = join(fs.dir, 'audit.log');

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    d = await spawnAdminChild(
      {
        admin: { ...adminTokens(), audit_file: auditFile },
        defaults: { health_check: CALM_CHECKS, failover: { min_interval: '0s', drain_timeout: '300ms' } },
        tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
      },
      { DRP_TEST_OPERATOR: OPERATOR, DRP_TEST_VIEWER: VIEWER },
    );
  });

  afterAll(async () => {
    await d?.child.kill();
    await stopAll(a1, b1);
    await fs.unfill();
  });

  /** /metrics read from 127.0.0.2: its own budget, untouched by the flood from 127.0.0.1. */
  const metrics = async (): Promise<string> => {
    const c = new Client(d.adminUrl, { localAddress: '127.0.0.2' });
    try {
      const r = await c.request({ method: 'GET', path: '/metrics' });
      const text = await r.body.text();
      expect(r.statusCode).toBe(200);
      return text;
    } finally {
      await c.close();
    }
  };
  const epoch = async (): Promise<number> => Number((await admin(d.adminUrl, 'GET', '/tenants/t', { token: VIEWER })).body.epoch);

  it('stays up, answers 429 once rate-limited, and keeps the audit file under its bound', async () => {
    const pool = new Pool(d.adminUrl, { connections: 8, pipelining: 4 });
    const statuses = new Map<number, number>();
    const long = `/${'x'.repeat(15_000)}`;
    const call = async (i: number) => {
      const kind = i % 4;
      const r = await pool.request({
        method: kind === 1 ? 'POST' : 'GET',
        path: kind === 0 ? '/status' : kind === 1 ? '/tenants/t/failover' : kind === 2 ? long : '/metrics',
        headers: { host: kind === 3 ? 'attacker.example' : '127.0.0.1', ...(kind === 1 && { 'content-type': 'application/json' }) },
        ...(kind === 1 && { body: '{"reason":"flood"}' }),
      });
      await r.body.dump();
      statuses.set(r.statusCode, (statuses.get(r.statusCode) ?? 0) + 1);
    };
    const started = Date.now();
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < REQUESTS) await call(next++);
    }));
    await pool.close();
    const seconds = (Date.now() - started) / 1000;

    expect([...statuses.values()].reduce((a, b) => a + b, 0)).toBe(REQUESTS);
    expect(statuses.get(429) ?? 0).toBeGreaterThan(REQUESTS * 0.9);
    expect(d.alive(), d.child.output().slice(-2000)).toBe(true);
    expect(await d.serves()).toBe(true);
    const size = (await stat(auditFile)).size;
    expect(size, `audit file after ${REQUESTS} calls in ${seconds.toFixed(1)} s`).toBeLessThan(AUDIT_BOUND);
  });

  it('on a full disk an operator failover is refused with 503 and changes nothing; the process still serves', async () => {
    const before = await epoch();
    await fs.fill();
    // The last page of the audit file still has room for a few records (~300 bytes each): reads use it up.
    for (let i = 0; i < 20; i++) expect((await admin(d.adminUrl, 'GET', '/status', { token: VIEWER })).status).toBe(200);
    expect(await metrics()).toMatch(/drproxy_audit_write_errors_total\{record="outcome"\} [1-9]/);
    const r = await admin(d.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { reason: 'full disk drill', force: true } });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'audit_unavailable' });
    expect(await epoch()).toBe(before);
    // More unauthenticated calls on the full disk: answered, never fatal.
    for (let i = 0; i < 20; i++) expect([401, 429]).toContain((await admin(d.adminUrl, 'GET', '/status')).status);
    expect(d.alive(), d.child.output().slice(-2000)).toBe(true);
    expect(await d.serves()).toBe(true);
    expect(await metrics()).toMatch(/drproxy_audit_write_errors_total\{record="intent"\} [1-9]/);

    await fs.unfill();
    const ok = await admin(d.adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { reason: 'disk freed', to: 'b1', force: true } });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(await epoch()).toBe(before + 1);
  });
});

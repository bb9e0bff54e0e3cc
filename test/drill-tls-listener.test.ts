/**
 * A drill on a drproxy whose only listener is TLS (issue 22): the synthetic requests go over
 * HTTPS to that listener with the tenant's host as SNI (a self-signed certificate: the drill
 * checks routing, not the certificate), and the drill passes. With a plain listener listed
 * after the TLS one, the plain one is used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { makeCert, type TestCert } from './helpers/certs.js';
import { drillTarget } from '../src/drill/drill-target.js';

let a1: Upstream, b1: Upstream;
let cert: TestCert;
const running: TestProxy[] = [];

async function proxyWith(listen: unknown[]): Promise<TestProxy> {
  const p = await startProxy({
    listen,
    admin: adminTokens(),
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s' } },
    drills: { dwell: '200ms', verify: { path: '/drill-check', interval: '20ms', timeout: '5s' } },
    // The certificate names t.example.com only: a Host/SNI mismatch would be refused (421).
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], tls: { cert_file: cert.cert, key_file: cert.key }, sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  running.push(p);
  await sitesHealthy(p, 't');
  return p;
}

beforeAll(async () => {
  const dir = await tempDir('drproxy-drill-tls-');
  cert = makeCert(dir, 't', ['t.example.com']);
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});

afterAll(async () => {
  for (const p of running) await p.stop();
  await stopAll(a1, b1);
});

describe('a drill when the first listener is TLS', () => {
  it('verifies over HTTPS through the only (TLS) listener and passes', async () => {
    const p = await proxyWith([{ address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } }]);
    expect(drillTarget(p.proxy.dataPlane.listeners.list)).toMatchObject({ tls: true });
    const before = (await b1.stats()).byPath['/drill-check'] ?? 0;
    const start = await admin(p.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'TLS-only drill' } });
    expect(start.status, start.text).toBe(202);
    const r = await p.proxy.drills!.done(start.body.id as string);
    expect(r.status, JSON.stringify({ reasons: r.reasons, steps: r.steps })).toBe('passed');
    expect(r.steps.find((s) => s.name === 'verify')?.result).toBe('ok');
    expect(r.steps.find((s) => s.name === 'verify_failback')?.result).toBe('ok');
    expect(typeof r.measured_rto_ms).toBe('number');
    expect(((await b1.stats()).byPath['/drill-check'] ?? 0) - before).toBeGreaterThan(0);
  }, 30_000);

  it('prefers a plain listener listed after a TLS one', async () => {
    const p = await proxyWith([{ address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } }, '127.0.0.1:0']);
    const list = p.proxy.dataPlane.listeners.list;
    const target = drillTarget(list)!;
    expect(target.tls).toBeUndefined();
    expect(target.port).toBe((list[1]!.server.address() as import('node:net').AddressInfo).port);
    const start = await admin(p.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'plain listener second' } });
    expect(start.status, start.text).toBe(202);
    const r = await p.proxy.drills!.done(start.body.id as string);
    expect(r.status, JSON.stringify(r.reasons)).toBe('passed');
  }, 30_000);
});

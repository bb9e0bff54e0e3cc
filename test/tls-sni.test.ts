/**
 * TLS listeners (issue 22, items 1-2): two tenants on one TLS listener each get their own
 * certificate by SNI; an unknown name or no SNI gets the listener's default certificate, and a
 * request whose Host no tenant has (or that disagrees with SNI) gets 421; curl with --resolve
 * and --cacert; a plain and a TLS listener at once; the expiry metric.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert, handshake, type TestCert } from './helpers/certs.js';

let a: Upstream, b: Upstream;
let p: TestProxy;
let certA: TestCert, certB: TestCert, certDef: TestCert, certC: TestCert;
let tlsPort: number;

function get(port: number, servername: string | undefined, host: string, path = '/'): Promise<{ status: number; site?: string; fingerprint: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path, headers: { host }, ...(servername !== undefined ? { servername } : {}), rejectUnauthorized: false, agent: false }, (res) => {
      const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, site: res.headers['x-site'] as string | undefined, fingerprint }));
    });
    req.on('error', reject);
  });
}

beforeAll(async () => {
  const dir = await tempDir('drproxy-tls-');
  certA = makeCert(dir, 'a', ['a.example.com']);
  certB = makeCert(dir, 'b', ['*.b.example.com', 'b.example.com']);
  certDef = makeCert(dir, 'default', ['default.example.net']);
  const certDir = await tempDir('drproxy-tls-dir-');
  certC = makeCert(certDir, 'c', ['c.example.com']);
  // Also in the directory: a certificate for a.example.com, which tenant ta's own one overrides.
  makeCert(certDir, 'a-shadow', ['a.example.com']);
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  p = await startProxy({
    listen: ['127.0.0.1:0', { address: '127.0.0.1:0', tls: { cert_file: certDef.cert, key_file: certDef.key, cert_dir: certDir } }],
    tenants: {
      ta: { tier: 'BC', hosts: ['a.example.com'], tls: { cert_file: certA.cert, key_file: certA.key }, sites: [{ name: 'a', backends: [a.url] }] },
      tc: { tier: 'BC', hosts: ['c.example.com'], sites: [{ name: 'a', backends: [a.url] }] },
      tb: { tier: 'BC', hosts: ['b.example.com', '*.b.example.com'], tls: { cert_file: certB.cert, key_file: certB.key }, sites: [{ name: 'b', backends: [b.url] }] },
    },
  });
  tlsPort = p.ports[1]!;
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a, b);
});

describe('TLS listener, certificates by SNI', () => {
  it('serves each tenant its own certificate, wildcards included', async () => {
    expect((await handshake(tlsPort, 'a.example.com')).fingerprint).toBe(certA.fingerprint);
    expect((await handshake(tlsPort, 'b.example.com')).fingerprint).toBe(certB.fingerprint);
    const wild = await handshake(tlsPort, 'x.b.example.com');
    expect(wild.fingerprint).toBe(certB.fingerprint);
    expect(wild.cn).toBe('*.b.example.com');
    const r = await get(tlsPort, 'a.example.com', 'a.example.com');
    expect(r).toMatchObject({ status: 200, site: 'a', fingerprint: certA.fingerprint });
    expect((await get(tlsPort, 'x.b.example.com', 'x.b.example.com')).site).toBe('b');
  });

  it('serves a cert_dir certificate for the names in its SAN, after the tenants\' own', async () => {
    expect((await handshake(tlsPort, 'c.example.com')).fingerprint).toBe(certC.fingerprint);
    expect((await get(tlsPort, 'c.example.com', 'c.example.com')).status).toBe(200);
    expect((await handshake(tlsPort, 'a.example.com')).fingerprint).toBe(certA.fingerprint);
  });

  it('gives an unknown name, or no SNI, the default certificate; an unknown Host gets 421', async () => {
    expect((await handshake(tlsPort, 'nobody.example.org')).fingerprint).toBe(certDef.fingerprint);
    expect((await handshake(tlsPort, undefined)).fingerprint).toBe(certDef.fingerprint);
    const r = await get(tlsPort, 'nobody.example.org', 'nobody.example.org');
    expect(r.status).toBe(421);
    expect(r.fingerprint).toBe(certDef.fingerprint);
    // Without SNI (an IP address), a known Host is routed.
    expect((await get(tlsPort, undefined, 'a.example.com')).site).toBe('a');
  });

  it('answers 421 when Host names another host than SNI, and never reaches the other tenant', async () => {
    const before = (await b.stats()).requests;
    const r = await get(tlsPort, 'a.example.com', 'b.example.com');
    expect(r.status).toBe(421);
    expect(r.fingerprint).toBe(certA.fingerprint);
    expect((await b.stats()).requests).toBe(before);
  });

  it('works with curl --resolve and --cacert (the certificate verified)', async () => {
    const { stdout } = await promisify(execFile)('curl', ['-sS', '--resolve', `a.example.com:${tlsPort}:127.0.0.1`, '--cacert', certA.cert, '-o', '/dev/null', '-w', '%{http_code} %{ssl_verify_result}', `https://a.example.com:${tlsPort}/`]);
    expect(stdout).toBe('200 0');
  });

  it('serves a plain listener beside the TLS one, with the same routes', async () => {
    const r = await request(`${p.url}/`, { headers: { host: 'a.example.com' } });
    await r.body.dump();
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-site']).toBe('a');
    expect(p.port).toBe(p.ports[0]);
  });

  it('exports drproxy_tls_cert_expiry_seconds per tenant and name', async () => {
    const text = await (await request(`${p.adminUrl}/metrics`)).body.text();
    const line = (tenant: string, name: string) => new RegExp(`^drproxy_tls_cert_expiry_seconds\\{tenant="${tenant}",name="${name.replace(/[.*]/g, '\\$&')}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    for (const [t, n] of [['ta', 'a.example.com'], ['tb', '*.b.example.com'], ['default', 'default.example.net'], ['default', 'c.example.com']] as const) {
      const v = Number(line(t, n));
      // Made valid for 2 days: between 1 and 2 days left.
      expect(v, `${t} ${n}`).toBeGreaterThan(86_400);
      expect(v).toBeLessThanOrEqual(2 * 86_400);
    }
  });
});

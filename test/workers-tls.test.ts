/**
 * Every `listen` listener under server.workers (src/workers/): each worker opens the plain and
 * the TLS listener with reusePort, with the same certificates, ALPN and HTTP/2 as the inline
 * data plane (the worker builds its DataPlane from the same config).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { sitesHealthy, startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert } from './helpers/certs.js';
import { h2connect, h2request } from './helpers/h2.js';

let up: Upstream;
let p: TestProxy;
let tlsPort: number;

beforeAll(async () => {
  const cert = makeCert(await tempDir('drproxy-wtls-'), 'a', ['a.example.com']);
  up = await startUpstream('east');
  p = await startProxy({
    server: { workers: 2 },
    listen: [{ address: '127.0.0.1:0' }, { address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } }],
    defaults: { health_check: { interval: '30s', timeout: '1s' } },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'east', backends: [up.url] }] } },
  });
  await sitesHealthy(p, 'ta');
  tlsPort = p.proxy.threads!.ports()[1]!;
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

describe('TLS and HTTP/2 listeners in the workers', () => {
  it('serves plain HTTP, HTTPS and HTTP/2 (ALPN) through the workers', async () => {
    expect(p.proxy.dataPlane.listeners.list.some((l) => l.server.listening)).toBe(false);
    const plain = await request(`${p.url}/`, { headers: { host: 'a.example.com' } });
    await plain.body.dump();
    expect(plain.statusCode).toBe(200);
    const status = await new Promise<number>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port: tlsPort, path: '/', servername: 'a.example.com', rejectUnauthorized: false, headers: { host: 'a.example.com' } }, (res) => res.resume().on('end', () => resolve(res.statusCode!)))
        .on('error', reject);
    });
    expect(status).toBe(200);
    const s = await h2connect(tlsPort, 'a.example.com');
    try {
      const r = await h2request(s, { ':path': '/h2', ':authority': 'a.example.com' });
      expect(r.status).toBe(200);
      // The worker's session, counted at scrape as the data plane's (drproxy_http2_sessions).
      expect(await p.proxy.metricsText()).toMatch(/^drproxy_http2_sessions 1$/m);
    } finally {
      s.close();
    }
  });
});

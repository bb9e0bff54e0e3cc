/**
 * mTLS to backends: a site's `tls` block (ca_file, cert_file, key_file) is what its https
 * backends' pools and its health probes connect with. The backend here is a real
 * https.createServer with requestCert and rejectUnauthorized against a CA made for the test
 * (helpers/pki.ts): only drproxy's client certificate gets in. Without cert_file/key_file (CA
 * still given, so only the client certificate is missing) the probe fails and the site is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { request } from 'undici';
import { rmSync } from 'node:fs';
import { makePki, type Pki } from './helpers/pki.js';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { sitesHealthy, startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let pki: Pki;
let backend: https.Server;
let origin = '';
const clients: Array<{ url: string; cn: string | undefined }> = [];
const proxies: TestProxy[] = [];

beforeAll(async () => {
  pki = makePki();
  backend = https.createServer(
    { key: pki.read('serverKey'), cert: pki.read('serverCert'), ca: pki.read('ca'), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      clients.push({ url: req.url!, cn: peer.subject?.CN as string | undefined });
      res.end('mtls ok');
    },
  );
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(backend.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const p of proxies) await p.stop();
  backend?.closeAllConnections();
  await new Promise((resolve) => backend?.close(resolve));
  rmSync(pki.dir, { recursive: true, force: true });
});

function start(tls: Record<string, string>, configFile?: string): Promise<TestProxy> {
  return startProxy({
    defaults: { health_check: { interval: '200ms', timeout: '1s', rise: 1, fall: 1 }, passive_health: { consecutive_failures: 0 } },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [origin], tls }] } },
  }, { ...(configFile !== undefined && { configFile }) }).then((p) => (proxies.push(p), p));
}

describe('a site tls block with a client certificate', () => {
  it('health probes and requests reach a backend that requires the client certificate', async () => {
    const p = await start({ ca_file: pki.files.ca, cert_file: pki.files.clientCert, key_file: pki.files.clientKey });
    await sitesHealthy(p, 't');
    const res = await request(`${p.url}/hello`, { headers: { host: 't.example.com' } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('mtls ok');
    expect(clients.find((c) => c.url === '/hello')?.cn).toBe('drproxy-client');
    expect(clients.some((c) => c.url === '/healthz' && c.cn === 'drproxy-client')).toBe(true);
  });
});

describe('the same site without the client certificate', () => {
  it('the probe fails, the site is down, requests are not served', async () => {
    const p = await start({ ca_file: pki.files.ca });
    const backendState = () => p.proxy.tenant('t')!.site('a1')!.backends[0]!.health.check.state;
    await waitFor(() => backendState() === 'down', { what: 'backend down (no client certificate)' });
    expect(p.proxy.tenant('t')!.site('a1')!.health().available).toBe(false);
    const res = await request(`${p.url}/nope`, { headers: { host: 't.example.com' } });
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    await res.body.dump();
    expect(clients.some((c) => c.url === '/nope')).toBe(false);
  });
});

describe('servername', () => {
  it('is the TLS name the probes check: one the backend certificate lacks fails them', async () => {
    const p = await start({ ca_file: pki.files.ca, cert_file: pki.files.clientCert, key_file: pki.files.clientKey, servername: 'not-in-cert.example' });
    const backendState = () => p.proxy.tenant('t')!.site('a1')!.backends[0]!.health.check.state;
    await waitFor(() => backendState() === 'down', { what: 'backend down (certificate does not name servername)' });
  });
});

describe('a reload reads the files again', () => {
  it('a client certificate replaced on disk is used after the reload: the site comes up', async () => {
    // First a client certificate from another CA, which the backend refuses.
    const rogue = makePki();
    const dir = await tempDir('drproxy-mtls-');
    const cert = join(dir, 'client.pem');
    const key = join(dir, 'client.key');
    copyFileSync(rogue.files.clientCert, cert);
    copyFileSync(rogue.files.clientKey, key);
    const p = await start({ ca_file: pki.files.ca, cert_file: cert, key_file: key }, join(dir, 'drproxy.yaml'));
    const backendState = () => p.proxy.tenant('t')!.site('a1')!.backends[0]!.health.check.state;
    await waitFor(() => backendState() === 'down', { what: 'backend down (a client certificate of another CA)' });
    copyFileSync(pki.files.clientCert, cert);
    copyFileSync(pki.files.clientKey, key);
    const result = await p.proxy.reload();
    expect(result.ok, JSON.stringify(result)).toBe(true);
    await sitesHealthy(p, 't');
    const res = await request(`${p.url}/after-reload`, { headers: { host: 't.example.com' } });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    expect(clients.find((c) => c.url === '/after-reload')?.cn).toBe('drproxy-client');
    rmSync(rogue.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });
});

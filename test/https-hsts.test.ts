/**
 * The edge rules over TLS. Until TLS listeners exist (issue 22 item 1), a tls.Server of the
 * test terminates TLS and hands each TLSSocket to drproxy's data-plane http.Server, as
 * https.Server does: `req.socket.encrypted` is true, as it will be on a TLS listener. Over TLS a
 * redirect_https tenant is forwarded (no redirect loop) and its answers carry the prebuilt
 * Strict-Transport-Security, replacing the backend's own; over plain HTTP no HSTS is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import { makePki, type Pki } from './helpers/pki.js';
import { sitesHealthy, startProxy, type TestProxy } from './helpers/proxy.js';
import { redirectLocation, routeEdge } from '../src/proxy/edge.js';

let pki: Pki;
let up: http.Server;
let p: TestProxy;
let front: tls.Server;
let tlsPort = 0;

beforeAll(async () => {
  pki = makePki();
  up = http.createServer((req, res) => {
    // The backend sets its own HSTS on /own: the tenant's setting must replace it.
    if (req.url === '/own') res.setHeader('Strict-Transport-Security', 'max-age=5');
    res.end(`seen ${req.url}`);
  });
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(up.address() as AddressInfo).port}`;
  p = await startProxy({
    defaults: { health_check: { interval: '30s', timeout: '1s' }, passive_health: { consecutive_failures: 0 } },
    tenants: {
      r: { tier: 'BC', hosts: ['r.example.com'], redirect_https: true, hsts: { max_age: '1y', include_subdomains: true, preload: true }, sites: [{ name: 'a1', backends: [origin] }] },
      n: { tier: 'BC', hosts: ['n.example.com'], sites: [{ name: 'a1', backends: [origin] }] },
    },
  });
  await sitesHealthy(p, 'r');
  await sitesHealthy(p, 'n');
  front = tls.createServer({ key: pki.read('serverKey'), cert: pki.read('serverCert') }, (socket) => p.proxy.dataPlane.server.emit('connection', socket));
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  tlsPort = (front.address() as AddressInfo).port;
});

afterAll(async () => {
  await p?.stop();
  await new Promise((resolve) => front?.close(resolve));
  up?.closeAllConnections();
  await new Promise((resolve) => up?.close(resolve));
  rmSync(pki.dir, { recursive: true, force: true });
});

function get(host: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: tlsPort, path, ca: pki.read('ca'), servername: 'localhost', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('over TLS', () => {
  it('a redirect_https tenant is forwarded, with the tenant HSTS header', async () => {
    const r = await get('r.example.com', '/x?y=1');
    expect(r.status).toBe(200);
    expect(r.body).toBe('seen /x?y=1');
    expect(r.headers['strict-transport-security']).toBe('max-age=31557600; includeSubDomains; preload');
  });

  it("the backend's own HSTS is replaced by the tenant's (one header)", async () => {
    const r = await get('r.example.com', '/own');
    expect(r.headers['strict-transport-security']).toBe('max-age=31557600; includeSubDomains; preload');
  });

  it('a tenant without hsts gets none added (the backend decides)', async () => {
    const r = await get('n.example.com', '/x');
    expect(r.status).toBe(200);
    expect(r.headers['strict-transport-security']).toBeUndefined();
  });
});

describe('the decision', () => {
  const edge = routeEdge({ redirect_https: true, https_port: 443 })!;
  const req = (encrypted: boolean, url: string) => ({ socket: { encrypted }, url, headers: { host: 'R.example.com:80' } }) as unknown as http.IncomingMessage;

  it('redirects only plain-HTTP requests, never ACME challenges', () => {
    expect(redirectLocation(edge, req(false, '/a?b'))).toBe('https://r.example.com/a?b');
    expect(redirectLocation(edge, req(true, '/a?b'))).toBeUndefined();
    expect(redirectLocation(edge, req(false, '/.well-known/acme-challenge/x'))).toBeUndefined();
  });

  it('a tenant with neither rule has no edge object (one check on the hot path)', () => {
    expect(routeEdge({ redirect_https: false, https_port: 443 })).toBeUndefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { rawRequest } from './helpers/raw.js';

let app: Upstream, wild: Upstream, deep: Upstream, v1: Upstream, admin: Upstream;
let p: TestProxy;

async function siteFor(host: string, path = '/'): Promise<{ status: number; site?: string; body: string }> {
  const r = await request(`${p.url}${path}`, { headers: { host } });
  const body = await r.body.text();
  return { status: r.statusCode, site: r.headers['x-site'] as string | undefined, body };
}

beforeAll(async () => {
  [app, wild, deep, v1, admin] = await Promise.all(['app', 'wild', 'deep', 'v1', 'admin'].map((s) => startUpstream(s)));
  const one = (name: string, hosts: string[], u: Upstream, paths?: string[]) => ({
    tier: 'BC',
    hosts,
    ...(paths ? { paths } : {}),
    sites: [{ name, backends: [u.url] }],
  });
  p = await startProxy({
    tenants: {
      app: one('s', ['app.example.com'], app),
      wild: one('s', ['*.example.com'], wild),
      deep: one('s', ['*.deep.example.com'], deep),
      v1: one('s', ['api.example.com'], v1, ['/v1']),
      admin: one('s', ['api.example.com'], admin, ['/v1/admin']),
    },
  });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(app, wild, deep, v1, admin);
});

describe('host routing', () => {
  it('matches an exact host', async () => {
    expect((await siteFor('app.example.com')).site).toBe('app');
  });

  it('ignores case and port in Host', async () => {
    expect((await siteFor('APP.Example.COM:8080')).site).toBe('app');
    expect((await siteFor('app.example.com.')).site).toBe('app');
  });

  it('prefers an exact host over a wildcard', async () => {
    expect((await siteFor('app.example.com')).site).toBe('app');
    expect((await siteFor('other.example.com')).site).toBe('wild');
  });

  it('matches wildcards at any depth, the longest suffix winning', async () => {
    expect((await siteFor('a.b.example.com')).site).toBe('wild');
    expect((await siteFor('x.deep.example.com')).site).toBe('deep');
    expect((await siteFor('y.x.deep.example.com:443')).site).toBe('deep');
  });

  it('does not let a wildcard match its bare domain', async () => {
    const r = await siteFor('example.com');
    expect(r.status).toBe(421);
  });
});

describe('path routing', () => {
  it('picks the longest matching prefix', async () => {
    expect((await siteFor('api.example.com', '/v1/things')).site).toBe('v1');
    expect((await siteFor('api.example.com', '/v1/admin/users')).site).toBe('admin');
    expect((await siteFor('api.example.com', '/v1/admin')).site).toBe('admin');
    expect((await siteFor('api.example.com', '/v1?q=1')).site).toBe('v1');
  });

  it('matches prefixes on segment boundaries only', async () => {
    const r = await siteFor('api.example.com', '/v1admin');
    expect(r.status).toBe(404);
    expect(r.body).toMatch(/no tenant is configured for this path/);
  });
});

describe('unknown hosts', () => {
  it('get 421 with a short body and never reach any backend', async () => {
    const before = await Promise.all([app, wild, deep, v1, admin].map((u) => u.stats()));
    for (const host of ['unknown.org', 'example.org', 'appexample.com', '10.0.0.1', '[::1]:80']) {
      const r = await siteFor(host);
      expect(r.status, host).toBe(421);
      expect(r.body).toMatch(/^421 Misdirected Request: no tenant is configured for this host/);
    }
    const after = await Promise.all([app, wild, deep, v1, admin].map((u) => u.stats()));
    expect(after.map((s) => s.requests)).toEqual(before.map((s) => s.requests));
  });

  it('rejects absolute-form targets (drproxy is not an open proxy)', async () => {
    const before = await app.stats();
    const answer = await rawRequest(p.port, 'GET http://app.example.com/ HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 400 /);
    expect((await app.stats()).requests).toBe(before.requests);
  });

  it('answers 421 to an HTTP/1.0 request without Host', async () => {
    const answer = await rawRequest(p.port, 'GET / HTTP/1.0\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1.1 421 /);
  });
});

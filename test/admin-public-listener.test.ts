/**
 * admin.public_listen (issue 17, item 12): in the image the admin API listened on 127.0.0.1
 * only, so neither kubelet probes nor Prometheus could reach /readyz or /metrics. The public
 * listener answers GET /healthz, /readyz and /metrics (under admin.metrics_auth) and nothing
 * else: /status, /tenants/..., every POST get 404 with a JSON body, even with a valid token.
 * It shares the admin listener's guards (Host check, rate limits), starts and stops with it,
 * and a change of its address on reload is refused as needing a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { startProxy, tempDir, testConfigDoc, type TestProxy } from './helpers/proxy.js';
import { rawRequest } from './helpers/raw.js';
import { parseConfigText } from '../src/config/index.js';

const TENANTS = { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:39999'] }] } };

function publicUrl(p: TestProxy): string {
  return `http://127.0.0.1:${p.proxy.admin!.public!.address().port}`;
}

describe('admin.public_listen', () => {
  let p: TestProxy;
  let pub: string;
  let configFile: string;

  beforeAll(async () => {
    configFile = join(await tempDir('drproxy-public-'), 'drproxy.yaml');
    p = await startProxy({ admin: { ...adminTokens(), public_listen: '127.0.0.1:0' }, tenants: TENANTS }, { configFile });
    pub = publicUrl(p);
  });
  afterAll(() => p?.stop());

  it('answers the probes and /metrics without a token', async () => {
    const h = await admin(pub, 'GET', '/healthz');
    expect(h.status).toBe(200);
    expect(h.body).toEqual({ status: 'ok' });
    expect((await admin(pub, 'GET', '/readyz')).body).toEqual({ ready: true });
    const m = await admin(pub, 'GET', '/metrics');
    expect(m.status).toBe(200);
    expect(m.text).toContain('drproxy_admin_connections_open');
  });

  it('answers 404 with JSON to /status, /tenants/..., unknown paths and every POST, even with a token', async () => {
    const calls: Array<['GET' | 'POST', string]> = [
      ['GET', '/status'],
      ['GET', '/tenants/acme'],
      ['GET', '/nope'],
      ['POST', '/tenants/acme/failover'],
      ['POST', '/reload'],
      ['POST', '/healthz'],
      ['POST', '/metrics'],
    ];
    for (const [method, path] of calls) {
      for (const token of [undefined, VIEWER, OPERATOR]) {
        const r = await admin(pub, method, path, { ...(token && { token }), body: { reason: 'test', to: 'a1' } });
        expect(r.status, `${method} ${path}`).toBe(404);
        expect(r.headers['content-type']).toMatch(/^application\/json/);
        expect(r.body.error).toBe('not_found');
        expect(String(r.body.detail)).toContain('admin.public_listen');
      }
    }
    // The admin listener itself still serves them.
    expect((await admin(p.adminUrl, 'GET', '/status', { token: VIEWER })).status).toBe(200);
    expect((await admin(p.adminUrl, 'GET', '/tenants/acme', { token: VIEWER })).status).toBe(200);
  });

  it('allows IP-literal Hosts (kubelet, Prometheus) and refuses a DNS-rebinding Host with 421', async () => {
    const port = p.proxy.admin!.public!.address().port;
    const get = async (host: string) => {
      const raw = await rawRequest(port, `GET /readyz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
    };
    expect(await get('10.42.0.17:9902')).toBe(200);
    expect(await get('[fd00::17]:9902')).toBe(200);
    expect(await get('localhost')).toBe(200);
    expect(await get('attacker.example')).toBe(421);
  });

  it('counts its connections in drproxy_admin_connections_open', async () => {
    const port = p.proxy.admin!.public!.address().port;
    const sockets = await Promise.all(
      [0, 1, 2].map(() => new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', reject);
      })),
    );
    try {
      const m = await admin(p.adminUrl, 'GET', '/metrics');
      const open = Number(/^drproxy_admin_connections_open (\d+)/m.exec(m.text)?.[1]);
      expect(open).toBeGreaterThanOrEqual(4); // the three idle ones and this scrape's
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('a reload that changes admin.public_listen is refused as needing a restart', async () => {
    const doc = await testConfigDoc({ admin: { ...adminTokens(), public_listen: '127.0.0.1:1' }, tenants: TENANTS }, p.stateDir);
    await writeFile(configFile, stringify(doc));
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: OPERATOR, body: {} });
    expect(r.status).toBe(400);
    expect(r.body.problems).toEqual([{ path: 'admin.public_listen', message: expect.stringContaining('needs a restart'), severity: 'error' }]);
    expect((await admin(pub, 'GET', '/healthz')).status).toBe(200);
  });

  it('closes with the proxy', async () => {
    const q = await startProxy({ admin: { public_listen: '127.0.0.1:0' }, tenants: TENANTS });
    const server = q.proxy.admin!.public!.server;
    expect(server.listening).toBe(true);
    await q.stop();
    expect(server.listening).toBe(false);
  });
});

describe('admin.public_listen with admin.metrics_auth', () => {
  let p: TestProxy;
  let pub: string;
  beforeAll(async () => {
    p = await startProxy({ admin: { ...adminTokens(), metrics_auth: true, public_listen: '127.0.0.1:0' }, tenants: TENANTS });
    pub = publicUrl(p);
  });
  afterAll(() => p?.stop());

  it('needs a viewer token for /metrics; the probes stay open', async () => {
    const none = await admin(pub, 'GET', '/metrics');
    expect(none.status).toBe(401);
    expect(none.body.error).toBe('unauthorized');
    expect((await admin(pub, 'GET', '/metrics', { token: 'wrong-token-0123456789' })).status).toBe(401);
    const ok = await admin(pub, 'GET', '/metrics', { token: VIEWER });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('drproxy_');
    expect((await admin(pub, 'GET', '/readyz')).status).toBe(200);
  });
});

describe('admin.public_listen config', () => {
  const parse = (admin: Record<string, unknown>, listen = '0.0.0.0:8080') =>
    parseConfigText(stringify({ listen, admin, tenants: TENANTS }), 'c.yaml', '/tmp');

  it('is absent by default', () => {
    expect(parse({}).config.admin.public_listen).toBeUndefined();
    expect(parse({ public_listen: '0.0.0.0:9902' }).config.admin.public_listen).toEqual({ host: '0.0.0.0', port: 9902 });
  });

  it('refuses a port the data plane or admin.listen already takes, naming the path', () => {
    expect(() => parse({ public_listen: '0.0.0.0:8080' })).toThrow(/admin\.public_listen: same port as listen/);
    expect(() => parse({ listen: '127.0.0.1:9901', public_listen: '0.0.0.0:9901' })).toThrow(/admin\.public_listen: same port as admin\.listen/);
    expect(() => parse({ public_listen: 'nope' })).toThrow(/admin\.public_listen/);
    expect(parse({ listen: '127.0.0.1:9901', public_listen: '10.0.0.1:9901' }).config.admin.public_listen!.port).toBe(9901);
  });
});

describe('admin.public_listen rate limits', () => {
  let p: TestProxy;
  beforeAll(async () => {
    p = await startProxy({ admin: { public_listen: '127.0.0.1:0', rate_limit: { metrics_rate: 0.01, metrics_burst: 3, rate: 0.01, burst: 3 } }, tenants: TENANTS });
  });
  afterAll(() => p?.stop());

  it('share the admin listener buckets: /metrics past the budget gets 429 on both; probes are never limited', async () => {
    const pub = publicUrl(p);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await admin(pub, 'GET', '/metrics')).status);
    expect(statuses).toEqual([200, 200, 200]);
    const limited = await admin(pub, 'GET', '/metrics');
    expect(limited.status).toBe(429);
    expect(limited.body.error).toBe('too_many_requests');
    // The same address on the admin listener draws from the same bucket.
    expect((await admin(p.adminUrl, 'GET', '/metrics')).status).toBe(429);
    // Unknown paths draw from the anonymous bucket: 404 until it is spent, then 429.
    const unknown: number[] = [];
    for (let i = 0; i < 4; i++) unknown.push((await admin(pub, 'GET', '/status')).status);
    expect(unknown).toEqual([404, 404, 404, 429]);
    for (let i = 0; i < 10; i++) expect((await admin(pub, 'GET', '/readyz')).status).toBe(200);
  });
});

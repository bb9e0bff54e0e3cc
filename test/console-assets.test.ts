/**
 * The operator console's files on the admin listener (issue 21, item 1): GET / and
 * GET /console/<name> without a token, from the build directory's allow-list (here a fixture),
 * with their content types, ETag/304, and the strict CSP and framing, referrer and sniffing
 * headers on every answer of the admin API (the JSON ones too). The Host check still applies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startProxy, type TestProxy } from './helpers/proxy.js';
import { adminTokens, VIEWER } from './helpers/admin.js';
import { CONSOLE_CSP } from '../src/admin/security-headers.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/console-web/', import.meta.url));
let p: TestProxy;
/** A tenant is required; its backend (the discard port) is never reached by these tests. */
const tenants = { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }] } };

beforeAll(async () => {
  p = await startProxy({ admin: adminTokens(), tenants }, { console: { assetsDir: FIXTURE } });
});
afterAll(async () => {
  await p?.stop();
});

const get = async (path: string, headers: Record<string, string> = {}) => {
  const r = await request(`${p.adminUrl}${path}`, { headers });
  const body = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body };
};

function expectSecurityHeaders(h: Record<string, string | string[] | undefined>): void {
  expect(h['content-security-policy']).toBe(CONSOLE_CSP);
  expect(h['x-frame-options']).toBe('DENY');
  expect(h['referrer-policy']).toBe('no-referrer');
  expect(h['x-content-type-options']).toBe('nosniff');
}

describe('console files', () => {
  it('GET / answers the page without a token, with the strict CSP', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body).toContain('drproxy console (test fixture)');
    expectSecurityHeaders(r.headers);
    expect(CONSOLE_CSP).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(r.headers['cache-control']).toBe('no-cache');
    expect(r.headers.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
  });

  it('serves the directory\'s scripts, styles, icon and a file in a subfolder, each with its type', async () => {
    const types: Record<string, string> = {
      '/console/app.js': 'text/javascript; charset=utf-8',
      '/console/app.css': 'text/css; charset=utf-8',
      '/console/icon.svg': 'image/svg+xml',
      '/console/lib/util.js': 'text/javascript; charset=utf-8',
      '/console/index.html': 'text/html; charset=utf-8',
    };
    for (const [path, type] of Object.entries(types)) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      expect(r.headers['content-type'], path).toBe(type);
      expectSecurityHeaders(r.headers);
    }
    expect((await get('/console/lib/util.js')).body).toBe('export const x = 1;\n');
  });

  it('answers 304 to If-None-Match with the current ETag, 200 with another', async () => {
    const first = await get('/console/app.js');
    const etag = String(first.headers.etag);
    const again = await get('/console/app.js', { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.etag).toBe(etag);
    expectSecurityHeaders(again.headers);
    expect((await get('/console/app.js', { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('files outside the allow-list are 404: unknown, source maps, hidden files', async () => {
    for (const path of ['/console/nope.js', '/console/app.js.map', '/console/.hidden.js', '/console/lib', '/console/lib/']) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'not_found' });
      expectSecurityHeaders(r.headers);
    }
  });

  it('every other answer carries the same headers: a probe, a 401, a viewer read', async () => {
    expectSecurityHeaders((await get('/healthz')).headers);
    expectSecurityHeaders((await get('/status')).headers);
    expectSecurityHeaders((await get('/status', { authorization: `Bearer ${VIEWER}` })).headers);
  });

  it('the Host check (DNS rebinding) applies to the page and its files', async () => {
    for (const path of ['/', '/console/app.js']) {
      const r = await get(path, { host: 'attacker.example' });
      expect(r.status, path).toBe(421);
      expectSecurityHeaders(r.headers);
    }
    expect((await get('/', { host: `localhost:${p.proxy.admin!.address().port}` })).status).toBe(200);
  });

  it('the files are not served on the public listener', async () => {
    const q = await startProxy({ admin: { ...adminTokens(), public_listen: '127.0.0.1:0' }, tenants }, { console: { assetsDir: FIXTURE } });
    try {
      const r = await request(`http://127.0.0.1:${q.proxy.admin!.public!.address().port}/`);
      expect(r.statusCode).toBe(404);
      await r.body.text();
    } finally {
      await q.stop();
    }
  });

  it('without a build, GET / says the console is not built', async () => {
    const q = await startProxy({ admin: adminTokens(), tenants }, { console: { assetsDir: '/nonexistent/console-web' } });
    try {
      const r = await request(`${q.adminUrl}/`);
      expect(r.statusCode).toBe(404);
      expect(await r.body.json()).toMatchObject({ error: 'not_found', detail: expect.stringMatching(/not built/) });
    } finally {
      await q.stop();
    }
  });
});

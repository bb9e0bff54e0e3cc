/**
 * redirect_https over a plain listener, with raw sockets: a request for a redirecting tenant
 * gets a 308 to https://<host><path?query> and never reaches the backend; a hostile Host is
 * refused (400) before any redirect; an ACME HTTP-01 challenge is forwarded; a tenant without
 * the flag is forwarded; no Strict-Transport-Security is ever sent over plain HTTP.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-client.js';
import { startCaptureUpstream, type CaptureUpstream } from '../helpers/capture-upstream.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sitesHealthy, startProxy, tempDir, type TestProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/poll.js';

let up: CaptureUpstream;
let p: TestProxy;
let accessFile = '';

beforeAll(async () => {
  up = await startCaptureUpstream();
  const site = (name: string) => [{ name, backends: [up.url] }];
  accessFile = join(await tempDir(), 'access.log');
  p = await startProxy({
    access_log: { mode: 'all', destination: accessFile, include_query: true },
    defaults: { health_check: { interval: '30s', timeout: '1s' }, passive_health: { consecutive_failures: 0 } },
    tenants: {
      r: { tier: 'BC', hosts: ['r.example.com', '*.r.example.com'], redirect_https: true, hsts: { max_age: '1y' }, sites: site('a1') },
      q: { tier: 'BC', hosts: ['q.example.com'], redirect_https: true, https_port: 8443, sites: site('a1') },
      plain: { tier: 'BC', hosts: ['plain.example.com'], hsts: { max_age: '1y', include_subdomains: true, preload: true }, sites: site('a1') },
    },
  });
  await Promise.all(['r', 'q', 'plain'].map((t) => sitesHealthy(p, t)));
});
afterAll(async () => {
  await p?.stop();
  await up?.close();
});
beforeEach(() => up.mark());

const get = (target: string, host: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;

describe('redirect_https on a plain listener', () => {
  it('answers 308 with the exact Location (query kept, port dropped), nothing upstream, keep-alive kept', async () => {
    const r = await rawExchange(p.port, [get('/a/b?x=1&y=%2F', 'R.Example.com:8080'), get('/second', 'r.example.com')], { responses: 2 });
    expect(r.responses.map((x) => x.status)).toEqual([308, 308]);
    expect(r.responses[0]!.statusLine).toBe('HTTP/1.1 308 Permanent Redirect');
    expect(r.responses[0]!.headers.location).toBe('https://r.example.com/a/b?x=1&y=%2F');
    expect(r.responses[0]!.headers['content-length']).toBe('0');
    expect(r.responses[0]!.headers['strict-transport-security']).toBeUndefined();
    expect(r.responses[1]!.headers.location).toBe('https://r.example.com/second');
    expect(r.closed).toBe(false);
    expect(up.requests).toEqual([]);
    expect(up.bytes()).toBe('');
    // Logged as drproxy's own answers are: the tenant, status 308, no backend, no error code.
    const line = await waitFor(async () => (await readFile(accessFile, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.path === '/second'), { what: 'access log line' });
    expect(line).toMatchObject({ tenant: 'r', status: 308, backend: null, error: null, bytes_sent: 0 });
  });

  it('a wildcard host keeps its own name; https_port other than 443 is written', async () => {
    const a = await rawExchange(p.port, get('/', 'x.r.example.com'));
    expect(a.responses[0]!.headers.location).toBe('https://x.r.example.com/');
    const b = await rawExchange(p.port, get('/p?q', 'q.example.com'));
    expect(b.responses[0]!.headers.location).toBe('https://q.example.com:8443/p?q');
    expect(up.requests).toEqual([]);
  });

  it('a hostile Host is refused with 400 before any redirect', async () => {
    for (const host of ['r.example.com@evil.example', 'r.example.com/evil', 'evil.example, r.example.com']) {
      const r = await rawExchange(p.port, get('/x', host), { waitClose: true });
      expect(r.responses[0]!.status).toBe(400);
      expect(r.responses[0]!.headers.location).toBeUndefined();
      expect(r.closed).toBe(true);
    }
    const two = await rawExchange(p.port, `GET /x HTTP/1.1\r\nHost: r.example.com\r\nHost: evil.example\r\n\r\n`, { waitClose: true });
    expect(two.responses[0]!.status).toBe(400);
    expect(up.requests).toEqual([]);
  });

  it('a POST waiting for 100 Continue gets the 308 (no 100), its body never read, the connection closed', async () => {
    const post = 'POST /form HTTP/1.1\r\nHost: r.example.com\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n';
    const r = await rawExchange(p.port, post, { waitClose: true });
    expect(r.raw.startsWith('HTTP/1.1 308 ')).toBe(true);
    expect(r.responses[0]!.headers.location).toBe('https://r.example.com/form');
    expect(r.closed).toBe(true);
    expect(up.requests).toEqual([]);
  });

  it('a WebSocket upgrade over plain HTTP is redirected too, never forwarded', async () => {
    const ws = 'GET /chat?room=1 HTTP/1.1\r\nHost: r.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const r = await rawExchange(p.port, ws, { waitClose: true });
    expect(r.responses[0]!.status).toBe(308);
    expect(r.responses[0]!.headers.location).toBe('https://r.example.com/chat?room=1');
    expect(r.closed).toBe(true);
    expect(up.requests).toEqual([]);
    expect(up.bytes()).toBe('');
  });

  it('an ACME HTTP-01 challenge is forwarded, not redirected', async () => {
    const r = await rawExchange(p.port, get('/.well-known/acme-challenge/tok-123', 'r.example.com'));
    expect(r.responses[0]!.status).toBe(200);
    expect(r.responses[0]!.headers.location).toBeUndefined();
    expect(up.requests.map((x) => x.url)).toEqual(['/.well-known/acme-challenge/tok-123']);
  });

  it('a tenant without redirect_https is forwarded, and gets no HSTS over plain HTTP', async () => {
    const r = await rawExchange(p.port, get('/ok', 'plain.example.com'));
    expect(r.responses[0]!.status).toBe(200);
    expect(r.responses[0]!.headers['strict-transport-security']).toBeUndefined();
    expect(up.requests.map((x) => x.url)).toEqual(['/ok']);
  });
});

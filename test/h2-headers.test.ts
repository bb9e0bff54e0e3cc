/**
 * HTTP/2 streams through the data plane (issue 22 item 3): the host is :authority (routing,
 * the SNI check's 421, HSTS), a Host that disagrees with :authority is refused 400, pseudo-headers
 * never reach the upstream and cookie crumbs are joined with "; ", a body without
 * Content-Length is forwarded, connection-specific headers from an HTTP/1.1 upstream do not
 * break the stream, a cut upstream body resets that stream only, CONNECT is refused, and the
 * access log says HTTP/2.0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import type { ClientHttp2Session } from 'node:http2';
import { sitesHealthy, startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert } from './helpers/certs.js';
import { h2connect, h2request } from './helpers/h2.js';
import { waitFor } from './helpers/poll.js';

interface Seen {
  tenant: string;
  url: string;
  method: string;
  rawHeaders: string[];
  body: string;
}

let up: http.Server;
let p: TestProxy;
let port: number;
let logFile: string;
let sa: ClientHttp2Session;

beforeAll(async () => {
  const dir = await tempDir('drproxy-h2h-');
  logFile = join(dir, 'access.log');
  const cert = makeCert(dir, 'ab', ['a.example.com', 'b.example.com']);
  up = http.createServer((req, res) => {
    if (req.url === '/hop') {
      // Fields HTTP/1.1 allows and HTTP/2 forbids on a stream (RFC 9113 §8.2.2).
      res.setHeader('Connection', 'x-hop');
      res.setHeader('X-Hop', '1');
      res.setHeader('Keep-Alive', 'timeout=5');
      res.setHeader('HTTP2-Settings', 'AAMAAABkAAQCAAAAAAIAAAAA');
      res.setHeader('Proxy-Connection', 'keep-alive');
      res.end('hop');
      return;
    }
    if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': '100000' });
      res.write('x'.repeat(1000), () => res.destroy());
      return;
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const seen: Seen = { tenant: req.headers['x-dr-site'] as string, url: req.url!, method: req.method!, rawHeaders: req.rawHeaders, body };
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(up.address() as AddressInfo).port}`;
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } }],
    access_log: { mode: 'all', destination: logFile },
    defaults: { health_check: { interval: '30s', timeout: '1s' }, passive_health: { consecutive_failures: 0 } },
    tenants: {
      ta: { tier: 'BC', hosts: ['a.example.com'], hsts: { max_age: '1y' }, sites: [{ name: 'site-a', backends: [origin] }] },
      tb: { tier: 'BC', hosts: ['b.example.com'], sites: [{ name: 'site-b', backends: [origin] }] },
    },
  });
  await sitesHealthy(p, 'ta');
  await sitesHealthy(p, 'tb');
  port = p.ports[0]!;
  sa = await h2connect(port, 'a.example.com');
});

afterAll(async () => {
  sa?.close();
  await p?.stop();
  up?.closeAllConnections();
  await new Promise((resolve) => up?.close(resolve));
});

const seenOf = (body: string): Seen => JSON.parse(body) as Seen;

describe('HTTP/2 requests', () => {
  it('routes by :authority', async () => {
    const sb = await h2connect(port, 'b.example.com');
    try {
      const r = await h2request(sb, { ':path': '/x', ':authority': 'b.example.com' });
      expect(r.status).toBe(200);
      expect(seenOf(r.body).tenant).toBe('site-b');
    } finally {
      sb.close();
    }
    const ra = await h2request(sa, { ':path': '/x', ':authority': 'a.example.com' });
    expect(seenOf(ra.body).tenant).toBe('site-a');
  });

  it('refuses 400 a Host that names another host than :authority', async () => {
    const r = await h2request(sa, { ':path': '/x', ':authority': 'a.example.com', host: 'b.example.com' });
    expect(r.status).toBe(400);
    expect(r.headers['x-drproxy-error']).toBe('bad_host');
  });

  it('answers 421 when :authority is not the SNI name of the connection', async () => {
    const r = await h2request(sa, { ':path': '/x', ':authority': 'b.example.com' });
    expect(r.status).toBe(421);
    expect(r.headers['x-drproxy-error']).toBe('misdirected_request');
  });

  it('sends no pseudo-header upstream, Host from :authority, cookies joined with "; "', async () => {
    const r = await h2request(sa, { ':path': '/c?q=1', ':authority': 'a.example.com', cookie: ['a=1', 'b=2'], 'x-other': 'y' });
    const seen = seenOf(r.body);
    const names = seen.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
    expect(names.filter((n) => n.startsWith(':'))).toEqual([]);
    const value = (name: string): string[] => seen.rawHeaders.filter((_, i) => i % 2 === 1 && seen.rawHeaders[i - 1]!.toLowerCase() === name);
    expect(value('host')).toEqual(['a.example.com']);
    expect(value('cookie')).toEqual(['a=1; b=2']);
    expect(value('x-other')).toEqual(['y']);
    expect(value('x-forwarded-proto')).toEqual(['https']);
    expect(seen.url).toBe('/c?q=1');
  });

  it('forwards a request body sent without Content-Length', async () => {
    const r = await h2request(sa, { ':path': '/post', ':method': 'POST', ':authority': 'a.example.com' }, 'hello body');
    expect(r.status).toBe(200);
    expect(seenOf(r.body)).toMatchObject({ method: 'POST', body: 'hello body' });
  });

  it("drops the upstream's connection-specific headers: the stream is answered", async () => {
    const r = await h2request(sa, { ':path': '/hop', ':authority': 'a.example.com' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hop');
    for (const h of ['connection', 'x-hop', 'keep-alive', 'http2-settings', 'proxy-connection']) expect(r.headers[h]).toBeUndefined();
  });

  it("adds the tenant's HSTS over HTTP/2", async () => {
    const r = await h2request(sa, { ':path': '/x', ':authority': 'a.example.com' });
    expect(r.headers['strict-transport-security']).toBe('max-age=31557600');
  });

  it('an upstream body cut short resets that stream only: the session goes on', async () => {
    await expect(h2request(sa, { ':path': '/cut', ':authority': 'a.example.com' })).rejects.toMatchObject({ code: 'ERR_HTTP2_STREAM_ERROR' });
    const r = await h2request(sa, { ':path': '/after-cut', ':authority': 'a.example.com' });
    expect(r.status).toBe(200);
  });

  it('refuses CONNECT (no WebSocket over HTTP/2, RFC 8441, no tunnel)', async () => {
    const r = await h2request(sa, { ':method': 'CONNECT', ':authority': 'a.example.com:443' });
    expect(r.status).toBe(501);
    expect(r.headers['x-drproxy-error']).toBe('method_not_implemented');
  });

  it('logs HTTP/2.0 as the protocol, with the client address', async () => {
    await h2request(sa, { ':path': '/logged', ':authority': 'a.example.com' });
    const line = await waitFor(async () => {
      const text = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
      return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.path === '/logged');
    }, { what: 'the access log line' });
    expect(line).toMatchObject({ protocol: 'HTTP/2.0', client: '127.0.0.1', host: 'a.example.com', status: 200 });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';

let up: Upstream;
let p: TestProxy;
let hopServer: http.Server;

function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  up = await startUpstream('a1');
  // An upstream that answers with hop-by-hop headers, to see them removed on the way out.
  hopServer = http.createServer((_req, res) => {
    res.writeHead(200, [
      'Content-Type', 'text/plain',
      'Connection', 'X-Secret-Hop',
      'X-Secret-Hop', 'must not pass',
      'Keep-Alive', 'timeout=99',
      'Proxy-Connection', 'keep-alive',
      'X-Kept', 'yes',
      'Set-Cookie', 'a=1',
      'Set-Cookie', 'b=2',
    ]);
    res.end('hop');
  });
  await new Promise<void>((r) => hopServer.listen(0, '127.0.0.1', r));
  const hopPort = (hopServer.address() as AddressInfo).port;
  p = await startProxy({
    tenants: {
      acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [up.url] }] },
      hop: { tier: 'BC', hosts: ['hop.example.com'], sites: [{ name: 'h1', backends: [`http://127.0.0.1:${hopPort}`] }] },
    },
  });
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
  hopServer?.close();
});

describe('request headers to the upstream', () => {
  it('drops hop-by-hop and spoofed DR headers, sets forwarding headers and stamps the epoch', async () => {
    const r = await get(p.port, '/x?y=1', {
      Host: 'acme.example.com',
      Connection: 'keep-alive, X-Hop',
      'X-Hop': 'secret',
      'Keep-Alive': 'timeout=5',
      TE: 'trailers',
      'Proxy-Connection': 'keep-alive',
      'X-DR-Epoch': '999',
      'X-DR-Site': 'evil',
      'X-Forwarded-For': '203.0.113.9',
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'spoofed.example',
      'X-Custom': 'kept',
    });
    expect(r.status).toBe(200);
    const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/x?y=1');
    const h = seen.headers;
    expect(h['x-hop']).toBeUndefined();
    expect(h['keep-alive']).toBeUndefined();
    expect(h['te']).toBeUndefined();
    expect(h['proxy-connection']).toBeUndefined();
    expect(h['x-dr-epoch']).toBe('1');
    expect(h['x-dr-site']).toBe('a1');
    // 127.0.0.1 is not in trusted_proxies: its X-Forwarded-For is replaced, not appended to.
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('acme.example.com');
    expect(h['host']).toBe('acme.example.com');
    expect(h['x-custom']).toBe('kept');
  });

  it('sends exactly one epoch header even when the client sends several', async () => {
    const r = await get(p.port, '/', { Host: 'acme.example.com', 'x-dr-epoch': '7', 'X-Dr-Epoch': '8' });
    const h = (JSON.parse(r.body) as { headers: Record<string, string> }).headers;
    expect(h['x-dr-epoch']).toBe('1');
  });
});

describe('response headers to the client', () => {
  it('drops hop-by-hop headers and headers named by Connection, keeps the rest', async () => {
    const r = await get(p.port, '/', { Host: 'hop.example.com' });
    expect(r.status).toBe(200);
    expect(r.body).toBe('hop');
    expect(r.headers['x-secret-hop']).toBeUndefined();
    expect(r.headers['keep-alive']).toBeUndefined();
    expect(r.headers['proxy-connection']).toBeUndefined();
    expect(r.headers['x-kept']).toBe('yes');
    expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });
});

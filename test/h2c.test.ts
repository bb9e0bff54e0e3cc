/**
 * h2c with prior knowledge on a plain listener with `h2c: true` (issue 22 item 3): an HTTP/2
 * client that starts with the preface is served over HTTP/2, HTTP/1.1 clients on the same
 * listener as before; a listener without h2c answers the preface promptly rather than hang.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { request } from 'undici';
import { startCaptureUpstream, type CaptureUpstream } from './helpers/capture-upstream.js';
import { sitesHealthy, startProxy, type TestProxy } from './helpers/proxy.js';
import { h2connect, h2request } from './helpers/h2.js';

let up: CaptureUpstream;
let p: TestProxy;
let h2cPort: number;
let plainPort: number;

beforeAll(async () => {
  up = await startCaptureUpstream();
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', h2c: true }, '127.0.0.1:0'],
    server: { headers_timeout: '500ms' },
    defaults: { health_check: { interval: '30s', timeout: '1s' } },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'east', backends: [up.url] }] } },
  });
  await sitesHealthy(p, 't');
  [h2cPort, plainPort] = p.ports as [number, number];
});

afterAll(async () => {
  await p?.stop();
  await up?.close();
});

describe('h2c (prior knowledge)', () => {
  it('serves an HTTP/2 client on an h2c listener, X-Forwarded-Proto http', async () => {
    const s = await h2connect(h2cPort, null);
    try {
      const rs = await Promise.all([1, 2, 3].map((i) => h2request(s, { ':path': `/h2c/${i}`, ':authority': 't.example.com' })));
      for (const r of rs) expect(r.status).toBe(200);
      const seen = JSON.parse(rs[0]!.body) as { headers: Record<string, string[]> };
      expect(seen.headers['x-forwarded-proto']).toEqual(['http']);
      expect(seen.headers['x-dr-site']).toEqual(['east']);
    } finally {
      s.close();
    }
  });

  it('serves HTTP/1.1 on the same listener unchanged', async () => {
    const r = await request(`http://127.0.0.1:${h2cPort}/h1`, { headers: { host: 't.example.com' } });
    expect(r.statusCode).toBe(200);
    expect((JSON.parse(await r.body.text()) as { httpVersion: string }).httpVersion).toBe('1.1');
  });

  it('closes a connection that sends nothing, or part of the preface, after headers_timeout', async () => {
    for (const first of ['', 'PRI * HTTP/2.0\r\n']) {
      const t0 = performance.now();
      await new Promise<void>((resolve, reject) => {
        const sock = net.connect(h2cPort, '127.0.0.1', () => first !== '' && sock.write(first));
        sock.on('close', () => resolve());
        sock.on('error', reject);
        sock.resume();
      });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    }
  });

  it('answers the preface on a listener without h2c and closes (no hang)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(plainPort, '127.0.0.1', () => sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
      let got = '';
      sock.setEncoding('latin1');
      sock.on('data', (d: string) => (got += d));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 (400|505) /);
  });
});

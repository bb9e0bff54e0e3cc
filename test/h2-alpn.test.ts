/**
 * HTTP/2 by ALPN on a TLS listener (issue 22 item 3): Node's http2 client and curl --http2
 * negotiate h2 and get the upstream's answer, stamped upstream with the epoch and site headers
 * as over HTTP/1.1; HTTP/1.1 clients on the same port still speak HTTP/1.1; a listener with
 * `http2: false` offers only http/1.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startCaptureUpstream, type CaptureUpstream } from './helpers/capture-upstream.js';
import { sitesHealthy, startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import tls from 'node:tls';
import { makeCert, type TestCert } from './helpers/certs.js';
import { h2connect, h2request } from './helpers/h2.js';

const run = promisify(execFile);
let up: CaptureUpstream;
let p: TestProxy;
let cert: TestCert;
let h2Port: number;
let h1OnlyPort: number;

beforeAll(async () => {
  const dir = await tempDir('drproxy-h2-');
  cert = makeCert(dir, 'a', ['a.example.com']);
  up = await startCaptureUpstream();
  const tls = { cert_file: cert.cert, key_file: cert.key };
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', tls }, { address: '127.0.0.1:0', tls, http2: false }],
    defaults: { health_check: { interval: '30s', timeout: '1s' } },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'east', backends: [up.url] }] } },
  });
  await sitesHealthy(p, 'ta');
  [h2Port, h1OnlyPort] = p.ports as [number, number];
});

/** The protocol the listener chose by ALPN from the client's offer. */
function alpn(port: number, offer: string[]): Promise<string | false | null> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.example.com', ALPNProtocols: offer, rejectUnauthorized: false }, () => {
      resolve(s.alpnProtocol);
      s.destroy();
    });
    s.on('error', reject);
  });
}

afterAll(async () => {
  await p?.stop();
  await up?.close();
});

describe('ALPN h2 on a TLS listener', () => {
  it('offers h2 first, then http/1.1', async () => {
    expect(await alpn(h2Port, ['h2', 'http/1.1'])).toBe('h2');
    expect(await alpn(h2Port, ['http/1.1'])).toBe('http/1.1');
  });

  it('a Node http2 client gets the upstream answer; the upstream sees the epoch and site stamp', async () => {
    up.mark();
    const s = await h2connect(h2Port, 'a.example.com');
    try {
      const r = await h2request(s, { ':path': '/hello?x=1', ':authority': 'a.example.com' });
      expect(r.status).toBe(200);
      const seen = JSON.parse(r.body) as { url: string; headers: Record<string, string[]> };
      expect(seen.url).toBe('/hello?x=1');
      expect(seen.headers['x-dr-epoch']?.length).toBe(1);
      expect(seen.headers['x-dr-site']).toEqual(['east']);
      expect(seen.headers['x-forwarded-proto']).toEqual(['https']);
      expect(seen.headers.host).toEqual(['a.example.com']);
    } finally {
      s.close();
    }
  });

  it('curl --http2 negotiates HTTP/2', async () => {
    const { stdout } = await run('curl', ['-sk', '--http2', '--resolve', `a.example.com:${h2Port}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://a.example.com:${h2Port}/c`]);
    expect(stdout).toBe('2 200');
  });

  it('HTTP/1.1 clients on the same port still get HTTP/1.1', async () => {
    const { stdout } = await run('curl', ['-sk', '--http1.1', '--resolve', `a.example.com:${h2Port}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://a.example.com:${h2Port}/c`]);
    expect(stdout).toBe('1.1 200');
    const version = await new Promise<string>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: h2Port, servername: 'a.example.com', headers: { host: 'a.example.com' }, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        resolve(res.httpVersion);
      }).on('error', reject);
    });
    expect(version).toBe('1.1');
  });

  it('a listener with http2: false offers only http/1.1', async () => {
    expect(await alpn(h1OnlyPort, ['h2', 'http/1.1'])).toBe('http/1.1');
    const { stdout } = await run('curl', ['-sk', '--http2', '--resolve', `a.example.com:${h1OnlyPort}:127.0.0.1`, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://a.example.com:${h1OnlyPort}/c`]);
    expect(stdout).toBe('1.1 200');
  });
});

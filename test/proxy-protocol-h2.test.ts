/**
 * The PROXY protocol with HTTP/2: on a plain `h2c` listener (PROXY header, then the h2c
 * preface) and on a TLS listener (PROXY header, then the handshake choosing h2 by ALPN), each
 * stream's X-Forwarded-For and access-log client are the header's client, not the balancer's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCaptureUpstream, type CaptureUpstream } from './helpers/capture-upstream.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert } from './helpers/certs.js';
import { waitFor } from './helpers/poll.js';
import { h2request } from './helpers/h2.js';
import { v1Tcp4, v2Tcp4 } from './helpers/proxy-header.js';

let up: CaptureUpstream;
let p: TestProxy;
let logFile: string;
let h2cPort: number;
let tlsPort: number;

/** A TCP connection that has sent `header` (written before anything else). */
function headed(port: number, header: Buffer): net.Socket {
  const sock = net.connect(port, '127.0.0.1');
  sock.write(header);
  return sock;
}

function session(authority: string, socket: net.Socket | tls.TLSSocket): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(authority, { createConnection: () => socket });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function loggedClient(path: string): Promise<unknown> {
  return waitFor(async () => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const line = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string; client: unknown; protocol?: string }).find((l) => l.path === path);
    return line && [line.client, line.protocol];
  }, { timeout: 5000, what: `access log line for ${path}` });
}

beforeAll(async () => {
  const dir = await tempDir('drproxy-pp-h2-');
  logFile = join(dir, 'access.log');
  const cert = makeCert(dir, 'a', ['a.example.com']);
  up = await startCaptureUpstream();
  p = await startProxy({
    listen: [
      { address: '127.0.0.1:0', proxy_protocol: true, h2c: true },
      { address: '127.0.0.1:0', proxy_protocol: true, tls: { cert_file: cert.cert, key_file: cert.key } },
    ],
    server: { trusted_proxies: ['127.0.0.1'] },
    access_log: { mode: 'all', destination: logFile },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: [up.url] }] } },
  });
  [h2cPort, tlsPort] = p.ports as [number, number];
});

afterAll(async () => {
  await p?.stop();
  await up?.close();
});

const xff = (path: string) => up.requests.find((r) => r.url === path)?.headers['x-forwarded-for']?.join(',');

describe('PROXY protocol with HTTP/2', () => {
  it('h2c: PROXY v2 header, then the preface; two streams carry the header client', async () => {
    const s = await session('http://a.example.com', headed(h2cPort, v2Tcp4('192.0.2.44')));
    try {
      for (const path of ['/h2c-1', '/h2c-2']) {
        const r = await h2request(s, { ':path': path, ':authority': 'a.example.com' });
        expect(r.status).toBe(200);
        expect(xff(path)).toBe('192.0.2.44');
      }
      expect(await loggedClient('/h2c-2')).toEqual(['192.0.2.44', 'HTTP/2.0']);
    } finally {
      s.close();
    }
  });

  it('TLS: PROXY v1 header, then the handshake choosing h2', async () => {
    const raw = headed(tlsPort, v1Tcp4('198.51.100.9'));
    const t = tls.connect({ socket: raw, servername: 'a.example.com', ALPNProtocols: ['h2'], rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      t.once('secureConnect', () => resolve());
      t.once('error', reject);
    });
    expect(t.alpnProtocol).toBe('h2');
    const s = await session('https://a.example.com', t);
    try {
      const r = await h2request(s, { ':path': '/tls-h2', ':authority': 'a.example.com' });
      expect(r.status).toBe(200);
      expect(xff('/tls-h2')).toBe('198.51.100.9');
      expect(await loggedClient('/tls-h2')).toEqual(['198.51.100.9', 'HTTP/2.0']);
    } finally {
      s.close();
    }
  });
});

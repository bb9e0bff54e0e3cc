/**
 * PROXY protocol listeners (proxy_protocol: true) with trusted_proxies [127.0.0.1]: the header's
 * client is what the upstream sees in X-Forwarded-For and what the access log writes, with the
 * header and the request in one write or the header split over several, on a plain listener and
 * on a TLS one (header, then the handshake), and for a second keep-alive request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCaptureUpstream, type CaptureUpstream } from './helpers/capture-upstream.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert } from './helpers/certs.js';
import { waitFor } from './helpers/poll.js';
import { v1Tcp4, v2Tcp4, v2, inet6 } from './helpers/proxy-header.js';

let up: CaptureUpstream;
let p: TestProxy;
let logFile: string;
let plainPort: number;
let tlsPort: number;

const request = (path: string): Buffer => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: a.example.com\r\n\r\n`, 'latin1');

/** Read answers with a Content-Length body off a duplex, one at a time. */
function answers(sock: net.Socket | tls.TLSSocket): () => Promise<string> {
  let buf = '';
  const waiters: Array<() => void> = [];
  sock.setEncoding('latin1');
  sock.on('data', (d: string) => {
    buf += d;
    waiters.splice(0).forEach((w) => w());
  });
  sock.on('close', () => waiters.splice(0).forEach((w) => w()));
  return async () => {
    for (;;) {
      const head = buf.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(buf.slice(0, head));
      if (head !== -1 && m && buf.length >= head + 4 + Number(m[1])) {
        const out = buf.slice(0, head + 4 + Number(m[1]));
        buf = buf.slice(out.length);
        return out;
      }
      if (sock.destroyed) throw new Error(`closed with ${JSON.stringify(buf)}`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
}

/** Send chunks one write each, return the first answer, close. */
async function exchange(chunks: Buffer[]): Promise<string> {
  const sock = net.connect(plainPort, '127.0.0.1');
  const next = answers(sock);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  for (const c of chunks) {
    await new Promise((r) => sock.write(c, r));
    await new Promise((r) => setImmediate(r));
  }
  try {
    return await next();
  } finally {
    sock.destroy();
  }
}

/** A duplex over `raw` whose first write goes out with `prefix` in front, in one write. */
function prefixedFirstWrite(raw: net.Socket, prefix: Buffer): Duplex {
  let first = true;
  const d = new Duplex({
    write(chunk: Buffer, _enc, cb) {
      raw.write(first ? Buffer.concat([prefix, chunk]) : chunk, cb);
      first = false;
    },
    read() {},
    final(cb) {
      raw.end();
      cb();
    },
    destroy(err, cb) {
      raw.destroy();
      cb(err);
    },
  });
  raw.on('data', (b: Buffer) => d.push(b));
  raw.on('end', () => d.push(null));
  return d;
}

function seenXff(path: string): string | undefined {
  return up.requests.find((r) => r.url === path)?.headers['x-forwarded-for']?.join(',');
}

async function loggedClient(path: string): Promise<unknown> {
  return waitFor(async () => {
    const text = await readFile(logFile, 'utf8').catch(() => '');
    const line = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { path: string; client: unknown }).find((l) => l.path === path);
    return line?.client;
  }, { timeout: 5000, what: `access log line for ${path}` });
}

beforeAll(async () => {
  const dir = await tempDir('drproxy-pp-');
  logFile = join(dir, 'access.log');
  const cert = makeCert(dir, 'a', ['a.example.com']);
  up = await startCaptureUpstream();
  p = await startProxy({
    listen: [
      { address: '127.0.0.1:0', proxy_protocol: true },
      { address: '127.0.0.1:0', proxy_protocol: true, tls: { cert_file: cert.cert, key_file: cert.key } },
    ],
    server: { trusted_proxies: ['127.0.0.1'] },
    access_log: { mode: 'all', destination: logFile },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: [up.url] }] } },
  });
  [plainPort, tlsPort] = p.ports as [number, number];
});

afterAll(async () => {
  await p?.stop();
  await up?.close();
});

describe('PROXY protocol listeners', () => {
  it('v1 header and request in one write: X-Forwarded-For and the access log name the header client', async () => {
    const text = await exchange([Buffer.concat([v1Tcp4('192.0.2.7'), request('/v1-one')])]);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(seenXff('/v1-one')).toBe('192.0.2.7');
    expect(await loggedClient('/v1-one')).toBe('192.0.2.7');
  });

  it('v2 header split over several writes, then the request', async () => {
    const h = v2Tcp4('198.51.100.23');
    const text = await exchange([h.subarray(0, 5), h.subarray(5, 15), h.subarray(15), request('/v2-split')]);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(seenXff('/v2-split')).toBe('198.51.100.23');
    expect(await loggedClient('/v2-split')).toBe('198.51.100.23');
  });

  it('v2 over IPv6, and a keep-alive second request on the same connection keeps the client', async () => {
    const src = Buffer.from('20010db8000000000000000000000042', 'hex');
    const h = v2(0x21, 0x21, inet6(src, Buffer.alloc(16), 1234, 80));
    const sock = net.connect(plainPort, '127.0.0.1');
    const next = answers(sock);
    sock.write(Buffer.concat([h, request('/ka-1')]));
    expect(await next()).toMatch(/^HTTP\/1\.1 200/);
    sock.write(request('/ka-2'));
    expect(await next()).toMatch(/^HTTP\/1\.1 200/);
    sock.destroy();
    expect(seenXff('/ka-1')).toBe('2001:db8::42');
    expect(seenXff('/ka-2')).toBe('2001:db8::42');
    expect(await loggedClient('/ka-2')).toBe('2001:db8::42');
  });

  it('believes X-Forwarded-For from the header client only when that client is a trusted proxy', async () => {
    const spoof = (path: string): Buffer => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: a.example.com\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n`, 'latin1');
    // The balancer (127.0.0.1) is trusted, the client it speaks for is not: its header is replaced.
    expect(await exchange([Buffer.concat([v1Tcp4('192.0.2.9'), spoof('/xff-untrusted')])])).toMatch(/^HTTP\/1\.1 200/);
    expect(seenXff('/xff-untrusted')).toBe('192.0.2.9');
    // A client that is itself in trusted_proxies (an L7 proxy behind the balancer) is believed.
    expect(await exchange([Buffer.concat([v1Tcp4('127.0.0.1'), spoof('/xff-trusted')])])).toMatch(/^HTTP\/1\.1 200/);
    expect(seenXff('/xff-trusted')).toBe('6.6.6.6, 127.0.0.1');
  });

  it('LOCAL (a balancer health check) is served with the real peer address', async () => {
    const text = await exchange([Buffer.concat([v2(0x20, 0x00, Buffer.alloc(0)), request('/local')])]);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(seenXff('/local')).toBe('127.0.0.1');
  });

  for (const [name, header] of [['v2', v2Tcp4('203.0.113.5')], ['v1', v1Tcp4('203.0.113.6')]] as const) {
    it(`TLS listener: ${name} header, then the handshake and two requests`, async () => {
      const raw = net.connect(tlsPort, '127.0.0.1');
      await new Promise<void>((r) => raw.once('connect', () => r()));
      // v2: the header alone, then the ClientHello; v1: both in one write (the rest of the
      // first chunk must reach Node's TLS wrap).
      let s: tls.TLSSocket;
      if (name === 'v2') {
        await new Promise((r) => raw.write(header, r));
        s = tls.connect({ socket: raw, servername: 'a.example.com', rejectUnauthorized: false });
      } else {
        s = tls.connect({ socket: prefixedFirstWrite(raw, header), servername: 'a.example.com', rejectUnauthorized: false });
      }
      await new Promise<void>((resolve, reject) => {
        s.once('secureConnect', () => resolve());
        s.once('error', reject);
      });
      const next = answers(s);
      s.write(request(`/tls-${name}-1`));
      expect(await next()).toMatch(/^HTTP\/1\.1 200/);
      s.write(request(`/tls-${name}-2`));
      expect(await next()).toMatch(/^HTTP\/1\.1 200/);
      s.destroy();
      const client = name === 'v2' ? '203.0.113.5' : '203.0.113.6';
      expect(seenXff(`/tls-${name}-1`)).toBe(client);
      expect(seenXff(`/tls-${name}-2`)).toBe(client);
      expect(up.requests.find((r) => r.url === `/tls-${name}-1`)?.headers['x-forwarded-proto']).toEqual(['https']);
      expect(await loggedClient(`/tls-${name}-2`)).toBe(client);
    });
  }
});

/**
 * Hostile clients of TLS listeners, with raw sockets: a client that connects and never sends its
 * ClientHello is closed after server.headers_timeout (not Node's 120 s handshake default); the
 * connection caps count every listener together (server.max_connections is process-wide), and a
 * connection over the cap on a TLS listener is closed before any handshake byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { connectionCounts, startProxy, tempDir, type TestProxy } from '../helpers/proxy.js';
import { makeCert, handshake, type TestCert } from '../helpers/certs.js';
import { waitFor } from '../helpers/poll.js';

const HEADERS_TIMEOUT = 400;
let up: Upstream;
let p: TestProxy;
let cert: TestCert;
let plainPort: number;
let tlsPort: number;

/** Open a raw socket; resolves when connected, with the time it closes and what it received. */
function rawConnect(port: number): Promise<{ sock: net.Socket; closed: Promise<{ after: number; bytes: number }> }> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    let bytes = 0;
    const sock = net.connect(port, '127.0.0.1', () => resolve({ sock, closed }));
    const closed = new Promise<{ after: number; bytes: number }>((r) => sock.once('close', () => r({ after: Date.now() - start, bytes })));
    sock.on('data', (d: Buffer) => (bytes += d.length));
    sock.on('error', () => {});
    sock.once('error', reject);
  });
}

beforeAll(async () => {
  const dir = await tempDir('drproxy-tls-hostile-');
  cert = makeCert(dir, 'a', ['a.example.com']);
  up = await startUpstream('a');
  p = await startProxy({
    listen: ['127.0.0.1:0', { address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } }],
    server: { headers_timeout: `${HEADERS_TIMEOUT}ms`, request_timeout: '5s', max_connections: 2 },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: [up.url] }] } },
  });
  [plainPort, tlsPort] = p.ports as [number, number];
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

describe('TLS listeners under hostile clients', () => {
  it('closes a connection that never sends its ClientHello after server.headers_timeout', async () => {
    const { closed } = await rawConnect(tlsPort);
    const { after, bytes } = await closed;
    expect(bytes).toBe(0);
    expect(after).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 50);
    expect(after).toBeLessThan(HEADERS_TIMEOUT + 3000);
  });

  it('counts connections of every listener against one cap, refusing the TLS one before its handshake', async () => {
    // The last test's connection may still be counted (a worker closes it on its own turn):
    // counted with the first one here, it would make "two open" true before both are in.
    await waitFor(async () => (await connectionCounts(p)).open === 0, { what: 'no connection open' });
    const a = await rawConnect(plainPort);
    const b = await rawConnect(tlsPort);
    await waitFor(async () => (await connectionCounts(p)).open === 2, { what: 'two open connections' });
    const refused = await handshake(tlsPort, 'a.example.com').then(() => 'handshake', (e: NodeJS.ErrnoException) => e.code ?? e.message);
    expect(refused).not.toBe('handshake');
    // Not the plain-HTTP 503 of a refused plain connection: nothing at all before a handshake.
    const third = await rawConnect(tlsPort);
    expect((await third.closed).bytes).toBe(0);
    expect((await connectionCounts(p)).refused.max_connections).toBeGreaterThanOrEqual(1);
    a.sock.destroy();
    b.sock.destroy();
    await waitFor(async () => (await connectionCounts(p)).open === 0, { what: 'the connections to close' });
    expect((await handshake(tlsPort, 'a.example.com')).protocol).toBe('TLSv1.3');
  });
});

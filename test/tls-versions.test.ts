/**
 * TLS versions and ciphers of a TLS listener (docs/tls.md): TLS 1.2 and 1.3 by default, TLS 1.1
 * refused with a protocol_version alert (not merely a cipher mismatch); min_version TLSv1.3
 * refuses TLS 1.2; session tickets resume a session until the ticket key rotates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert, handshake, type TestCert } from './helpers/certs.js';
import { waitFor } from './helpers/poll.js';

let up: Upstream;
let p: TestProxy;
let cert: TestCert;
let port12: number;
let port13: number;
let portRotating: number;

/** A client that would speak TLS 1.0-1.1 with any cipher (security level 0), so that only the server can refuse. */
const OLD: tls.ConnectionOptions = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };

beforeAll(async () => {
  const dir = await tempDir('drproxy-tls-versions-');
  cert = makeCert(dir, 'a', ['a.example.com']);
  up = await startUpstream('a');
  p = await startProxy({
    listen: [
      { address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } },
      { address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key, min_version: 'TLSv1.3' } },
      { address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key, ticket_rotation: '300ms' } },
    ],
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: [up.url] }] } },
  });
  [port12, port13, portRotating] = p.ports as [number, number, number];
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

describe('TLS versions', () => {
  it('speaks TLS 1.3 and 1.2 by default', async () => {
    expect((await handshake(port12, 'a.example.com')).protocol).toBe('TLSv1.3');
    expect((await handshake(port12, 'a.example.com', { maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
  });

  it('refuses TLS 1.1 with a protocol_version alert', async () => {
    const err = (await handshake(port12, 'a.example.com', OLD).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('refuses TLS 1.2 on a listener with min_version TLSv1.3', async () => {
    expect((await handshake(port13, 'a.example.com')).protocol).toBe('TLSv1.3');
    const err = (await handshake(port13, 'a.example.com', { maxVersion: 'TLSv1.2' }).catch((e: unknown) => e)) as NodeJS.ErrnoException;
    expect(err.code).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('resumes a TLS 1.2 session from its ticket', async () => {
    expect(await resumes(port12, await ticket(port12))).toBe(true);
  });

  it('rotates the ticket key (ticket_rotation): a ticket from before is no longer accepted', async () => {
    const session = await ticket(portRotating);
    expect(await resumes(portRotating, session)).toBe(true);
    await waitFor(async () => !(await resumes(portRotating, session)), { timeout: 5000, what: 'the old ticket to be refused after a rotation' });
  });
});

function ticket(port: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.example.com', rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
      const sess = s.getSession();
      s.end();
      if (sess) resolve(sess);
      else reject(new Error('no session'));
    });
    s.once('error', reject);
  });
}

function resumes(port: number, session: Buffer): Promise<boolean> {
  return new Promise<boolean>((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'a.example.com', rejectUnauthorized: false, maxVersion: 'TLSv1.2', session }, () => {
      resolve(s.isSessionReused());
      s.end();
    });
    s.once('error', reject);
  });
}

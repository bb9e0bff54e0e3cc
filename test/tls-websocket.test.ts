/**
 * WebSocket over TLS (issue 22): a `wss://` client through a TLS listener, the tenant chosen by
 * SNI, to a WebSocket upstream; messages both ways; the epoch and site headers on the upgrade
 * request upstream; a Host that disagrees with SNI refused with 421 on the upgrade. TLS listeners
 * offer ALPN h2 first (HTTP/2): a WebSocket client offers http/1.1 or no ALPN at all, and both
 * must still reach the HTTP/1.1 upgrade.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { WebSocket, type ClientOptions } from 'ws';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert, type TestCert } from './helpers/certs.js';

let chat: Upstream, other: Upstream;
let p: TestProxy;
let certChat: TestCert, certOther: TestCert;
let port: number;

beforeAll(async () => {
  const dir = await tempDir('drproxy-tls-ws-');
  certChat = makeCert(dir, 'chat', ['chat.example.com']);
  certOther = makeCert(dir, 'other', ['other.example.com']);
  [chat, other] = await Promise.all([startUpstream('ws1'), startUpstream('ws2')]);
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', tls: { cert_file: certChat.cert, key_file: certChat.key } }],
    tenants: {
      chat: { tier: 'BC', hosts: ['chat.example.com'], tls: { cert_file: certChat.cert, key_file: certChat.key }, sites: [{ name: 'ws1', backends: [chat.url] }] },
      other: { tier: 'BC', hosts: ['other.example.com'], tls: { cert_file: certOther.cert, key_file: certOther.key }, sites: [{ name: 'ws2', backends: [other.url] }] },
    },
  });
  port = p.ports[0]!;
});

afterAll(async () => {
  await p?.stop();
  await stopAll(chat, other);
});

/** A wss:// connection to 127.0.0.1 with SNI `servername` and `Host: host`; `alpn` undefined: no ALPN extension. */
function open(servername: string, host: string, alpn?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // ws hands these to tls.connect: SNI and ALPN as given (its own default SNI is none for an IP).
    const opts: ClientOptions & ConnectionOptions = { headers: { host }, servername, rejectUnauthorized: false, ...(alpn && { ALPNProtocols: alpn }) };
    const ws = new WebSocket(`wss://127.0.0.1:${port}/socket`, opts);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode} ${String(res.headers['x-drproxy-error'])}`)));
  });
}

async function echo(ws: WebSocket, messages: string[]): Promise<string[]> {
  const replies: string[] = [];
  await new Promise<void>((resolve) =>
    ws.on('message', (d) => {
      replies.push(String(d));
      if (replies.length === messages.length) resolve();
    }),
  );
  return replies;
}

async function roundTrip(alpn: string[] | undefined): Promise<void> {
  const ws = await open('chat.example.com', 'chat.example.com', alpn);
  const sock = (ws as unknown as { _socket: TLSSocket })._socket;
  // Served the tenant's certificate, and never switched to HTTP/2.
  expect(sock.getPeerCertificate().fingerprint256).toBe(certChat.fingerprint);
  expect(sock.alpnProtocol === 'h2').toBe(false);
  const got = echo(ws, ['one', 'two', 'three']);
  for (const m of ['one', 'two', 'three']) ws.send(m);
  expect(await got).toEqual(['ws1:one', 'ws1:two', 'ws1:three']);
  ws.close();
  const seen = (await chat.stats()).lastHeaders!;
  expect(seen['x-dr-epoch']).toBe('1');
  expect(seen['x-dr-site']).toBe('ws1');
  expect(seen['x-forwarded-proto']).toBe('https');
  expect(seen.upgrade?.toLowerCase()).toBe('websocket');
}

describe('WebSocket over a TLS listener', () => {
  it('echoes messages both ways with ALPN http/1.1, and stamps epoch and site on the upgrade', async () => {
    await roundTrip(['http/1.1']);
  });

  it('works with a client that sends no ALPN at all', async () => {
    await roundTrip(undefined);
  });

  it('refuses an upgrade whose Host disagrees with SNI with 421', async () => {
    await expect(open('chat.example.com', 'other.example.com', ['http/1.1'])).rejects.toThrow(/status 421 misdirected_request/);
    await expect(open('other.example.com', 'chat.example.com')).rejects.toThrow(/status 421 misdirected_request/);
    // Each tenant still reaches its own site with a matching SNI.
    const ws = await open('other.example.com', 'other.example.com');
    const got = echo(ws, ['x']);
    ws.send('x');
    expect(await got).toEqual(['ws2:x']);
    ws.close();
  });
});

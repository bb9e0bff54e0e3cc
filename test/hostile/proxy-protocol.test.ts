/**
 * Hostile clients of a PROXY protocol listener, with raw sockets: a peer not in
 * server.trusted_proxies (bound to 127.0.0.2 while only 127.0.0.1 is trusted), an invalid
 * header, no header within server.headers_timeout, a "v1" header 200 bytes long: each is closed
 * without an answer, counted in drproxy_proxy_protocol_refused_total, and the upstream receives
 * nothing. The per-client cap counts the header's client, not the balancer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCaptureUpstream, type CaptureUpstream } from '../helpers/capture-upstream.js';
import { connectionCounts, startProxy, type TestProxy } from '../helpers/proxy.js';
import { rawSend, v1Tcp4, v2Tcp4 } from '../helpers/proxy-header.js';
import { waitFor } from '../helpers/poll.js';
import net from 'node:net';

const HEADERS_TIMEOUT = 400;
let up: CaptureUpstream;
let p: TestProxy;
let port: number;

const request = Buffer.from('GET /x HTTP/1.1\r\nHost: a.example.com\r\n\r\n', 'latin1');

async function refusedCount(reason: string): Promise<number> {
  const text = await (await fetch(`${p.adminUrl}/metrics`)).text();
  const m = new RegExp(`^drproxy_proxy_protocol_refused_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  up = await startCaptureUpstream();
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', proxy_protocol: true }],
    server: { trusted_proxies: ['127.0.0.1'], headers_timeout: `${HEADERS_TIMEOUT}ms`, request_timeout: '5s', max_connections_per_client: 1 },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: [up.url] }] } },
  });
  port = p.ports[0]!;
});

afterAll(async () => {
  await p?.stop();
  await up?.close();
});

describe('PROXY protocol listener under hostile peers', () => {
  it('closes a peer that is not a trusted proxy, even with a valid header', async () => {
    up.mark();
    const before = await refusedCount('untrusted');
    const r = await rawSend(port, [Buffer.concat([v2Tcp4('192.0.2.1'), request])], { localAddress: '127.0.0.2' });
    expect(r).toEqual({ text: '', closed: true });
    expect(up.bytes()).toBe('');
    expect(up.requests).toEqual([]);
    expect(await refusedCount('untrusted')).toBe(before + 1);
  });

  it.each([
    ['a request without a header', request],
    ['a v1 header with a bad address', Buffer.concat([Buffer.from('PROXY TCP4 192.0.2.300 127.0.0.1 1 2\r\n'), request])],
    ['a v1 header 200 bytes long', Buffer.concat([Buffer.from(`PROXY UNKNOWN ${'x'.repeat(184)}\r\n`), request])],
    ['a v2 header with a bad version', Buffer.concat([Buffer.from(v2Tcp4('192.0.2.1')).fill(0x31, 12, 13), request])],
  ])('closes a trusted peer that sends %s', async (_name, bytes) => {
    up.mark();
    const before = await refusedCount('invalid');
    const r = await rawSend(port, [bytes]);
    expect(r).toEqual({ text: '', closed: true });
    expect(up.bytes()).toBe('');
    expect(await refusedCount('invalid')).toBe(before + 1);
  });

  it('closes a trusted peer that sends half a header and then nothing, after headers_timeout', async () => {
    up.mark();
    const before = await refusedCount('timeout');
    const start = Date.now();
    const r = await rawSend(port, [v1Tcp4('192.0.2.1').subarray(0, 10)]);
    expect(r).toEqual({ text: '', closed: true });
    expect(Date.now() - start).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 50);
    expect(up.bytes()).toBe('');
    expect(await refusedCount('timeout')).toBe(before + 1);
  });

  it('counts max_connections_per_client on the header client, not on the balancer', async () => {
    const open = async (client: string): Promise<net.Socket> => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => {});
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(v1Tcp4(client));
      return s;
    };
    // Two clients behind the same balancer: one connection each is within the cap of 1.
    const a = await open('198.51.100.1');
    const b = await open('198.51.100.2');
    await waitFor(async () => (await connectionCounts(p)).open === 2, { what: 'two connections open' });
    const again = await rawSend(port, [Buffer.concat([v1Tcp4('198.51.100.1'), request])]);
    expect(again.text).toMatch(/^HTTP\/1\.1 503[^]*too_many_connections/);
    let bText = '';
    b.on('data', (d: Buffer) => (bText += d.toString('latin1')));
    b.write(request);
    await waitFor(() => /^HTTP\/1\.1 200/.test(bText), { what: 'the second client served' });
    a.destroy();
    b.destroy();
  });
});

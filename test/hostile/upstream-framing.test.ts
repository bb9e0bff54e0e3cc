/**
 * Broken upstream: response framing that could smuggle a second answer toward the client or
 * hand it a body other than the one sent (Content-Length with Transfer-Encoding, duplicate
 * lengths, bad chunk sizes, transfer codings undici would strip silently). Each becomes
 * drproxy's own 502 while nothing was sent, or a cut connection once something was; nothing
 * of a smuggled second answer ever reaches the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type net from 'node:net';
import { startBrokenUpstream, expectOwnError, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';

let b: BrokenUpstreamSetup;

beforeAll(async () => {
  b = await startBrokenUpstream();
});

afterAll(async () => {
  await b?.stop();
});

const SMUGGLED = 'HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled';

const REFUSED: Array<[name: string, answer: string, reason: string]> = [
  ['Content-Length and Transfer-Encoding', `HTTP/1.1 200 OK\r\ncontent-length: 40\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n${SMUGGLED}`, 'its body did not match its Content-Length'],
  ['Transfer-Encoding then Content-Length', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 7\r\n\r\n2\r\nhi\r\n0\r\n\r\n${SMUGGLED}`, "malformed HTTP (Content-Length can't be present with Transfer-Encoding)"],
  ['two different Content-Lengths', `HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 45\r\n\r\nhi${SMUGGLED}`, 'its body did not match its Content-Length'],
  ['the same Content-Length twice', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nhi', 'its body did not match its Content-Length'],
  ['a Content-Length list', 'HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\n\r\nhi', 'its body did not match its Content-Length'],
  ['a signed Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nhi', 'malformed HTTP ('],
  ['an overflowing Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999999\r\n\r\nhi', 'its body did not match its Content-Length'],
  ['a negative Content-Length', 'HTTP/1.1 200 OK\r\ncontent-length: -2\r\n\r\nhi', 'malformed HTTP ('],
  ['a non-hex chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhi\r\n0\r\n\r\n', 'malformed HTTP ('],
  ['a negative chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-2\r\nhi\r\n0\r\n\r\n', 'malformed HTTP ('],
  ['an overflowing chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffff\r\nhi\r\n0\r\n\r\n', 'malformed HTTP ('],
  ['a chunk size ended by a bare LF', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\nhi\r\n0\r\n\r\n', 'malformed HTTP ('],
  ['Transfer-Encoding: gzip (a coding undici would strip unannounced)', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nhi', 'it sent a Transfer-Encoding other than chunked'],
  ['Transfer-Encoding: gzip, chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n', 'it sent a Transfer-Encoding other than chunked'],
  ['Transfer-Encoding sent twice', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n', 'it sent a Transfer-Encoding other than chunked'],
];

describe('response framing', () => {
  for (const [name, answer, reason] of REFUSED) {
    it(`${name}: 502 before any byte, nothing smuggled, not retried`, async () => {
      const path = `/framing-${REFUSED.findIndex((c) => c[0] === name)}`;
      b.script(path, answer);
      const r = await b.ask(path);
      expectOwnError(r, '502 Bad Gateway', 'upstream_invalid_response');
      expect(r.final!.body.toString()).toContain(`502 Bad Gateway: site s1 sent an invalid response: ${reason}`);
      expect(r.raw).not.toContain('smuggled');
      expect(r.raw).not.toContain('hi\r\n');
      expect(b.received(path)).toHaveLength(1);
      await b.stillServing();
    });
  }

  it('a bad chunk after a good one: the client gets the good bytes and a cut connection, never an end', async () => {
    let upstream: net.Socket | undefined;
    b.script('/late-bad-chunk', (socket) => {
      upstream = socket;
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    });
    let sent = false;
    const r = await b.ask('/late-bad-chunk', {
      // The bad chunk once the client has the good one.
      onData: (raw) => {
        if (sent || !raw.includes('hello')) return;
        sent = true;
        upstream!.write(`zz\r\nxx\r\n0\r\n\r\n${SMUGGLED}`);
      },
    });
    expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
    expect(r.final?.framing).toBe('chunked');
    expect(r.final?.body.toString()).toBe('hello');
    expect(r.final?.complete).toBe(false);
    expect(r.ended).toBe('fin');
    expect(r.raw).not.toContain('smuggled');
    await b.stillServing();
  });

  it('chunk data longer than its size: the chunk is forwarded up to its size, then the connection is cut', async () => {
    b.script('/long-chunk', `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhiho\r\n0\r\n\r\n${SMUGGLED}`);
    const r = await b.ask('/long-chunk');
    expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
    expect(r.final?.body.toString()).toBe('hi');
    expect(r.final?.complete).toBe(false);
    expect(r.ended).toBe('fin');
    expect(r.raw).not.toContain('hiho');
    expect(r.raw).not.toContain('smuggled');
    await b.stillServing();
  });

  it('a second answer after a complete one is not forwarded (to this client or the next)', async () => {
    b.script('/extra', `HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi${SMUGGLED}`);
    const r = await b.ask('/extra');
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 200 OK']);
    expect(r.final!.body.toString()).toBe('hi');
    expect(r.raw).not.toContain('smuggled');
    // The next request does not get the stray answer as its own.
    await b.stillServing();
  });

  it('chunk extensions and trailers: the body is forwarded, the trailers are not', async () => {
    b.script('/ext', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2;name=value\r\nhi\r\n0\r\nx-trailer: 1\r\n\r\n');
    const r = await b.ask('/ext');
    expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
    expect(r.final?.framing).toBe('chunked');
    expect(r.final?.body.toString()).toBe('hi');
    expect(r.final?.complete).toBe(true);
    expect(r.raw).not.toContain('x-trailer');
    expect(r.raw).not.toContain('name=value');
  });
});

/**
 * Issue 16 item 7: an upstream's informational (1xx) answers before its final one. A 100 or
 * 102 is read and dropped (Node answers a client's Expect: 100-continue itself), a 103 Early
 * Hints is passed on to HTTP/1.1 clients with its Link headers, a 101 to a request that asked
 * for no upgrade is refused, and a storm of them is cut (count and response_timeout).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type net from 'node:net';
import { startBrokenUpstream, expectOwnError, requestText, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';
import { rawExchange } from '../helpers/raw-framing-client.js';

let b: BrokenUpstreamSetup;

const OK = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi';

beforeAll(async () => {
  b = await startBrokenUpstream({ response_timeout: '600ms' });
});

afterAll(async () => {
  await b?.stop();
});

describe('informational answers from the upstream', () => {
  it('a 100 Continue the client did not ask for is dropped and the final answer forwarded', async () => {
    b.script('/unasked-100', `HTTP/1.1 100 Continue\r\n\r\n${OK}`);
    const r = await b.ask('/unasked-100');
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 200 OK']);
    expect(r.final?.body.toString()).toBe('hi');
    expect(r.ended).toBe('open');
    expect(b.received('/unasked-100')).toHaveLength(1);
    await b.stillServing();
  });

  it("a 100 Continue in answer to a client's Expect: 100-continue: the client gets one 100 (drproxy's) and the final answer", async () => {
    // The upstream says 100 as soon as it has the head, then 201 once the body is in.
    b.up.onHead('/expect', (socket) => socket.write('HTTP/1.1 100 Continue\r\n\r\n'));
    b.script('/expect', 'HTTP/1.1 201 Created\r\ncontent-length: 7\r\n\r\ncreated');
    const head = requestText('/expect', { method: 'POST', headers: ['expect: 100-continue', 'content-length: 5'] });
    const r = await rawExchange(b.p.port, head, { bodyAfter100: 'hello' });
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 100 Continue', 'HTTP/1.1 201 Created']);
    expect(r.final?.body.toString()).toBe('created');
    expect(r.ended).toBe('open');
    const got = b.received('/expect');
    expect(got).toHaveLength(1);
    expect(got[0]!.body.toString()).toBe('hello');
    // drproxy answered the expectation; the upstream is not asked to (undici cannot send Expect).
    expect(got[0]!.head).not.toMatch(/^expect:/im);
  });

  it('several 1xx answers (100, 102, 100) before the final one', async () => {
    b.script('/many', `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\nx-a: 1\r\n\r\n${OK}`);
    const r = await b.ask('/many');
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 200 OK']);
    expect(r.final?.body.toString()).toBe('hi');
  });

  it('a 103 Early Hints reaches an HTTP/1.1 client with its Link headers only', async () => {
    b.script('/hints', `HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload; as=style\r\nx-other: 1\r\n\r\n${OK}`);
    const r = await b.ask('/hints');
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 103 Early Hints', 'HTTP/1.1 200 OK']);
    expect(r.messages[0]!.headers).toEqual([['Link', '</a.css>; rel=preload; as=style']]);
    expect(r.final?.body.toString()).toBe('hi');
    expect(r.ended).toBe('open');
  });

  it('an HTTP/1.0 client gets no 103 (RFC 9110 §15.2), and a 103 without Link is not forwarded', async () => {
    const r10 = await b.ask('/hints', { version: '1.0' });
    expect(r10.messages.map((m) => m.statusLine), r10.raw).toEqual(['HTTP/1.1 200 OK']);
    b.script('/hints-nolink', `HTTP/1.1 103 Early Hints\r\nx-other: 1\r\n\r\n${OK}`);
    const r = await b.ask('/hints-nolink');
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 200 OK']);
  });

  it('a storm of 1xx answers is cut after 32: drproxy answers 502 and keeps serving', async () => {
    b.script('/storm', `${'HTTP/1.1 100 Continue\r\n\r\n'.repeat(1000)}${OK}`);
    const r = await b.ask('/storm');
    expectOwnError(r, '502 Bad Gateway', 'upstream_invalid_response');
    expect(r.final?.body.toString()).toBe('502 Bad Gateway: site s1 sent an invalid response: it sent more than 32 informational (1xx) answers\n');
    expect(b.received('/storm')).toHaveLength(1); // not retried
    await b.stillServing();
  });

  it('a slow trickle of 1xx answers does not hold a request past response_timeout (600ms): 504', async () => {
    b.script('/trickle', (socket: net.Socket) => {
      const timer = setInterval(() => socket.write('HTTP/1.1 102 Processing\r\n\r\n'), 100);
      socket.once('close', () => clearInterval(timer));
    });
    const started = performance.now();
    const r = await b.ask('/trickle');
    const ms = performance.now() - started;
    expectOwnError(r, '504 Gateway Timeout', 'upstream_timeout');
    // undici would restart its timer at each 1xx, for ever; drproxy cuts at the first one past it.
    expect(ms).toBeGreaterThanOrEqual(600);
    expect(ms).toBeLessThan(2000);
    await b.stillServing();
  });

  it('a 101 Switching Protocols to a request that asked for no upgrade is refused with a 502', async () => {
    b.script('/101', `HTTP/1.1 101 Switching Protocols\r\n\r\n${OK}`);
    b.script('/101-upgrade', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\nraw bytes');
    for (const path of ['/101', '/101-upgrade']) {
      const r = await b.ask(path);
      expectOwnError(r, '502 Bad Gateway', 'upstream_invalid_response');
      expect(r.final?.body.toString()).toBe('502 Bad Gateway: site s1 sent an invalid response: it switched protocols (101) on a request that asked for no upgrade\n');
      expect(b.received(path)).toHaveLength(1);
    }
    await b.stillServing();
  });
});

/**
 * Broken upstream: one that goes quiet. No head within response_timeout is a 504; a head and
 * then nothing within body_timeout is a 504 too (the head is held until the first body byte,
 * so the client gets drproxy's answer, not an empty reply); a body that stops half way is cut.
 * A body that keeps coming, however slowly, is not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type net from 'node:net';
import { startBrokenUpstream, expectOwnError, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';

let b: BrokenUpstreamSetup;

const TIMEOUT_MS = 400;

beforeAll(async () => {
  b = await startBrokenUpstream({ response_timeout: `${TIMEOUT_MS}ms`, body_timeout: `${TIMEOUT_MS}ms` });
});

afterAll(async () => {
  await b?.stop();
});

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const v = await f();
  return [v, performance.now() - started];
}

describe('an upstream that hangs', () => {
  it('no head within response_timeout: 504, not retried', async () => {
    b.script('/no-head', () => {});
    const [r, ms] = await timed(() => b.ask('/no-head'));
    expectOwnError(r, '504 Gateway Timeout', 'upstream_timeout');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(ms).toBeLessThan(3000);
    expect(b.received('/no-head')).toHaveLength(1);
    await b.stillServing();
  });

  it('a head and then nothing: 504 after body_timeout, not an empty reply', async () => {
    b.script('/head-only', 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n');
    const [r, ms] = await timed(() => b.ask('/head-only'));
    expectOwnError(r, '504 Gateway Timeout', 'upstream_timeout');
    expect(r.final!.body.toString()).toBe('504 Gateway Timeout: site s1 did not answer in time\n');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(ms).toBeLessThan(3000);
    await b.stillServing();
  });

  it('part of a body and then nothing: the client connection is cut after body_timeout', async () => {
    b.script('/half-cl', 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello');
    b.script('/half-chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n');
    const [cl, ms] = await timed(() => b.ask('/half-cl'));
    expect(cl.final?.statusLine, cl.raw).toBe('HTTP/1.1 200 OK');
    expect(cl.final?.body.toString()).toBe('hello');
    expect(cl.final?.complete).toBe(false);
    expect(cl.ended).toBe('reset');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    const chunked = await b.ask('/half-chunked');
    expect(chunked.final?.framing, chunked.raw).toBe('chunked');
    expect(chunked.final?.body.toString()).toBe('hello');
    expect(chunked.final?.complete).toBe(false);
    expect(chunked.ended).toBe('fin');
    await b.stillServing();
  });

  it('a body that trickles in, each piece within body_timeout, is forwarded whole', async () => {
    b.script('/trickle', (socket: net.Socket) => {
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      let n = 0;
      const timer = setInterval(() => {
        socket.write(n < 6 ? '1\r\nx\r\n' : '0\r\n\r\n');
        if (n++ === 6) clearInterval(timer);
      }, TIMEOUT_MS / 4);
      socket.once('close', () => clearInterval(timer));
    });
    const [r, ms] = await timed(() => b.ask('/trickle'));
    expect(r.final?.body.toString(), r.raw).toBe('xxxxxx');
    expect(r.final?.complete).toBe(true);
    expect(r.ended).toBe('open');
    expect(ms).toBeGreaterThan(TIMEOUT_MS); // longer than body_timeout in all
  });
});

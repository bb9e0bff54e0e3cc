/**
 * Issue 16 item 9: a body cut short by the upstream reaches the client cut short, never as a
 * clean end of message. What the client can observe depends on the framing Node gave it:
 * - chunked (an HTTP/1.1 client and no length): the terminating 0-chunk never comes and the
 *   connection closes;
 * - Content-Length: fewer bytes than the length, and the connection is reset;
 * - none (an HTTP/1.0 client, no length: the body ends with the connection): the connection is
 *   reset rather than closed, the one signal such a client has.
 * A cut before any body byte was sent is drproxy's own 502 instead. In every case the upstream
 * cuts its connection only once the client has seen the bytes before the cut.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type net from 'node:net';
import { startBrokenUpstream, expectOwnError, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';
import { waitFor } from '../helpers/poll.js';

let b: BrokenUpstreamSetup;

beforeAll(async () => {
  b = await startBrokenUpstream();
});

afterAll(async () => {
  await b?.stop();
});

/**
 * The upstream answers `path` with `bytes` and then, once the client has received `marker`,
 * ends its connection with a reset or a FIN. Returns the client's onData hook.
 */
function cutAfterClientSees(path: string, bytes: string, how: 'reset' | 'fin', marker = 'hello'): (raw: string) => void {
  let upstream: net.Socket | undefined;
  b.script(path, (socket) => {
    upstream = socket;
    socket.write(bytes);
  });
  let cut = false;
  return (raw) => {
    if (cut || !raw.includes(marker)) return;
    cut = true;
    if (how === 'reset') upstream!.resetAndDestroy();
    else upstream!.end();
  };
}

const CLOSE_DELIMITED = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nhello';

describe('a close-delimited body (no length, no chunking)', () => {
  it('ended by a reset: an HTTP/1.1 client gets no terminating 0-chunk, and the connection closes', async () => {
    const onData = cutAfterClientSees('/close-reset', CLOSE_DELIMITED, 'reset');
    const r = await b.ask('/close-reset', { onData });
    expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
    expect(r.final?.framing).toBe('chunked');
    expect(r.final?.body.toString()).toBe('hello');
    expect(r.final?.complete).toBe(false);
    expect(r.raw).not.toMatch(/\r\n0\r\n\r\n$/);
    expect(r.ended).toBe('fin');
    expect(b.p.logs).toContainEqual(
      expect.objectContaining({ level: 'warn', fault: 'truncated_response', site: 's1', detail: 'the connection broke before the body was complete (DRP_UPSTREAM_RESET)' }),
    );
    await b.stillServing();
  });

  it('ended by a reset: an HTTP/1.0 client sees its connection reset, not closed', async () => {
    const onData = cutAfterClientSees('/close-reset-10', CLOSE_DELIMITED, 'reset');
    const r = await b.ask('/close-reset-10', { version: '1.0', onData });
    expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
    expect(r.final?.framing).toBe('close');
    expect(r.final?.body.toString()).toBe('hello');
    expect(r.ended).toBe('reset');
    await b.stillServing();
  });

  it('ended by a FIN (its normal end): a clean end for both clients', async () => {
    const onData = cutAfterClientSees('/close-fin', CLOSE_DELIMITED, 'fin');
    const r = await b.ask('/close-fin', { onData });
    expect(r.final?.framing, r.raw).toBe('chunked');
    expect(r.final?.body.toString()).toBe('hello');
    expect(r.final?.complete).toBe(true);
    expect(r.ended).toBe('open');

    const onData10 = cutAfterClientSees('/close-fin-10', CLOSE_DELIMITED, 'fin');
    const r10 = await b.ask('/close-fin-10', { version: '1.0', onData: onData10 });
    expect(r10.final?.framing, r10.raw).toBe('close');
    expect(r10.final?.body.toString()).toBe('hello');
    expect(r10.ended).toBe('fin');
  });
});

describe('a body with a length or chunked, cut short', () => {
  for (const how of ['fin', 'reset'] as const) {
    it(`Content-Length body cut by a ${how}: fewer bytes than the length, connection reset`, async () => {
      const path = `/cl-${how}`;
      const onData = cutAfterClientSees(path, 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello', how);
      const r = await b.ask(path, { onData });
      expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
      expect(r.header('content-length')).toBe('10');
      expect(r.final?.body.toString()).toBe('hello');
      expect(r.final?.complete).toBe(false);
      expect(r.ended).toBe('reset');
      await b.stillServing();
    });

    for (const close of [false, true]) {
      it(`chunked body cut by a ${how}${close ? ' (Connection: close)' : ''}: no terminating 0-chunk`, async () => {
        const path = `/chunked-${how}-${close}`;
        const head = `HTTP/1.1 200 OK\r\n${close ? 'connection: close\r\n' : ''}transfer-encoding: chunked\r\n\r\n`;
        const onData = cutAfterClientSees(path, `${head}5\r\nhello\r\n`, how);
        const r = await b.ask(path, { onData });
        expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
        expect(r.final?.framing).toBe('chunked');
        expect(r.final?.body.toString()).toBe('hello');
        expect(r.final?.complete).toBe(false);
        expect(r.ended).toBe('fin');
        await b.stillServing();
      });
    }
  }
});

describe('cut before any body byte reached the client', () => {
  /** drproxy has the head of the answer in flight (and holds it: nothing was sent on yet). */
  function headIn(): boolean {
    const backend = b.p.proxy.tenant('t')!.site('s1')!.backends[0]!.backend;
    return backend.calls.oldest()?.responded === true;
  }

  it("drproxy's own 502, not an empty reply", async () => {
    const cases: Array<[string, string, 'fin' | 'reset', string]> = [
      ['/early-cl-fin', 'HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n', 'fin', 'upstream_reset_after_send'],
      ['/early-cl-close-fin', 'HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 10\r\n\r\n', 'fin', 'upstream_invalid_response'],
      ['/early-chunked-fin', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n', 'fin', 'upstream_reset_after_send'],
      ['/early-close-reset', 'HTTP/1.1 200 OK\r\n\r\n', 'reset', 'upstream_reset_after_send'],
    ];
    for (const [path, head, how, code] of cases) {
      let upstream: net.Socket | undefined;
      b.script(path, (socket) => {
        upstream = socket;
        socket.write(head);
      });
      const answer = b.ask(path);
      // A reset right behind the data can reach Node as a plain end of stream (Linux, libuv):
      // cut only once drproxy has read the head.
      await waitFor(headIn, { what: `drproxy read the head of ${path}` });
      if (how === 'reset') upstream!.resetAndDestroy();
      else upstream!.end();
      const r = await answer;
      expectOwnError(r, '502 Bad Gateway', code);
      expect(b.received(path)).toHaveLength(1); // answered, so never retried
    }
    await b.stillServing();
  });
});

/**
 * Broken (or hostile) upstream: an answer carrying `x-drproxy-error`, drproxy's own marker of
 * its own error answers (responses.ts). The upstream's copy, in any spelling, is dropped from
 * what the client gets (plain answers, error answers, a refused upgrade and a 101), so that
 * clients and log pipelines can trust that the marker came from drproxy. drproxy's own errors
 * still carry it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST, startBrokenUpstream, expectOwnError, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';
import { connectTracked, destroyAll, type Tracked } from '../helpers/sockets.js';
import { waitFor } from '../helpers/poll.js';

let b: BrokenUpstreamSetup;
const open: Tracked[] = [];

beforeAll(async () => {
  b = await startBrokenUpstream();
});

afterAll(async () => {
  destroyAll(open);
  await b?.stop();
});

const TAIL = 'content-length: 2\r\n\r\nhi';

function names(r: { final?: { headers: Array<[string, string]> } }): string[] {
  return (r.final?.headers ?? []).map(([k]) => k.toLowerCase());
}

describe("an upstream's x-drproxy-error", () => {
  it('is dropped from a 200, in any case, once or twice; other headers and the body pass', async () => {
    b.script('/ok-marked', `HTTP/1.1 200 OK\r\nX-DrProxy-Error: upstream_failed\r\nx-kept: 1\r\nx-drproxy-error: no_healthy_backend\r\n${TAIL}`);
    const r = await b.ask('/ok-marked');
    expect(r.final?.statusLine, r.raw.slice(0, 300)).toBe('HTTP/1.1 200 OK');
    expect(names(r)).not.toContain('x-drproxy-error');
    expect(r.raw.toLowerCase()).not.toContain('x-drproxy-error');
    expect(r.header('x-kept')).toBe('1');
    expect(r.final?.body.toString()).toBe('hi');
    expect(r.ended).toBe('open');
    expect(b.received('/ok-marked')).toHaveLength(1);
  });

  it("is dropped from the upstream's own 503: the client can tell it from drproxy's", async () => {
    b.script('/down-marked', `HTTP/1.1 503 Service Unavailable\r\nx-drproxy-error: no_healthy_backend\r\nretry-after: 5\r\n${TAIL}`);
    const r = await b.ask('/down-marked');
    expect(r.final?.statusLine).toBe('HTTP/1.1 503 Service Unavailable');
    expect(r.header('x-drproxy-error')).toBeUndefined();
    expect(r.header('retry-after')).toBe('5');
    expect(r.final?.body.toString()).toBe('hi');
    expect(b.received('/down-marked')).toHaveLength(1);
  });

  it("does not hide drproxy's own marker on its own error answers", async () => {
    b.script('/reset-marked', (socket) => {
      socket.write('HTTP/1.1 200 OK\r\nx-drproxy-error: fake\r\n');
      socket.resetAndDestroy();
    });
    const r = await b.ask('/reset-marked');
    expectOwnError(r, '502 Bad Gateway', 'upstream_reset_after_send');
    expect(r.raw).not.toContain('fake');
    await b.stillServing();
  });
});

/** A WebSocket upgrade request on a raw socket; resolves once the answer's head is in. */
async function upgrade(path: string): Promise<{ t: Tracked; head: string }> {
  const t = await connectTracked(b.p.port);
  open.push(t);
  t.socket.write(
    `GET ${path} HTTP/1.1\r\nhost: ${HOST}\r\nupgrade: websocket\r\nconnection: Upgrade\r\n` +
      'sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n',
  );
  await waitFor(() => t.data.includes('\r\n\r\n'), { what: `the answer to the upgrade of ${path}` });
  return { t, head: t.data.slice(0, t.data.indexOf('\r\n\r\n')).toLowerCase() };
}

describe("an upstream's x-drproxy-error on an upgrade", () => {
  it('is dropped from its 101 Switching Protocols', async () => {
    b.script('/ws-marked', 'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nx-drproxy-error: fake\r\n\r\n');
    const { t, head } = await upgrade('/ws-marked');
    expect(head).toMatch(/^http\/1\.1 101 /);
    expect(head).toContain('sec-websocket-accept');
    expect(head).not.toContain('x-drproxy-error');
    expect(b.received('/ws-marked')[0]!.head.toLowerCase()).toContain('upgrade: websocket');
    t.socket.destroy();
  });

  it('is dropped from the answer of a backend that refuses the upgrade', async () => {
    b.script('/ws-refused', `HTTP/1.1 403 Forbidden\r\nx-drproxy-error: fake\r\nx-kept: 1\r\n${TAIL}`);
    const { t, head } = await upgrade('/ws-refused');
    expect(head).toMatch(/^http\/1\.1 403 /);
    expect(head).toContain('x-kept: 1');
    expect(head).not.toContain('x-drproxy-error');
    t.socket.destroy();
  });
});

/**
 * Idle client connections are closed by their deadline (issue 16, item 1): before the first
 * byte by server.headers_timeout counted from accept (Node's parser arms it at accept: this
 * holds it to that), and between requests by server.keep_alive_timeout, where 0s means no
 * keep-alive (Node alone would keep such a connection forever). Raw sockets; the test upstream
 * must receive nothing from the idle ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { startProxy, twoSiteTenant, FAST_CHECKS, sitesHealthy, type TestProxy } from '../helpers/proxy.js';
import { connectTracked, destroyAll, openMany, type Tracked } from '../helpers/sockets.js';
import { waitFor } from '../helpers/poll.js';

const HEADERS_TIMEOUT = 600;
const KEEP_ALIVE = 300;
/** Node adds 1 s to keep_alive_timeout before it closes an idle connection. */
const NODE_KEEP_ALIVE_MARGIN = 1000;
/** Sweeps, timers and a loaded 2-core machine. */
const SLACK = 1500;

const GET = 'GET /idle HTTP/1.1\r\nHost: t.example.com\r\n\r\n';

let a1: Upstream, b1: Upstream;
const open: Tracked[] = [];

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});

afterAll(async () => {
  destroyAll(open);
  await stopAll(a1, b1);
});

async function proxyWith(server: Record<string, unknown>): Promise<TestProxy> {
  const p = await startProxy({ server, defaults: { health_check: FAST_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } });
  await sitesHealthy(p, 't');
  return p;
}

/** Send one request on `t` and wait for its whole answer (Content-Length body). */
async function exchange(t: Tracked): Promise<void> {
  const before = t.data.length;
  t.socket.write(GET);
  await waitFor(() => {
    const s = t.data.slice(before);
    const head = s.indexOf('\r\n\r\n');
    const m = /content-length: (\d+)/i.exec(s);
    return head !== -1 && m !== null && s.length >= head + 4 + Number(m[1]);
  }, { what: 'the answer' });
}

describe('a connection that never sends a byte', () => {
  it('is closed once server.headers_timeout has passed since accept, with nothing sent upstream', async () => {
    const p = await proxyWith({ headers_timeout: `${HEADERS_TIMEOUT}ms` });
    try {
      const before = (await a1.stats()).requests;
      const idle = await openMany(p.port, 20);
      open.push(...idle);
      await Promise.race([
        Promise.all(idle.map((t) => t.closed)),
        new Promise((_, reject) => setTimeout(() => reject(new Error('idle sockets still open')), HEADERS_TIMEOUT + SLACK + 2000)),
      ]);
      for (const t of idle) {
        const lived = t.closedAt! - t.openedAt;
        expect(lived).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 50);
        expect(lived).toBeLessThan(HEADERS_TIMEOUT + SLACK);
        // Closed with Node's 408, not reset.
        expect(t.error).toBeUndefined();
        expect(t.ended).toBe(true);
        expect(t.data).toMatch(/^HTTP\/1\.1 408 /);
      }
      expect((await a1.stats()).requests).toBe(before);
    } finally {
      destroyAll(open);
      await p.stop();
    }
  });

  it('leaves a connection that sent its request in time alone until keep_alive_timeout', async () => {
    const p = await proxyWith({ headers_timeout: `${HEADERS_TIMEOUT}ms`, keep_alive_timeout: '5s' });
    try {
      const t = await connectTracked(p.port);
      open.push(t);
      await exchange(t);
      expect(t.data).toMatch(/^HTTP\/1\.1 200 /);
      // Well past the first-byte deadline: still open, and still serves. (Something that must
      // not happen cannot be polled for: this waits a bounded time.)
      await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT + 1100));
      expect(t.closedAt).toBeUndefined();
      await exchange(t);
      expect(t.data.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    } finally {
      destroyAll(open);
      await p.stop();
    }
  });
});

describe('a connection idle between requests', () => {
  it('is closed after server.keep_alive_timeout', async () => {
    const p = await proxyWith({ keep_alive_timeout: `${KEEP_ALIVE}ms` });
    try {
      const t = await connectTracked(p.port);
      open.push(t);
      await exchange(t);
      const answeredAt = performance.now();
      await Promise.race([t.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still open after keep_alive_timeout')), KEEP_ALIVE + NODE_KEEP_ALIVE_MARGIN + SLACK + 2000))]);
      expect(t.closedAt! - answeredAt).toBeLessThan(KEEP_ALIVE + NODE_KEEP_ALIVE_MARGIN + SLACK);
      expect(t.error).toBeUndefined();
    } finally {
      await p.stop();
    }
  });

  it('with keep_alive_timeout 0s: the answer says Connection: close, and a client that stays anyway is closed', async () => {
    const p = await proxyWith({ keep_alive_timeout: '0s' });
    try {
      const t = await connectTracked(p.port);
      open.push(t);
      await exchange(t);
      expect(t.data).toMatch(/^HTTP\/1\.1 200 /);
      expect(t.data.toLowerCase()).toContain('connection: close');
      const answeredAt = performance.now();
      // The client does not close: drproxy does.
      await Promise.race([t.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('still open after keep_alive_timeout 0s')), NODE_KEEP_ALIVE_MARGIN + SLACK + 2000))]);
      expect(t.closedAt! - answeredAt).toBeLessThan(NODE_KEEP_ALIVE_MARGIN + SLACK);
      expect((await a1.stats()).byPath['/idle']).toBeGreaterThanOrEqual(1);
    } finally {
      await p.stop();
    }
  });
});

/**
 * The admin listener caps its connections at accept, as the data plane does (issue 16, item 1):
 * admin.max_connections in all, admin.max_connections_per_client per address. One client
 * holding idle sockets (bound to 127.0.0.2) cannot keep /healthz from another; a connection over
 * a cap gets a raw 503 and is closed, counted in drproxy_admin_connections_refused_total (the
 * data plane's counter stays at 0) and logged as the admin's. A connection that sends nothing is
 * closed admin.headers_timeout after accept. Raw sockets; the test upstream receives nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { startProxy, twoSiteTenant, FAST_CHECKS, type TestProxy } from '../helpers/proxy.js';
import { connectTracked, destroyAll, openMany, parseAnswer, type Tracked } from '../helpers/sockets.js';
import { waitFor } from '../helpers/poll.js';

const HEADERS_TIMEOUT = 600;
/** Sweeps, timers and a loaded 2-core machine. */
const SLACK = 1500;

let a1: Upstream, b1: Upstream;
const open: Tracked[] = [];

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});

afterAll(async () => {
  destroyAll(open);
  await stopAll(a1, b1);
});

function proxyWith(admin: Record<string, unknown>): Promise<TestProxy> {
  return startProxy({ admin, defaults: { health_check: FAST_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } });
}

function adminPort(p: TestProxy): number {
  return Number(new URL(p.adminUrl).port);
}

/** GET `path` on a raw socket from `localAddress`; resolves with the whole answer once closed. */
async function rawGet(port: number, path: string, localAddress = '127.0.0.1'): Promise<ReturnType<typeof parseAnswer>> {
  const t = await connectTracked(port, { localAddress });
  open.push(t);
  t.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  await t.closed;
  return parseAnswer(t.data);
}

async function metric(p: TestProxy, name: string, reason: string): Promise<number> {
  const text = await (await request(`${p.adminUrl}/metrics`)).body.text();
  const m = new RegExp(`^${name}\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Sockets of `all` that got the raw 503 of a refused connection. */
function refused(all: Tracked[]): Tracked[] {
  return all.filter((t) => t.data.startsWith('HTTP/1.1 503 '));
}

describe('admin connection caps', () => {
  it('by default: one address holds at most 64 idle sockets, and /healthz still answers another', async () => {
    const p = await proxyWith({});
    try {
      const before = (await a1.stats()).requests;
      const idle = await openMany(adminPort(p), 70, { localAddress: '127.0.0.2', batch: 10 });
      open.push(...idle);
      await waitFor(() => refused(idle).length === 6 && refused(idle).every((t) => t.closedAt !== undefined), { what: '6 refused and closed' });
      const answer = parseAnswer(refused(idle)[0]!.data);
      expect(answer.headers['x-drproxy-error']).toBe('too_many_connections');
      expect(answer.headers.connection).toBe('close');
      expect(JSON.parse(answer.body)).toMatchObject({ error: 'too_many_connections' });
      expect(idle.filter((t) => t.closedAt === undefined)).toHaveLength(64);

      const health = await rawGet(adminPort(p), '/healthz');
      expect(health.status).toBe(200);
      expect(await metric(p, 'drproxy_admin_connections_refused_total', 'max_connections_per_client')).toBe(6);
      expect(await metric(p, 'drproxy_connections_refused_total', 'max_connections_per_client')).toBe(0);
      const line = await waitFor(() => p.logs.find((l) => l.event === 'connections_refused'), { what: 'the refusal log line' });
      expect(line).toMatchObject({ listener: 'admin', reason: 'max_connections_per_client', top: '127.0.0.2' });
      expect((await a1.stats()).requests).toBe(before);
    } finally {
      destroyAll(open);
      await p.stop();
    }
  });

  it('admin.max_connections caps every address together; room comes back as sockets close', async () => {
    const p = await proxyWith({ max_connections: 6, max_connections_per_client: 3, headers_timeout: '30s' });
    try {
      const two = await openMany(adminPort(p), 4, { localAddress: '127.0.0.2' });
      const three = await openMany(adminPort(p), 3, { localAddress: '127.0.0.3' });
      open.push(...two, ...three);
      await waitFor(() => refused(two).length === 1 && two.filter((t) => t.closedAt === undefined).length === 3, { what: 'the 4th from .2 refused' });
      expect(refused(three)).toHaveLength(0);
      // Six held: a seventh from anywhere is refused.
      const full = await rawGet(adminPort(p), '/healthz');
      expect(full.status).toBe(503);
      expect(full.headers['x-drproxy-error']).toBe('too_many_connections');
      destroyAll(three);
      await waitFor(async () => (await rawGet(adminPort(p), '/healthz')).status === 200, { what: '/healthz once .3 closed' });
      expect(await metric(p, 'drproxy_admin_connections_refused_total', 'max_connections')).toBeGreaterThanOrEqual(1);
      expect(await metric(p, 'drproxy_admin_connections_refused_total', 'max_connections_per_client')).toBe(1);
    } finally {
      destroyAll(open);
      await p.stop();
    }
  });
});

describe('an admin connection that never sends a byte', () => {
  it('is closed with 408 once admin.headers_timeout has passed since accept', async () => {
    const p = await proxyWith({ headers_timeout: `${HEADERS_TIMEOUT}ms` });
    try {
      const idle = await openMany(adminPort(p), 5);
      open.push(...idle);
      await Promise.race([
        Promise.all(idle.map((t) => t.closed)),
        new Promise((_, reject) => setTimeout(() => reject(new Error('idle admin sockets still open')), HEADERS_TIMEOUT + SLACK + 2000)),
      ]);
      for (const t of idle) {
        const lived = t.closedAt! - t.openedAt;
        expect(lived).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 50);
        expect(lived).toBeLessThan(HEADERS_TIMEOUT + SLACK);
        expect(t.error).toBeUndefined();
        expect(t.data).toMatch(/^HTTP\/1\.1 408 /);
      }
      expect((await rawGet(adminPort(p), '/healthz')).status).toBe(200);
    } finally {
      destroyAll(open);
      await p.stop();
    }
  });
});

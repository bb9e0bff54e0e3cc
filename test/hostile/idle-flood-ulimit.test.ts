/**
 * THE acceptance test of issue 16, item 1: 2,000 idle sockets from one client address
 * (127.0.0.2) against drproxy running under `ulimit -n 1024`. Before the fix, such a flood took
 * every descriptor: legitimate requests, the admin API and a forced failover all got
 * ECONNRESET. Now the data plane takes at most its cap (and max_connections_per_client from one
 * address), answers the rest a clean 503, and keeps a reserve: requests from 127.0.0.1,
 * /readyz and a forced failover succeed while the idle sockets are held, and the idle sockets
 * are closed by the configured deadline (server.headers_timeout).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { spawnProxy, twoSiteTenant, type ChildProxy } from '../helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from '../helpers/admin.js';
import { destroyAll, openMany, parseAnswer, type Tracked } from '../helpers/sockets.js';
import { waitFor } from '../helpers/poll.js';

const IDLE_SOCKETS = 2000;
const PER_CLIENT = 200;
const HEADERS_TIMEOUT_MS = 6000;
/** Node checks header deadlines once a second at most (connectionsCheckingInterval); plus a loaded machine. */
const DEADLINE_SLACK_MS = 2500;

let a1: Upstream, b1: Upstream;
let child: ChildProxy;
let adminUrl = '';
const sockets: Tracked[] = [];

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  child = await spawnProxy(
    {
      admin: adminTokens(),
      server: { headers_timeout: `${HEADERS_TIMEOUT_MS}ms`, max_connections_per_client: PER_CLIENT },
      // Manual failover and unhurried checks: on a loaded 2-core machine, an 80 ms probe
      // timeout can flip the tenant on its own, and the forced failover would find b1 active.
      defaults: { health_check: { interval: '500ms', timeout: '400ms', rise: 1, fall: 3, jitter: 0 }, failover: { mode: 'manual' } },
      tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
    },
    undefined,
    {},
    { openFiles: 1024 },
  );
  adminUrl = `http://127.0.0.1:${/"admin":"[^"]*:(\d+)"/.exec(child.output())![1]}`;
  await waitFor(async () => (await admin(adminUrl, 'GET', '/readyz')).status === 200, { what: 'ready' });
});

afterAll(async () => {
  destroyAll(sockets);
  await child?.kill('SIGKILL');
  await stopAll(a1, b1);
});

async function get(path: string): Promise<{ status: number; site?: string }> {
  const r = await request(`http://127.0.0.1:${child.port}${path}`, { headers: { host: 't.example.com' } });
  const text = await r.body.text();
  return { status: r.statusCode, ...(r.statusCode === 200 && { site: (JSON.parse(text) as { site: string }).site }) };
}

describe('2,000 idle sockets from 127.0.0.2 under ulimit -n 1024', () => {
  it('leave requests, /readyz and a forced failover working, and are closed by headers_timeout', async () => {
    const startedAt = performance.now();
    sockets.push(...(await openMany(child.port, IDLE_SOCKETS, { localAddress: '127.0.0.2', batch: 200 })));
    // Over the per-client cap: a clean 503 each, never a reset.
    await waitFor(() => sockets.filter((t) => t.closedAt !== undefined).length >= IDLE_SOCKETS - PER_CLIENT, { what: 'the refused sockets answered' });
    const refused = sockets.filter((t) => t.closedAt !== undefined);
    const admitted = sockets.filter((t) => t.closedAt === undefined);
    expect(refused).toHaveLength(IDLE_SOCKETS - PER_CLIENT);
    for (const t of refused) {
      expect(t.error).toBeUndefined();
      expect(parseAnswer(t.data).status).toBe(503);
    }

    // While the admitted idle sockets are held: another client, the admin API, a failover.
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(`/legit/${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.every((a) => a.site === 'a1')).toBe(true);
    expect((await admin(adminUrl, 'GET', '/readyz')).status).toBe(200);
    // An unforced failover needs b1 available: on a loaded machine its probes may still be
    // settling (a clean-clone run got 409 here), so wait for what the flip checks.
    await waitFor(async () => {
      const s = (await admin(adminUrl, 'GET', '/status', { token: OPERATOR })).body as { tenants: Array<{ sites: Array<{ name: string; available: boolean }> }> };
      return s.tenants[0]!.sites.find((x) => x.name === 'b1')!.available;
    }, { what: 'b1 available', interval: 250 });
    const flip = await admin(adminUrl, 'POST', '/tenants/t/failover', { token: OPERATOR, body: { to: 'b1', reason: 'acceptance: idle flood' } });
    expect(flip.status, JSON.stringify(flip.body)).toBe(200);
    expect(flip.body).toMatchObject({ tenant: 't', to: 'b1', result: 'routed' });
    expect(await get('/after-flip')).toEqual({ status: 200, site: 'b1' });
    expect((await b1.stats()).byPath['/after-flip']).toBe(1);
    // All of that happened with every admitted idle socket still open.
    expect(admitted.every((t) => t.closedAt === undefined)).toBe(true);

    // The idle sockets are closed by their deadline (Node's 408, a clean close).
    await waitFor(() => admitted.every((t) => t.closedAt !== undefined), { what: 'the idle sockets closed', timeout: HEADERS_TIMEOUT_MS + DEADLINE_SLACK_MS + 2000, interval: 100 });
    for (const t of admitted) {
      const lived = t.closedAt! - t.openedAt;
      expect(lived).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(lived).toBeLessThan(HEADERS_TIMEOUT_MS + DEADLINE_SLACK_MS);
      expect(t.error).toBeUndefined();
      expect(t.data).toMatch(/^HTTP\/1\.1 408 /);
    }
    // No descriptor ever ran out, and the process is alive and counted what it refused.
    const m = await admin(adminUrl, 'GET', '/metrics');
    expect(m.text).toContain(`drproxy_connections_refused_total{reason="max_connections_per_client"} ${IDLE_SOCKETS - PER_CLIENT}`);
    expect(m.text).toContain('drproxy_connections_refused_total{reason="accept_error"} 0');
    // What is still open is the test's own keep-alive connections from 127.0.0.1.
    expect(Number(/^drproxy_connections_open (\d+)$/m.exec(m.text)![1])).toBeLessThanOrEqual(21);
    expect(child.proc.exitCode).toBeNull();
    expect(performance.now() - startedAt).toBeLessThan(30_000);
  }, 60_000);
});

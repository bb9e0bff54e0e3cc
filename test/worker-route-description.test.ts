/**
 * A tenant's route crosses a thread boundary as plain data (src/workers/route-description.ts):
 * the description of a real route built by failover/routes.ts passes a real structured clone
 * (a MessageChannel, as postMessage to a worker does), and rebuilds into a TenantRoute with the
 * worker's own real Backends that keeps everything the data plane reads; later routes naming the
 * same backends reuse the worker's Backend objects (and pools); a turn's first passive trip comes
 * back at once, the rest batched.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { validateConfig } from '../src/config/index.js';
import type { Config, TenantConfig } from '../src/config/types.js';
import { buildRoute } from '../src/failover/routes.js';
import { Backend } from '../src/proxy/backend.js';
import type { TenantRoute } from '../src/proxy/route.js';
import { BackendIds, describeRoute, rebuildRoute, type RouteDescription } from '../src/workers/route-description.js';
import { WorkerBackends, type PassiveTrip } from '../src/workers/worker-backends.js';
import { waitFor } from './helpers/poll.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

let up: Upstream;
let config: Config;
let tenant: TenantConfig;

beforeAll(async () => {
  up = await startUpstream('a');
  const r = validateConfig(
    {
      defaults: { health_check: { interval: '1s', timeout: '500ms' } },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          redirect_https: true,
          https_port: 8443,
          hsts: { max_age: '1y', include_subdomains: true, preload: false },
          proxy: { balance: 'round_robin', retry_on: [502, 503], max_retries: 2, preserve_host: true, standby_connections: 2 },
          passive_health: { consecutive_failures: 3, consecutive_refused: 2, statuses: [500, 502], slow_after: '700ms' },
          failover: { hold_requests: '4s', hold_max: 123 },
          sites: [
            { name: 'a', backends: [{ url: up.url, weight: 3 }, { url: 'http://127.0.0.2:9', weight: 1, name: 'second' }] },
            { name: 'b', backends: ['https://127.0.0.3:8443'], tls: { servername: 'b.internal.example' } },
          ],
        },
      },
    },
    { baseDir: '/tmp' },
  );
  expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
  config = r.config!;
  tenant = config.tenants[0]!;
});

afterAll(() => stopAll(up));

/** The main thread's Backends of a site, built as the site builder does. */
function mainBackends(site: string): Backend[] {
  const s = tenant.sites.find((x) => x.name === site)!;
  return s.backends.map((bc) => new Backend(tenant.name, s.name, bc, tenant.proxy, Date.now, s.tls));
}

/** Through a real structured clone, as postMessage to a worker. */
function cross(port1: MessagePort, port2: MessagePort, d: RouteDescription): Promise<RouteDescription> {
  return new Promise((resolve) => {
    port2.once('message', resolve);
    port1.postMessage(d);
  });
}

/** Every object inside is a plain object or array: nothing whose class would be lost. */
function assertPlain(v: unknown, at = 'description'): void {
  if (v === null || typeof v !== 'object') {
    expect(typeof v, at).not.toBe('function');
    return;
  }
  const proto = Object.getPrototypeOf(v);
  expect(proto === Object.prototype || proto === Array.prototype, `${at} is a ${proto?.constructor?.name}`).toBe(true);
  for (const [k, x] of Object.entries(v)) assertPlain(x, `${at}.${k}`);
}

/**
 * What the data plane reads of a route, its backends and balancer included: the balancer's kind
 * and its picks over two whole weighted cycles, counted by name (round robin starts at a random
 * place of its order, so the sequence itself differs between two equal routes).
 */
function dataPlaneView(r: TenantRoute): unknown {
  return {
    ...r,
    backends: r.backends.map((b) => ({
      key: b.key,
      name: b.name,
      origin: b.origin,
      weight: b.weight,
      hostHeader: b.hostHeader,
      servername: b.servername,
      passive: [b.passiveThreshold, b.refusedThreshold, [...b.passiveStatuses], b.slowAfter],
      upgradeAgent: b.upgradeAgent === undefined ? undefined : b.upgradeAgent.options.servername,
    })),
    balancer: [r.balancer.constructor.name, picks(r)],
    retryOn: [...r.retryOn],
  };
}

function picks(r: TenantRoute): Record<string, number> {
  const n = 2 * r.backends.reduce((sum, b) => sum + b.weight, 0);
  const count: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = r.balancer.pick()?.name ?? '-';
    count[name] = (count[name] ?? 0) + 1;
  }
  return count;
}

/** The main thread's outlier detectors set these on its Backends (health/outlier-detector.ts). */
function detected(backends: Backend[]): Backend[] {
  for (const b of backends) Object.assign(b, { passiveThreshold: 3, refusedThreshold: 2, passiveStatuses: new Set([500, 502]), slowAfter: 700 });
  return backends;
}

describe('route description across a thread boundary', () => {
  it('a serving route round-trips with everything the data plane reads, through a real structured clone', async () => {
    const { port1, port2 } = new MessageChannel();
    const ids = new BackendIds();
    const main = detected(mainBackends('a'));
    const route = buildRoute(tenant, config.headers, 'serve', 'a', 7, '', main, true);
    const d = describeRoute(route, tenant, ids);
    assertPlain(d);
    expect(() => structuredClone(d)).not.toThrow();
    const crossed = await cross(port1, port2, d);
    expect(crossed).toEqual(d);
    const rebuilt = rebuildRoute(crossed, new WorkerBackends(() => {}));
    expect(Object.isFrozen(rebuilt)).toBe(true);
    expect(rebuilt.backends.every((b) => b instanceof Backend)).toBe(true);
    expect(rebuilt.backends).not.toBe(route.backends);
    // A fresh main-thread route for the same picks: the balancer's order must be the same.
    const fresh = buildRoute(tenant, config.headers, 'serve', 'a', 7, '', main, true);
    expect(dataPlaneView(rebuilt)).toEqual(dataPlaneView(fresh));
    expect(rebuilt.edge).toEqual({ redirect: true, portSuffix: ':8443', hsts: 'max-age=31557600; includeSubDomains' });
    expect(rebuilt.stamp).toEqual([config.headers.epoch, '7', config.headers.site, 'a']);
    port1.close();
  });

  it('a site with mTLS settings and hold and unavailable routes round-trip too', async () => {
    const { port1, port2 } = new MessageChannel();
    const ids = new BackendIds();
    const workers = new WorkerBackends(() => {});
    const b = detected(mainBackends('b'));
    for (const route of [
      buildRoute(tenant, config.headers, 'serve', 'b', 9, '', b, false),
      buildRoute(tenant, config.headers, 'hold', 'b', 10, 'failing over from a to b', [], false),
      buildRoute(tenant, config.headers, 'unavailable', 'a', 11, 'coordinator lost', [], false, 'DRP_COORDINATOR_LOST'),
    ]) {
      const d = await cross(port1, port2, describeRoute(route, tenant, ids));
      assertPlain(d);
      const rebuilt = rebuildRoute(d, workers);
      const fresh = buildRoute(tenant, config.headers, route.mode, route.site, route.epoch, route.reason, [...route.backends], route.standby, route.refusal);
      expect(dataPlaneView(rebuilt)).toEqual(dataPlaneView(fresh));
    }
    expect(workers.size).toBe(1);
    port1.close();
  });

  it('later routes reuse the worker Backend of the same main-thread Backend; a new Backend gets a new one', async () => {
    const ids = new BackendIds();
    const workers = new WorkerBackends(() => {});
    const main = mainBackends('a');
    const first = rebuildRoute(structuredClone(describeRoute(buildRoute(tenant, config.headers, 'serve', 'a', 1, '', main, false), tenant, ids)), workers);
    const second = rebuildRoute(structuredClone(describeRoute(buildRoute(tenant, config.headers, 'serve', 'a', 2, '', [main[1]!], true), tenant, ids)), workers);
    expect(second.backends[0]).toBe(first.backends[1]);
    const reloaded = mainBackends('a'); // a new config generation: new main-thread objects
    const third = rebuildRoute(structuredClone(describeRoute(buildRoute(tenant, config.headers, 'serve', 'a', 3, '', reloaded, false), tenant, ids)), workers);
    expect(third.backends[0]).not.toBe(first.backends[0]);
    expect(workers.size).toBe(4);
    await workers.retire([1, 2]);
    expect(workers.size).toBe(2);
  });

  it('the rebuilt Backend is real: its own pool forwards to the upstream', async () => {
    const ids = new BackendIds();
    const workers = new WorkerBackends(() => {});
    const route = rebuildRoute(structuredClone(describeRoute(buildRoute(tenant, config.headers, 'serve', 'a', 1, '', mainBackends('a').slice(0, 1), false), tenant, ids)), workers);
    const res = await route.backends[0]!.pool.request({ method: 'GET', path: '/hello', headers: { host: 't.example.com' } });
    expect(res.statusCode).toBe(200);
    expect((await res.body.text()).length).toBeGreaterThan(0);
    expect((await up.stats()).byPath['/hello']).toBe(1);
    await workers.retire([1]);
    // The upstream is still there for the others; only this pool closed.
    expect((await request(`${up.url}/__stats`)).statusCode).toBe(200);
  });

  it("a turn's first passive trip is posted at once, the turn's others as one batch after it", async () => {
    const batches: PassiveTrip[][] = [];
    const ids = new BackendIds();
    const workers = new WorkerBackends((trips) => batches.push(trips));
    const route = rebuildRoute(structuredClone(describeRoute(buildRoute(tenant, config.headers, 'serve', 'a', 1, '', mainBackends('a'), false), tenant, ids)), workers);
    // Threshold 3: each backend trips at its 3rd failure and again at its 4th.
    for (const b of route.backends) for (let i = 0; i < 4; i++) b.passiveFailure('reset');
    // The first trip went out within the turn: the ejection does not wait for the turn's end.
    expect(batches.map((m) => m.map((t) => [t.id, t.failures]))).toEqual([[[1, 3]]]);
    await waitFor(() => batches.length > 1, { what: 'the batch of the turn' });
    expect(batches).toHaveLength(2);
    expect(batches[1]!.map((t) => [t.id, t.kind, t.failures])).toEqual([
      [1, 'reset', 4],
      [2, 'reset', 3],
      [2, 'reset', 4],
    ]);
    expect(() => structuredClone(batches[1])).not.toThrow();
  });

  it('a backend that is not in the tenant config is refused with DRP_INTERNAL', () => {
    const stranger = new Backend('t', 'a', { name: 'ghost', url: 'http://127.0.0.9:1', origin: 'http://127.0.0.9:1', weight: 1 }, tenant.proxy);
    const route = buildRoute(tenant, config.headers, 'serve', 'a', 1, '', [stranger], false);
    expect(() => describeRoute(route, tenant, new BackendIds())).toThrow(expect.objectContaining({ code: 'DRP_INTERNAL' }));
  });
});

/**
 * Two or three in-process drproxy replicas sharing one SharedCoordinator (shared-coordinator.ts),
 * each with its own data plane (proxy port), admin API and health checks, in front of the same
 * two real upstreams: tenant t (host t.example.com), sites a1 (primary) and b1. The first replica
 * is the leader and starts first (it commits the tenant's first state); the others follow.
 * Also a hook endpoint whose answers wait until the test opens it (a fence hook in progress).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll } from 'vitest';
import { FAST_CHECKS, sitesHealthy, startProxy, type TestProxy } from './proxy.js';
import { SharedCoordinator, type SharedReplica } from './shared-coordinator.js';
import { startUpstream, stopAll, type Upstream } from './upstream.js';
import type { TenantState } from '../../src/state/types.js';

export interface Replica {
  id: string;
  p: TestProxy;
  coordinator: SharedReplica;
  /** Every state this replica's controllers reported (what its audit trail records). */
  states: TenantState[];
}

export interface ReplicaSet {
  shared: SharedCoordinator;
  a1: Upstream;
  b1: Upstream;
  replicas: Replica[];
  stop(): Promise<void>;
}

/** `failover`: the tenant's failover settings; `sites`: extra settings per site (hooks). */
export async function startReplicas(n: number, failover: Record<string, unknown>, sites: { a1?: object; b1?: object } = {}): Promise<ReplicaSet> {
  const [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const shared = new SharedCoordinator();
  const replicas: Replica[] = [];
  const set: ReplicaSet = {
    shared,
    a1,
    b1,
    replicas,
    async stop() {
      for (const r of replicas) await r.p.stop();
      await stopAll(a1, b1);
    },
  };
  try {
    const doc = {
      defaults: { health_check: FAST_CHECKS, failover },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: [
            { name: 'a1', backends: [a1.url], ...sites.a1 },
            { name: 'b1', backends: [b1.url], ...sites.b1 },
          ],
        },
      },
    };
    shared.setLeader('r1');
    for (let i = 1; i <= n; i++) {
      const id = `r${i}`;
      const coordinator = shared.replica(id);
      const states: TenantState[] = [];
      const p = await startProxy(doc, { coordinator: () => coordinator, controllerHooks: { onState: (st) => states.push(st) } });
      replicas.push({ id, p, coordinator, states });
    }
    for (const r of replicas) await sitesHealthy(r.p, 't');
  } catch (err) {
    await set.stop();
    throw err;
  }
  return set;
}

/** GET `path` of tenant t through a replica's own proxy port. */
export async function get(r: Replica, path = '/'): Promise<{ status: number; site: string | undefined; error: string | undefined; body: string }> {
  const res = await request(`${r.p.url}${path}`, { headers: { host: 't.example.com' } });
  const body = await res.body.text();
  const site = res.headers['x-site'];
  const error = res.headers['x-drproxy-error'];
  return { status: res.statusCode, site: typeof site === 'string' ? site : undefined, error: typeof error === 'string' ? error : undefined, body };
}

export interface GatedHook {
  url: string;
  calls: Array<{ path: string; body: Record<string, unknown>; at: number }>;
  /** Answer every call waiting, and every later call at once. */
  open(): void;
  close(): Promise<void>;
}

/**
 * A hook endpoint whose answers wait until `open()`: the n-th call gets `statuses[n]`, else 200.
 * `check` calls (standby readiness) are answered 200 at once and not recorded: they act on nothing.
 */
export async function startGatedHook(statuses: number[] = []): Promise<GatedHook> {
  let opened = false;
  const waiting: Array<() => void> = [];
  const calls: GatedHook['calls'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      if (body.includes('"action":"check"')) return void res.writeHead(200).end('ok');
      const status = statuses[calls.length] ?? 200;
      calls.push({ path: req.url!, body: body ? (JSON.parse(body) as Record<string, unknown>) : {}, at: Date.now() });
      const answer = (): void => void res.writeHead(status, { 'content-type': 'text/plain' }).end('hook');
      if (opened) answer();
      else waiting.push(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    open() {
      opened = true;
      for (const w of waiting.splice(0)) w();
    },
    close: () => {
      opened = true;
      for (const w of waiting.splice(0)) w();
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

export interface FencedReplicas {
  set: ReplicaSet;
  fence: GatedHook;
}

/**
 * For a test file: before all, a gated fence hook on site a1 (`fence`: the hook's other settings;
 * `statuses`: its answers) and `n` replicas; after all, everything stopped (the hook opened first).
 */
export function useFencedReplicas(n: number, failover: Record<string, unknown>, fence: object, statuses: number[] = []): FencedReplicas {
  const it = {} as FencedReplicas;
  beforeAll(async () => {
    it.fence = await startGatedHook(statuses);
    it.set = await startReplicas(n, failover, { a1: { fence: { url: `${it.fence.url}/fence`, ...fence } } });
  });
  afterAll(async () => {
    it.fence?.open();
    await it.set?.stop();
    await it.fence?.close();
  });
  return it;
}

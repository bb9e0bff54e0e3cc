/**
 * Acknowledged routing (design.md, "Clustered mode"): a flip goes on only once every data plane
 * has acknowledged what the route publisher published. After the hold (step 2) nothing past the
 * drain happens until the hold is acknowledged; after the new route (step 6) the completion is
 * not committed until that route is acknowledged. The coordinator here is the local one with
 * its acknowledgements held back by the test, as a cluster's would be until every replica answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { validateConfig } from '../src/config/index.js';
import { createLogger } from '../src/log.js';
import { HealthRegistry } from '../src/health/registry.js';
import { FileStateStore } from '../src/state/file-store.js';
import { LocalCoordinator } from '../src/state/local-coordinator.js';
import type { Acknowledgement, Coordinator, RouteNotice, StateChange } from '../src/state/coordinator.js';
import type { TenantState } from '../src/state/types.js';
import { TenantController } from '../src/failover/tenant-controller.js';
import { FAST_CHECKS, tempDir } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { waitFor } from './helpers/poll.js';

/** The local coordinator, whose route acknowledgements wait for the test; it logs what happens in order. */
class HeldAcks implements Coordinator {
  readonly kind = 'local' as const;
  readonly log: string[] = [];
  holding = false;
  private readonly waiting = new Map<string, () => void>();
  constructor(private readonly inner: LocalCoordinator) {}
  load(tenant: string): Promise<TenantState | undefined> {
    return this.inner.load(tenant);
  }
  commit(tenant: string, change: StateChange, expected: number | undefined): Promise<TenantState> {
    this.log.push(`commit ${change.phase} ${change.active} ${change.epoch}`);
    return this.inner.commit(tenant, change, expected);
  }
  publishRoute(r: RouteNotice): Acknowledgement {
    const key = `${r.mode} ${r.site} ${r.epoch}`;
    this.log.push(`route ${key}`);
    if (!this.holding) return undefined;
    return new Promise((done) => this.waiting.set(key, done));
  }
  /** Every data plane has acknowledged the route `key` ("mode site epoch"). */
  ack(key: string): void {
    this.log.push(`ack ${key}`);
    this.waiting.get(key)!();
    this.waiting.delete(key);
  }
  /** Acknowledge whatever still waits (a failed test must not leave its flip hanging). */
  ackAll(): void {
    this.holding = false;
    for (const key of [...this.waiting.keys()]) this.ack(key);
  }
  watch(tenant: string, listener: (s: TenantState) => void): () => void {
    return this.inner.watch(tenant, listener);
  }
  mayDecide(): boolean {
    return true;
  }
}

let a: Upstream, b: Upstream;
let store: FileStateStore;
let registry: HealthRegistry;
let controller: TenantController | undefined;
let coordinator: HeldAcks | undefined;

beforeAll(async () => {
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  store = new FileStateStore(resolve(await tempDir()));
  await store.open();
  registry = new HealthRegistry();
});

afterAll(async () => {
  coordinator?.ackAll();
  await controller?.stop();
  await registry?.close();
  await store?.close();
  await stopAll(a, b);
});

describe('a flip waits for every data plane to acknowledge its routes', () => {
  it('goes past the drain only once the hold is acknowledged, and commits completion only once the new route is', async () => {
    const { config, problems } = validateConfig(
      {
        defaults: { health_check: FAST_CHECKS, failover: { mode: 'manual', drain_timeout: '1s' } },
        tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a', backends: [a.url] }, { name: 'b', backends: [b.url] }] } },
      },
      { baseDir: '/tmp' },
    );
    expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
    const held = (coordinator = new HeldAcks(new LocalCoordinator(store)));
    const logger = createLogger({ level: 'warn', destination: { write: () => {} } });
    const c = (controller = await TenantController.create(config!.tenants[0]!, { coordinator: held, health: registry, logger, headers: config!.headers }));
    registry.start();
    await waitFor(() => c.site('a')!.health().available && c.site('b')!.health().available, { what: 'both sites available' });

    held.holding = true;
    held.log.length = 0;
    const flip = c.operatorFailover({ to: 'b', reason: 'test', actor: 'test' });
    await waitFor(() => held.log.includes('route hold a 2'), { what: 'the hold published' });
    // Not acknowledged yet: the flip has not routed to b.
    expect(held.log).toEqual(['commit failing_over a 2', 'route hold a 2']);
    expect(c.slot.route).toMatchObject({ mode: 'hold', epoch: 2 });
    held.ack('hold a 2');

    await waitFor(() => held.log.includes('route serve b 2'), { what: 'the new route published' });
    // Routed here, but the completion waits for every data plane to route b.
    expect(c.slot.route).toMatchObject({ mode: 'serve', site: 'b', epoch: 2 });
    expect(held.log).toEqual(['commit failing_over a 2', 'route hold a 2', 'ack hold a 2', 'route serve b 2']);
    held.ack('serve b 2');

    const record = await flip;
    expect(record).toMatchObject({ from: 'a', to: 'b', epoch: 2, result: 'routed' });
    expect(held.log).toEqual(['commit failing_over a 2', 'route hold a 2', 'ack hold a 2', 'route serve b 2', 'ack serve b 2', 'commit active b 2']);
    expect(await store.load('t')).toMatchObject({ phase: 'active', active: 'b', epoch: 2 });
  });
});

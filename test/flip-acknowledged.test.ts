/**
 * Acknowledged routing (design.md, "Clustered mode"): a flip goes on only once every data plane
 * has acknowledged what the route publisher published. After the hold (step 2) nothing past the
 * drain happens until the hold is acknowledged; after the new route (step 6) the completion is
 * not committed until that route is acknowledged. The coordinator here is the local one with
 * its acknowledgements held back by the test, as a cluster's would be until every replica answers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCoordinator } from '../src/state/local-coordinator.js';
import type { Acknowledgement, Coordinator, RouteNotice, StateChange } from '../src/state/coordinator.js';
import type { TenantState } from '../src/state/types.js';
import { startController, type ControllerSetup } from './helpers/controller.js';
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
  acknowledge(): void {}
  acknowledged(): Acknowledgement {
    return undefined;
  }
  serving(): boolean {
    return true;
  }
  onStatus(): () => void {
    return () => {};
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

let setup: ControllerSetup | undefined;
let coordinator: HeldAcks | undefined;

afterAll(async () => {
  coordinator?.ackAll();
  await setup?.stop();
});

describe('a flip waits for every data plane to acknowledge its routes', () => {
  it('goes past the drain only once the hold is acknowledged, and commits completion only once the new route is', async () => {
    setup = await startController({ mode: 'manual', drain_timeout: '1s' }, { coordinator: (local) => (coordinator = new HeldAcks(local)) });
    const { c, store } = setup;
    const held = coordinator!;

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

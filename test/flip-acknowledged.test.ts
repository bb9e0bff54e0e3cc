/**
 * Acknowledged routing (design.md, "Clustered mode"; cluster-protocol.md): after its own drain the
 * flip acknowledges `drained` and goes no further (no hook, no new route) until every replica has
 * drained; at step 6 it routes, commits the completion, acknowledges `routed`, and only then waits
 * for every replica to route (followers route on the completion commit: waiting before it would
 * deadlock). The coordinator here is the local one with its acknowledgements held back by the
 * test, as a cluster's would be until every replica answers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCoordinator } from '../src/state/local-coordinator.js';
import type { Acknowledgement, AckStage, Coordinator, StateChange } from '../src/state/coordinator.js';
import type { TenantState } from '../src/state/types.js';
import { startController, type ControllerSetup } from './helpers/controller.js';
import { waitFor } from './helpers/poll.js';

/** The local coordinator, whose acknowledgements wait for the test; it logs what happens in order. */
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
  acknowledge(_tenant: string, epoch: number, stage: AckStage): void {
    this.log.push(`ack ${stage} ${epoch}`);
  }
  acknowledged(_tenant: string, epoch: number, stage: AckStage): Acknowledgement {
    const key = `${stage} ${epoch}`;
    this.log.push(`wait ${key}`);
    if (!this.holding) return undefined;
    return new Promise((done) => this.waiting.set(key, done));
  }
  serving(): boolean {
    return true;
  }
  onStatus(): () => void {
    return () => {};
  }
  /** Every replica has acknowledged `key` ("stage epoch"). */
  release(key: string): void {
    this.log.push(`all ${key}`);
    this.waiting.get(key)!();
    this.waiting.delete(key);
  }
  /** Release whatever still waits (a failed test must not leave its flip hanging). */
  releaseAll(): void {
    this.holding = false;
    for (const key of [...this.waiting.keys()]) this.release(key);
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
  coordinator?.releaseAll();
  await setup?.stop();
});

describe('a flip waits for every replica to acknowledge its stages', () => {
  it('goes past the drain only once every replica drained, and waits for routed only after committing completion', async () => {
    setup = await startController({ mode: 'manual', drain_timeout: '1s' }, { coordinator: (local) => (coordinator = new HeldAcks(local)) });
    const { c, store } = setup;
    const held = coordinator!;

    held.holding = true;
    held.log.length = 0;
    const flip = c.operatorFailover({ to: 'b', reason: 'test', actor: 'test' });
    await waitFor(() => held.log.includes('wait drained 2'), { what: 'the flip waiting for drained acks' });
    // Not every replica has drained: the flip holds and has not routed to b.
    expect(held.log).toEqual(['commit failing_over a 2', 'ack drained 2', 'wait drained 2']);
    expect(c.slot.route).toMatchObject({ mode: 'hold', epoch: 2 });
    held.release('drained 2');

    await waitFor(() => held.log.includes('wait routed 2'), { what: 'the flip waiting for routed acks' });
    // Routed here and committed (followers route on that commit); the flip waits for the record.
    expect(c.slot.route).toMatchObject({ mode: 'serve', site: 'b', epoch: 2 });
    expect(held.log).toEqual(['commit failing_over a 2', 'ack drained 2', 'wait drained 2', 'all drained 2', 'commit active b 2', 'ack routed 2', 'wait routed 2']);
    expect(await store.load('t')).toMatchObject({ phase: 'active', active: 'b', epoch: 2 });
    let done = false;
    void flip.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    held.release('routed 2');

    const record = await flip;
    expect(record).toMatchObject({ from: 'a', to: 'b', epoch: 2, result: 'routed' });
  });
});

/**
 * A follower applies committed states by epoch (cluster-protocol.md): epochs only go up, so a
 * state older than the one applied is ignored; a follower that skipped epochs applies the
 * latest state directly. Before the leader's first commit it holds requests (epoch 0).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Coordinator } from '../src/state/coordinator.js';
import type { LocalCoordinator } from '../src/state/local-coordinator.js';
import type { TenantState } from '../src/state/types.js';
import { startController, type ControllerSetup } from './helpers/controller.js';
import { waitFor } from './helpers/poll.js';

/** The local coordinator as a follower sees it: it never decides; the test delivers the watch. */
function follower(local: LocalCoordinator, deliver: { fn?: (s: TenantState) => void }): Coordinator {
  return Object.assign(Object.create(local) as LocalCoordinator, {
    mayDecide: () => false,
    commit: () => Promise.reject(new Error('a follower commits nothing')),
    watch: (_t: string, l: (s: TenantState) => void) => ((deliver.fn = l), () => {}),
  });
}

const at = (n: number): string => new Date(Date.UTC(2030, 0, 1, 0, 0, n)).toISOString();
const state = (epoch: number, phase: TenantState['phase'], active: string, extra: Partial<TenantState> = {}): TenantState => ({ tenant: 't', epoch, phase, active, fenced: [], trigger: 'admin', reason: 'test', updated_at: at(epoch), ...extra });

let setup: ControllerSetup | undefined;

afterAll(async () => {
  await setup?.stop();
});

describe('a follower applies states by epoch', () => {
  it('holds before the first state, skips to the latest epoch, and ignores an older one', async () => {
    const deliver: { fn?: (s: TenantState) => void } = {};
    setup = await startController({ mode: 'manual' }, { coordinator: (local) => follower(local, deliver) });
    const { c } = setup;
    // Nothing committed yet: the follower holds, it does not pick a site on its own.
    expect(c.state).toMatchObject({ epoch: 0 });
    expect(c.slot.route).toMatchObject({ mode: 'hold' });

    deliver.fn!(state(1, 'active', 'a'));
    await waitFor(() => c.slot.route.mode === 'serve', { what: 'routing a at epoch 1' });
    expect(c.slot.route).toMatchObject({ site: 'a', epoch: 1 });

    // Epochs 2 and 3 were missed: the latest state is applied directly.
    deliver.fn!(state(4, 'active', 'b', { fenced: ['a'] }));
    expect(c.slot.route).toMatchObject({ mode: 'serve', site: 'b', epoch: 4 });
    // A late state of an older epoch changes nothing.
    deliver.fn!(state(3, 'failing_over', 'a', { from: 'a', to: 'b' }));
    deliver.fn!(state(2, 'active', 'a'));
    expect(c.state).toMatchObject({ phase: 'active', active: 'b', epoch: 4 });
    expect(c.slot.route).toMatchObject({ mode: 'serve', site: 'b', epoch: 4 });

    // Within one epoch, states apply in commit order: a freeze, then the unfreeze.
    deliver.fn!(state(4, 'frozen', 'b', { frozen_cause: 'no_site', updated_at: at(10) }));
    expect(c.slot.route).toMatchObject({ mode: 'unavailable', epoch: 4 });
    deliver.fn!(state(4, 'active', 'b', { updated_at: at(11) }));
    expect(c.slot.route).toMatchObject({ mode: 'serve', site: 'b', epoch: 4 });
  });
});

/**
 * Issue 16, item 17: a `no_site` freeze or an unfreeze decided on one health result but run
 * later (behind another change in the tenant's serial queue) is checked again when it runs. A
 * tenant whose active site came back meanwhile is not frozen; one whose active site went down
 * again meanwhile is not unfrozen onto it.
 *
 * Two sites: a1 active, b1 unhealthy, so that when a1 fails nothing can take over. The state
 * store's commits can be held back, which keeps an operator's call (fencing or unfencing b1) in
 * the serial queue while a1's health changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { request } from 'undici';
import { FileStateStore } from '../src/state/file-store.js';
import type { StateStore, TenantState } from '../src/state/types.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, tempDir, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

/** The real file store; while `held` is set, commits wait for it. */
class GatedStore implements StateStore {
  readonly kind = 'file' as const;
  private gate: Promise<void> | undefined;
  private open_: (() => void) | undefined;
  readonly states: TenantState[] = [];
  constructor(private readonly inner: FileStateStore) {}
  hold(): void {
    this.gate = new Promise((r) => (this.open_ = r));
  }
  release(): void {
    this.gate = undefined;
    this.open_?.();
  }
  open(): Promise<void> {
    return this.inner.open();
  }
  load(tenant: string): Promise<TenantState | undefined> {
    return this.inner.load(tenant);
  }
  async commit(next: TenantState, expectedEpoch: number | undefined): Promise<void> {
    if (this.gate) await this.gate;
    await this.inner.commit(next, expectedEpoch);
    this.states.push(next);
  }
  watch(listener: (state: TenantState) => void): () => void {
    return this.inner.watch(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let store: GatedStore;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const stateDir = await tempDir();
  store = new GatedStore(new FileStateStore(resolve(stateDir)));
  p = await startProxy(
    {
      defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s' } },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: [
            { name: 'a1', backends: [a1.url] },
            { name: 'b1', backends: [b1.url] },
          ],
        },
      },
    },
    { stateDir, store },
  );
  const t = p.proxy.tenant('t')!;
  await b1.setHealth(503);
  await waitFor(() => t.site('a1')!.health().available && t.site('b1')!.health().unavailable, { what: 'a1 up, b1 down' });
});

afterAll(async () => {
  store?.release();
  await p?.stop();
  await stopAll(a1, b1);
});

const checkState = (up: boolean) => () => p.proxy.tenant('t')!.site('a1')!.backends[0]!.health.check.state === (up ? 'up' : 'down');

/** An operator call that commits (fences b1, or unfences it), held back while the store is held. */
function operatorCall(): Promise<unknown> {
  const t = p.proxy.tenant('t')!;
  const op = { reason: 'keeps the serial queue busy', actor: 'test' };
  return t.state.fenced.includes('b1') ? t.unfence('b1', op) : t.fence('b1', op);
}

/** Resolves once everything queued in the tenant's serial queue so far has run. */
async function queueDone(): Promise<void> {
  const t = p.proxy.tenant('t')!;
  await t.fence('no-such-site', { reason: 'sync', actor: 'test' }).catch(() => undefined);
}

async function status(): Promise<number> {
  const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
  await r.body.dump();
  return r.statusCode;
}

describe('freeze and unfreeze decided earlier, run later', () => {
  it('does not freeze a tenant whose active site came back while the freeze waited', async () => {
    const t = p.proxy.tenant('t')!;
    store.hold();
    const busy = operatorCall();
    await a1.setHealth(503);
    await waitFor(checkState(false), { what: 'a1 down' });
    await a1.setHealth(200);
    await waitFor(checkState(true), { what: 'a1 up again' });
    store.release();
    await busy;
    await queueDone();
    expect(store.states.filter((s) => s.phase === 'frozen')).toEqual([]);
    expect(t.state.phase).toBe('active');
    expect(await status()).toBe(200);
  });

  it('does not unfreeze onto an active site that went down again while the unfreeze waited', async () => {
    const t = p.proxy.tenant('t')!;
    await a1.setHealth(503);
    await waitFor(() => checkState(false)() && t.state.phase === 'frozen', { what: 'a1 down, tenant frozen (no_site)' });
    await queueDone();
    store.hold();
    const busy = operatorCall();
    await a1.setHealth(200);
    await waitFor(checkState(true), { what: 'a1 up' });
    await a1.setHealth(503);
    await waitFor(checkState(false), { what: 'a1 down again' });
    store.release();
    await busy;
    await queueDone();
    expect(t.state).toMatchObject({ phase: 'frozen', frozen_cause: 'no_site' });
    // It recovers once a1 is back for good.
    await a1.setHealth(200);
    await waitFor(() => t.state.phase === 'active', { what: 'unfrozen' });
    expect(await status()).toBe(200);
  });
});

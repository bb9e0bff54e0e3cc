/**
 * The local coordinator (embedded mode): commits are the state store's epoch-guarded writes,
 * stamped with the control plane's clock; every stage is acknowledged at once (one data plane);
 * nothing is committed elsewhere; this process always decides.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { FileStateStore } from '../src/state/file-store.js';
import { LocalCoordinator } from '../src/state/local-coordinator.js';
import { tempDir } from './helpers/proxy.js';

let store: FileStateStore;

beforeAll(async () => {
  store = new FileStateStore(resolve(await tempDir()));
  await store.open();
});

afterAll(async () => {
  await store?.close();
});

describe('LocalCoordinator', () => {
  it('commits through the store with the expected epoch, stamps the clock, and refuses a stale epoch', async () => {
    const c = new LocalCoordinator(store, () => Date.UTC(2030, 0, 2, 3, 4, 5));
    expect(await c.load('t')).toBeUndefined();
    const first = await c.commit('t', { epoch: 1, phase: 'active', active: 'a', fenced: [], trigger: 'startup', reason: 'first start', from: undefined }, undefined);
    expect(first).toStrictEqual({ tenant: 't', epoch: 1, phase: 'active', active: 'a', fenced: [], trigger: 'startup', reason: 'first start', updated_at: '2030-01-02T03:04:05.000Z' });
    const intent = await c.commit('t', { epoch: 2, phase: 'failing_over', active: 'a', from: 'a', to: 'b', fenced: [], trigger: 'admin', reason: 'test' }, 1);
    expect(await c.load('t')).toEqual(intent);
    // Another writer's view of epoch 1 is stale now: the guard refuses it, the state stays.
    await expect(c.commit('t', { epoch: 2, phase: 'active', active: 'c', fenced: [], trigger: 'admin', reason: 'late' }, 1)).rejects.toThrow();
    expect(await c.load('t')).toEqual(intent);
  });

  it('acknowledges every stage at once, always serves, sees no commits from elsewhere, and always decides', () => {
    const c = new LocalCoordinator(store);
    expect(c.acknowledged('t', 2, 'drained')).toBeUndefined();
    expect(c.acknowledged('t', 2, 'routed')).toBeUndefined();
    expect(c.serving()).toBe(true);
    let seen = 0;
    const off = c.watch('t', () => seen++);
    off();
    expect(seen).toBe(0);
    expect(c.mayDecide()).toBe(true);
    expect(c.kind).toBe('local');
  });
});

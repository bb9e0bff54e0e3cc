/** Shared by the state fault tests: states, stores and the one assertion they all make. */
import { expect } from 'vitest';
import { FileStateStore, type StateNotice } from '../../src/state/file-store.js';
import type { TenantState } from '../../src/state/types.js';

export function st(epoch: number, active = 'a', fenced: string[] = [], tenant = 't'): TenantState {
  return { tenant, epoch, phase: 'active', active, fenced, reason: 'test', trigger: 'admin', updated_at: '2026-11-22T00:00:00.000Z' };
}

/** A store on `dir`, opened, with what it reported. */
export async function openStore(dir: string): Promise<{ s: FileStateStore; notices: StateNotice[]; repairs: string[]; writeErrors: string[] }> {
  const notices: StateNotice[] = [];
  const repairs: string[] = [];
  const writeErrors: string[] = [];
  const s = new FileStateStore(dir, (_t, m) => repairs.push(m), (m) => writeErrors.push(m), (n) => notices.push(n));
  await s.open();
  return { s, notices, repairs, writeErrors };
}

/**
 * The acceptance criterion of every state fault: what loads is never at an epoch lower than
 * one that was committed; and when it loads at the committed epoch without an alert, it is the
 * committed state itself.
 */
export function neverBelow(loaded: TenantState | undefined, committed: TenantState): void {
  expect(loaded, 'a committed tenant loaded as new').toBeDefined();
  expect(loaded!.epoch).toBeGreaterThanOrEqual(committed.epoch);
  if (loaded!.epoch === committed.epoch) expect({ ...loaded, updated_at: '' }).toEqual({ ...committed, updated_at: '' });
}

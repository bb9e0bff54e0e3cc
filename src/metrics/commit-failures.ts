/**
 * drproxy_state_commit_failures_total: the state store as the tenant controllers see it, with
 * every failed commit counted (disk full or failing, or the stored epoch moved under us). The
 * controller already handles the failure (the change does not happen); this only counts it.
 */
import type { StateStore, TenantState } from '../state/types.js';

export function countCommitFailures(store: StateStore, failed: () => void): StateStore {
  return {
    get kind() {
      return store.kind;
    },
    open: () => store.open(),
    load: (tenant: string) => store.load(tenant),
    commit: (next: TenantState, expected: number | undefined) =>
      store.commit(next, expected).catch((err: unknown) => {
        failed();
        throw err;
      }),
    watch: (listener) => store.watch(listener),
    close: () => store.close(),
  };
}

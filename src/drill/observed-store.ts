/**
 * The drill store as the drill service sees it, with every report that reaches a final status
 * passed to `onFinal` once (drproxy_drills_total, drproxy_drill_last_success_timestamp_seconds):
 * operator, scheduled and region drills, refused, skipped and interrupted ones alike, without
 * a hook in each place that closes a report.
 */
import type { AnyDrillReport, DrillStore } from './types.js';

/** Ids already reported, at most this many remembered (a final report is written once). */
const REMEMBER = 10_000;

/** `beforeClose`: what must finish writing before the store closes (region drills ending). */
export function observedStore(store: DrillStore, onFinal: (r: AnyDrillReport) => void, beforeClose?: () => Promise<unknown>): DrillStore {
  const seen = new Set<string>();
  return {
    async put(r) {
      await store.put(r);
      if (r.status === 'running' || seen.has(r.id)) return;
      seen.add(r.id);
      if (seen.size > REMEMBER) seen.delete(seen.values().next().value!);
      onFinal(r);
    },
    get: (id) => store.get(id),
    list: (f) => store.list(f),
    running: () => store.running(),
    async close() {
      await beforeClose?.().catch(() => {});
      await store.close();
    },
  };
}

/**
 * What the scheduler and the metrics read back from the store at start-up (and, for the
 * scheduler, when it takes over as leader): a tenant's last scheduled drill and its last passed
 * drill. The store lists newest first; reports are read one at a time, the newest few only.
 */
import type { DrillReport, DrillStore } from './types.js';

/** Reports read per tenant at most: older ones are not looked at. */
const SCAN = 50;

async function newest(store: DrillStore, tenant: string, match: (r: DrillReport) => boolean, status?: (s: string) => boolean): Promise<DrillReport | undefined> {
  const list = await store.list({ tenant, limit: SCAN });
  for (const e of list) {
    if (e.kind !== 'drproxy.drill' || e.tenant !== tenant) continue;
    if (status && !status(e.status)) continue;
    const r = await store.get(e.id);
    if (r?.kind === 'drproxy.drill' && match(r)) return r;
  }
  return undefined;
}

/** When the tenant's last scheduled drill started (run or skipped), epoch ms. */
export async function lastScheduledStart(store: DrillStore, tenant: string): Promise<number | undefined> {
  const r = await newest(store, tenant, (x) => x.trigger === 'schedule');
  return r && Date.parse(r.started_at);
}

/** When the tenant's last passed drill ended, epoch ms (drproxy_drill_last_success_timestamp_seconds). */
export async function lastSuccess(store: DrillStore, tenant: string): Promise<number | undefined> {
  const r = await newest(store, tenant, (x) => x.status === 'passed', (s) => s === 'passed');
  return r && Date.parse(r.ended_at ?? r.started_at);
}

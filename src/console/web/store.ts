/**
 * The page's copy of the fleet, fed by GET /fleet and the live events. Ordering is recomputed
 * lazily (once per render, not once per event) so that bursts of events cost one sort.
 */
import { applyChanges, countPhases, orderTenants } from './fleet-order.js';
import type { FleetCounts, FleetSnapshot, FlipEvent, FlipRecord, TenantSummary, TenantsChanged } from './model.js';

export type Change = { kind: 'all' } | { kind: 'tenants'; names: string[] } | { kind: 'flip'; tenant: string };

export class Store {
  readonly byName = new Map<string, TenantSummary>();
  counts: FleetCounts = countPhases([]);
  snapshot: Omit<FleetSnapshot, 'tenants'> | undefined;
  /** Flips announced live since the page loaded, per tenant, newest last. */
  readonly flips = new Map<string, FlipRecord[]>();
  private orderedCache: TenantSummary[] | undefined;
  private readonly listeners = new Set<(c: Change) => void>();

  subscribe(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get loaded(): boolean {
    return this.snapshot !== undefined;
  }

  ordered(): TenantSummary[] {
    this.orderedCache ??= orderTenants(this.byName.values());
    return this.orderedCache;
  }

  applySnapshot(s: FleetSnapshot): void {
    const { tenants, ...rest } = s;
    this.byName.clear();
    for (const t of tenants) this.byName.set(t.name, t);
    this.snapshot = rest;
    this.counts = s.counts ?? countPhases(tenants);
    this.orderedCache = undefined;
    this.emit({ kind: 'all' });
  }

  applyChanges(c: TenantsChanged): void {
    const names = applyChanges(this.byName, c);
    this.counts = c.counts ?? countPhases(this.byName.values());
    if (this.snapshot) this.snapshot = { ...this.snapshot, at: c.at, counts: this.counts };
    this.orderedCache = undefined;
    this.emit({ kind: 'tenants', names });
  }

  applyFlip(e: FlipEvent): void {
    const list = this.flips.get(e.tenant) ?? [];
    list.push(e.record);
    if (list.length > 20) list.shift();
    this.flips.set(e.tenant, list);
    this.emit({ kind: 'flip', tenant: e.tenant });
  }

  private emit(c: Change): void {
    for (const fn of this.listeners) fn(c);
  }
}

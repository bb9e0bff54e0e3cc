/**
 * The fleet view's ordering, filtering and paging: pure functions over tenant summaries, so
 * that they are unit-tested (test/console-fleet-order.test.ts) and cheap at 5,000 tenants.
 */
import type { FleetCounts, TenantPhase, TenantSummary, TenantsChanged } from './model.js';

/** Rows on one page of the fleet view: the page never holds more, whatever the fleet's size. */
export const PAGE_SIZE = 100;

/** 0: frozen, 1: not on its preferred site (or mid-flip), 2: the rest. */
export function rank(t: TenantSummary): number {
  if (t.phase === 'frozen') return 0;
  if (t.off_preferred || t.phase === 'failing_over') return 1;
  return 2;
}

/** Frozen first, then off their preferred site, then the rest; by name within each group. */
export function compareTenants(a: TenantSummary, b: TenantSummary): number {
  return rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

export function orderTenants(list: Iterable<TenantSummary>): TenantSummary[] {
  return [...list].sort(compareTenants);
}

/** `phase` also takes 'off_preferred' (the tenants not on their first site). */
export interface FleetFilter {
  search: string;
  tier: string;
  region: string;
  phase: '' | TenantPhase | 'off_preferred';
}

export const NO_FILTER: FleetFilter = { search: '', tier: '', region: '', phase: '' };

/** Search: every word must appear in the tenant's name, tier, active or preferred site, or cause. */
export function matches(t: TenantSummary, f: FleetFilter, words = searchWords(f.search)): boolean {
  if (f.tier !== '' && t.tier !== f.tier) return false;
  if (f.region !== '' && !t.regions.includes(f.region)) return false;
  if (f.phase === 'off_preferred') {
    if (!t.off_preferred) return false;
  } else if (f.phase !== '' && t.phase !== f.phase) return false;
  if (words.length === 0) return true;
  const hay = `${t.name} ${t.tier} ${t.active} ${t.preferred} ${t.frozen_cause ?? ''}`.toLowerCase();
  return words.every((w) => hay.includes(w));
}

export function searchWords(search: string): string[] {
  return search.toLowerCase().split(/\s+/).filter((w) => w !== '');
}

/** The ordered tenants that pass the filter. */
export function filterTenants(ordered: readonly TenantSummary[], f: FleetFilter): TenantSummary[] {
  const words = searchWords(f.search);
  return ordered.filter((t) => matches(t, f, words));
}

/** The values the tier and region filters offer, sorted. */
export function facets(list: Iterable<TenantSummary>): { tiers: string[]; regions: string[] } {
  const tiers = new Set<string>();
  const regions = new Set<string>();
  for (const t of list) {
    tiers.add(t.tier);
    for (const r of t.regions) regions.add(r);
  }
  return { tiers: [...tiers].sort(), regions: [...regions].sort() };
}

export interface PageSlice<T> {
  items: T[];
  /** 0-based page actually shown (clamped). */
  page: number;
  pages: number;
  first: number;
  total: number;
}

/** One page of `size` rows; a page past the end shows the last one. */
export function pageOf<T>(list: readonly T[], page: number, size: number): PageSlice<T> {
  const pages = Math.max(1, Math.ceil(list.length / size));
  const p = Math.min(Math.max(0, Math.floor(page)), pages - 1);
  const first = p * size;
  return { items: list.slice(first, first + size), page: p, pages, first, total: list.length };
}

/** Counts by phase, recomputed from the summaries (when no server counts are at hand). */
export function countPhases(list: Iterable<TenantSummary>): FleetCounts {
  const c: FleetCounts = { active: 0, failing_over: 0, frozen: 0, off_preferred: 0, total: 0 };
  for (const t of list) {
    c[t.phase]++;
    if (t.off_preferred) c.off_preferred++;
    c.total++;
  }
  return c;
}

/** Applies a `tenants` event to the map of summaries by name; returns the names that changed. */
export function applyChanges(byName: Map<string, TenantSummary>, ev: Pick<TenantsChanged, 'tenants' | 'removed'>): string[] {
  const changed: string[] = [];
  for (const t of ev.tenants) {
    byName.set(t.name, t);
    changed.push(t.name);
  }
  for (const n of ev.removed) {
    if (byName.delete(n)) changed.push(n);
  }
  return changed;
}

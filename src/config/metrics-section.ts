/** The `metrics` section: how much per-tenant detail /metrics exposes (docs/metrics.md). */
import type { MetricsConfig, TenantConfig } from './types.js';
import * as D from './defaults.js';
import { type Fields, type Problems, duration, int, listOf, mapItems, oneOf, show, str, suggest } from './fields.js';

const DETAILS = ['auto', 'tenant', 'site', 'backend'] as const;
/** Long enough to hold a week of flips; Prometheus alerting looks back hours, not months. */
const MAX_RTO_WINDOW = 30 * 24 * 3600 * 1000;

export function readMetrics(f: Fields | undefined, out: Problems): MetricsConfig {
  const metrics: MetricsConfig = {
    detail: f?.get('detail', oneOf(DETAILS)) ?? D.DEFAULT_METRICS.detail,
    detail_auto_limit: f?.get('detail_auto_limit', int(0, 1_000_000)) ?? D.DEFAULT_METRICS.detail_auto_limit,
    full_detail: mapItems(f?.get('full_detail', listOf(str))) ?? [],
    rto_window: f?.get('rto_window', duration({ min: 60_000, timer: false })) ?? D.DEFAULT_METRICS.rto_window,
  };
  if (f && metrics.rto_window > MAX_RTO_WINDOW) out.error(f.path('rto_window'), `too long: at most 30d, got ${show(f.raw('rto_window'))}`);
  f?.end();
  return metrics;
}

/** Every name in metrics.full_detail must be a tenant of this config (a typo would silently give no detail). */
export function checkFullDetail(metrics: MetricsConfig, tenants: readonly TenantConfig[], out: Problems): void {
  const names = new Set(tenants.map((t) => t.name));
  metrics.full_detail.forEach((name, i) => {
    if (names.has(name)) return;
    const hint = suggest(name, names);
    out.error(`metrics.full_detail[${i}]`, `no tenant named ${show(name)}${hint === undefined ? '' : ` (did you mean ${show(hint)}?)`}`);
  });
}

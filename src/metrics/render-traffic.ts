/**
 * The per-tenant families counted in plain numbers (objectives, failovers, requests, retries,
 * held requests, health checks, ejections), and their fleet-wide folds for tenants at
 * `tenant` detail.
 */
import { labels, type TextWriter } from './exposition.js';
import type { Fleet, TenantMetrics } from './tenant.js';

const CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

export function renderObjectives(w: TextWriter, tenants: Iterable<TenantMetrics>): void {
  const list = [...tenants].filter((m) => m.tier);
  const tiers = new Map<string, { rto: number; rpo: number }>();
  for (const m of list) if (m.folded) tiers.set(m.tier!.name, m.tier!);
  for (const [name, key, help] of [
    ['drproxy_rto_seconds', 'rto', 'Recovery time objective of the tenant tier (at tenant detail: one series per tier, without tenant)'],
    ['drproxy_rpo_seconds', 'rpo', 'Recovery point objective of the tenant tier (at tenant detail: one series per tier, without tenant)'],
  ] as const) {
    w.family(name, 'gauge', help);
    for (const m of list) if (!m.folded) w.sample(name, `${m.lbl},${labels({ tier: m.tier!.name })}`, m.tier![key] / 1000);
    for (const [tier, o] of tiers) w.sample(name, labels({ tier }), o[key] / 1000);
  }
}

export function renderFlips(w: TextWriter, tenants: Iterable<TenantMetrics>, now: number, windowMs: number): void {
  const list = [...tenants];
  w.family('drproxy_failovers_total', 'counter', 'Failovers by trigger and result (routed, stayed or frozen)');
  for (const m of list) {
    for (const [k, n] of m.flips.counts) {
      const [trigger, result] = k.split('|') as [string, string];
      w.sample('drproxy_failovers_total', `${m.lbl},${labels({ trigger, result })}`, n);
    }
  }
  w.family('drproxy_failover_rto_ratio', 'gauge', 'Last routed failover duration divided by the tier RTO (1 = RTO used up)');
  for (const m of list) if (m.flips.last) w.sample('drproxy_failover_rto_ratio', `${m.lbl},${labels({ tier: m.flips.last.tier })}`, m.flips.last.ratio);
  w.family('drproxy_failover_rto_ratio_worst', 'gauge', 'Worst failover duration / tier RTO among routed failovers that ended within metrics.rto_window; 0 when none');
  for (const m of list) {
    const tier = m.tier?.name ?? m.flips.last?.tier;
    if (tier !== undefined) w.sample('drproxy_failover_rto_ratio_worst', `${m.lbl},${labels({ tier })}`, m.flips.worst(now, windowMs));
  }
  w.family('drproxy_drain_inflight', 'gauge', 'Requests in flight on a site when its drain started; site detail and above');
  for (const m of list) {
    if (m.folded) continue;
    for (const [site, n] of m.flips.drainInflight) w.sample('drproxy_drain_inflight', `${m.lbl},${labels({ site })}`, n);
  }
}

export function renderRequests(w: TextWriter, tenants: Iterable<TenantMetrics>, fleet: Fleet): void {
  const list = [...tenants];
  w.family('drproxy_requests_total', 'counter', 'Proxied requests by status class of the answer sent to the client');
  for (const m of list) {
    const by = m.traffic.byClass;
    // At tenant detail 1xx (only 101 upgrades) appears at its first event: the 15-series budget.
    for (let i = 0; i < 5; i++) if (i > 0 || by[0]! > 0 || !m.folded) w.sample('drproxy_requests_total', `${m.lbl},code="${CLASSES[i]}"`, by[i]!);
  }
  w.family('drproxy_upstream_retries_total', 'counter', 'Upstream attempts sent again after a failure, by failure kind (at tenant detail: fleet-wide, without tenant)');
  for (const m of list) {
    m.traffic.foldRetries(m.folded ? fleet.retries : m.traffic.retriesShown);
    if (!m.folded) for (const [kind, n] of m.traffic.retriesShown) w.sample('drproxy_upstream_retries_total', `${m.lbl},${labels({ kind })}`, n);
  }
  for (const [kind, n] of fleet.retries) w.sample('drproxy_upstream_retries_total', labels({ kind }), n);
  w.family('drproxy_requests_held', 'gauge', 'Requests held right now (tenant flipping, or waiting for a flip); at tenant detail: fleet-wide, without tenant');
  let held = 0;
  for (const m of list) {
    if (m.folded) held += m.traffic.held;
    else w.sample('drproxy_requests_held', m.lbl, m.traffic.held);
  }
  if (fleet.used) w.sample('drproxy_requests_held', '', held);
}

export function renderHealth(w: TextWriter, tenants: Iterable<TenantMetrics>, fleet: Fleet): void {
  const list = [...tenants];
  const name = 'drproxy_health_checks_total';
  w.family(name, 'counter', 'Active health check results by tenant site (ok, fail, inconclusive); at tenant detail: fleet-wide, without tenant and site');
  for (const m of list) {
    if (m.folded) continue;
    for (const [site, c] of m.traffic.checks) {
      const lbl = `${m.lbl},${labels({ site })}`;
      w.sample(name, `${lbl},result="ok"`, c.ok);
      w.sample(name, `${lbl},result="fail"`, c.fail);
      if (c.inconclusive > 0) w.sample(name, `${lbl},result="inconclusive"`, c.inconclusive);
    }
  }
  if (fleet.used) {
    w.sample(name, 'result="ok"', fleet.checks.ok);
    w.sample(name, 'result="fail"', fleet.checks.fail);
    if (fleet.checks.inconclusive > 0) w.sample(name, 'result="inconclusive"', fleet.checks.inconclusive);
  }
  w.family('drproxy_backend_ejections_total', 'counter', 'Backends ejected by passive health, by the failure that tripped it (connect, reset, timeout, status, slow, protocol); at tenant detail: fleet-wide, without tenant and site');
  for (const m of list) {
    if (m.folded) continue;
    for (const [k, n] of m.ejections) {
      const [site, kind] = k.split('\0') as [string, string];
      w.sample('drproxy_backend_ejections_total', `${m.lbl},${labels({ site, kind })}`, n);
    }
  }
  for (const [kind, n] of fleet.ejections) w.sample('drproxy_backend_ejections_total', labels({ kind }), n);
  w.family('drproxy_slow_unconfirmed_total', 'counter', 'Streaks of slow answers (passive_health.slow_after) that a probe did not confirm: nothing was ejected; at tenant detail: fleet-wide');
  for (const m of list) if (!m.folded) for (const [site, n] of m.slow) w.sample('drproxy_slow_unconfirmed_total', `${m.lbl},${labels({ site })}`, n);
  if (fleet.used) w.sample('drproxy_slow_unconfirmed_total', '', fleet.slow);
}

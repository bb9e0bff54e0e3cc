/**
 * config/grafana-dashboard.json may only query metrics that drproxy really exposes: every
 * metric name in every PromQL expression (panels, annotations, template variables) must be in
 * the design's list (with issue 17's fleet metrics) and on a running proxy's GET /metrics. It
 * is shareable (a ${DS_PROMETHEUS} input) and built for fleets: top-N tables, no per-backend
 * series. test/dashboard-prometheus.test.ts runs its queries against a real Prometheus.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startProxy, type TestProxy } from './helpers/proxy.js';

const DASHBOARD = JSON.parse(readFileSync(new URL('../config/grafana-dashboard.json', import.meta.url), 'utf8')) as Dashboard;
const DS = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos: { h: number; w: number; x: number; y: number };
}
interface Dashboard {
  __inputs: Array<{ name: string; type: string; pluginId: string }>;
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; definition?: string; datasource?: unknown }> };
  annotations?: { list: Array<{ expr?: string }> };
}

/** The design's metrics ("Metrics" in design.md) and issue 17's, by type. */
const DESIGN_METRICS: Record<string, 'histogram' | 'gauge' | 'counter'> = {
  drproxy_failover_duration_seconds: 'histogram',
  drproxy_failover_rto_ratio: 'gauge',
  drproxy_failover_rto_ratio_worst: 'gauge',
  drproxy_rto_seconds: 'gauge',
  drproxy_rpo_seconds: 'gauge',
  drproxy_failovers_total: 'counter',
  drproxy_active_site: 'gauge',
  drproxy_epoch: 'gauge',
  drproxy_requests_total: 'counter',
  drproxy_request_duration_seconds: 'histogram',
  drproxy_upstream_retries_total: 'counter',
  drproxy_requests_held: 'gauge',
  drproxy_site_data_age_seconds: 'gauge',
  drproxy_health_checks_total: 'counter',
  drproxy_backend_ejections_total: 'counter',
  drproxy_tenant_phase: 'gauge',
  drproxy_tenant_on_preferred_site: 'gauge',
  drproxy_tenant_sites_unavailable: 'gauge',
  drproxy_tenant_sites_stale: 'gauge',
  drproxy_tenant_sites_fenced: 'gauge',
  drproxy_tenant_backends_down: 'gauge',
  // Fleet level: no tenant label.
  drproxy_tenants: 'gauge',
  drproxy_build_info: 'gauge',
  drproxy_config_last_reload_successful: 'gauge',
  drproxy_config_last_reload_success_timestamp_seconds: 'gauge',
  drproxy_probes_inconclusive_total: 'counter',
  drproxy_state_commit_failures_total: 'counter',
  drproxy_audit_records_dropped_total: 'counter',
  drproxy_connections_open: 'gauge',
  drproxy_connections_limit: 'gauge',
  drproxy_connections_refused_total: 'counter',
  drproxy_admin_requests_total: 'counter',
};
/** Metrics without a tenant label (every other one is filtered by the tenant variable). */
const FLEET_METRICS = new Set(['drproxy_tenants', 'drproxy_build_info', 'drproxy_config_last_reload_successful', 'drproxy_config_last_reload_success_timestamp_seconds', 'drproxy_probes_inconclusive_total', 'drproxy_state_commit_failures_total', 'drproxy_audit_records_dropped_total', 'drproxy_connections_open', 'drproxy_connections_limit', 'drproxy_connections_refused_total', 'drproxy_admin_requests_total']);

/** Every PromQL string of the dashboard: panel targets, annotations, variable queries. */
function queries(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const x of node) queries(x, out);
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'expr' || k === 'query' || k === 'definition') && typeof v === 'string') out.push(v);
      else queries(v, out);
    }
  }
  return out;
}

/** Metric names used by a PromQL expression; histogram series names map to the histogram. */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/drproxy_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

function usedMetrics(): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const q of queries(DASHBOARD)) {
    for (const name of metricNames(q)) used.set(name, [...(used.get(name) ?? []), q]);
  }
  return used;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** `# TYPE name type` lines of a Prometheus text exposition. */
function exposedTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  return types;
}

function expectAllExposed(used: Map<string, string[]>, exposed: Map<string, string>): void {
  const missing = [...used.keys()].filter((n) => !exposed.has(n)).map((n) => `${n} (in ${used.get(n)![0]})`);
  expect(missing, 'metrics the dashboard queries but drproxy does not expose').toEqual([]);
  // _bucket/_sum/_count only make sense on histograms (and _sum/_count on summaries).
  for (const [name, exprs] of used) {
    if (exprs.some((e) => new RegExp(`${name}_bucket\\b`).test(e))) expect(exposed.get(name), `${name} is used as a histogram`).toBe('histogram');
  }
}

describe('Grafana dashboard (config/grafana-dashboard.json)', () => {
  it('is a shareable dashboard with a DS_PROMETHEUS input and variable, and tenant and top-N variables', () => {
    expect(DASHBOARD.schemaVersion).toBeGreaterThanOrEqual(38);
    expect(DASHBOARD.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(DASHBOARD.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const vars = new Map(DASHBOARD.templating.list.map((v) => [v.name, v]));
    // A datasource variable of the same name resolves ${DS_PROMETHEUS} when the file is provisioned rather than imported.
    expect(vars.get('DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const tenant = vars.get('tenant')!;
    expect(tenant.type).toBe('query');
    expect(queries(tenant)).toContain('label_values(drproxy_epoch, tenant)');
    expect(vars.get('topn')?.type).toBe('custom');

    const panels = allPanels(DASHBOARD.panels);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size, 'panel ids are unique').toBe(ids.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect(p.datasource, p.title).toEqual(DS);
      expect(p.targets?.length, `${p.title} has queries`).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.datasource, p.title).toEqual(DS);
        expect(t.expr, p.title).toMatch(/drproxy_/);
        // Every selector of a per-tenant metric honours the tenant variable.
        for (const m of t.expr!.matchAll(/(drproxy_[a-z_]+)(\{[^}]*\})?/g)) {
          const name = m[1]!.replace(/_(bucket|sum|count)$/, '');
          if (!FLEET_METRICS.has(name)) expect(m[2] ?? '', `${p.title}: ${m[0]}`).toContain('tenant=~"$tenant"');
        }
      }
      expect(p.gridPos.x + p.gridPos.w, `${p.title} fits the 24-column grid`).toBeLessThanOrEqual(24);
    }
  });

  it('has the fleet panels an on-call SRE needs, and no per-backend series', () => {
    const used = usedMetrics();
    // Every metric of the list is charted somewhere.
    expect([...used.keys()].sort()).toEqual(Object.keys(DESIGN_METRICS).sort());
    const titles = allPanels(DASHBOARD.panels).map((p) => p.title);
    for (const t of ['Frozen tenants', 'Not on preferred site', 'Fenced sites', 'Unavailable sites', 'Stale sites (data older than RPO)', 'Request rate', '5xx ratio', 'Held requests', 'Worst failover / RTO (window)', 'Failover duration by tier', 'Backend ejections', 'Admin actions in range', 'Drills in range', 'Client connections', 'Build and config']) {
      expect(titles, t).toContain(t);
    }
    const all = queries(DASHBOARD).join('\n');
    expect(all).toMatch(/increase\(drproxy_failovers_total/);
    expect(all).toMatch(/drproxy_failovers_total\{[^}]*trigger="drill"/);
    expect(all).toMatch(/histogram_quantile\(0\.99, sum by \(tier, le\) \([^\n]*drproxy_failover_duration_seconds_bucket/);
    // Fleet scale: no per-backend series (drproxy_backend_up exists only at backend detail), and
    // every table of tenants is a top N.
    expect(all).not.toMatch(/drproxy_backend_up|by \([^)]*backend[,)]/);
    for (const p of allPanels(DASHBOARD.panels).filter((x) => x.type === 'table')) {
      for (const t of p.targets!) if (/sum by \(tenant\)|max by \(tenant, tier\)/.test(t.expr!)) expect(t.expr, p.title).toMatch(/^topk\(\$topn, /);
    }
  });

  it('queries only metrics in the design list, with the right types', () => {
    const types = new Map(Object.entries(DESIGN_METRICS));
    expectAllExposed(usedMetrics(), types);
  });

  describe('against a running drproxy', () => {
    let p: TestProxy | undefined;
    afterAll(async () => {
      await p?.stop();
    });

    it('queries only metrics that GET /metrics exposes', async (ctx) => {
      p = await startProxy({
        tenants: {
          acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }, { name: 'b1', backends: ['http://127.0.0.1:10'] }] },
        },
      });
      const admin = (p.proxy as unknown as { admin?: { address(): AddressInfo | string | null } }).admin;
      if (!admin) {
        ctx.skip('this drproxy has no admin listener yet');
        return;
      }
      const addr = admin.address();
      expect(addr && typeof addr === 'object', 'admin listener address').toBe(true);
      const res = await request(`http://127.0.0.1:${(addr as AddressInfo).port}/metrics`);
      const text = await res.body.text();
      expect(res.statusCode, text).toBe(200);
      expect(String(res.headers['content-type'])).toMatch(/^text\/plain/);
      const exposed = exposedTypes(text);
      // The design's metrics all exist, with the design's types (all wrong ones listed at once)...
      const wrong = Object.entries(DESIGN_METRICS).filter(([name, type]) => exposed.get(name) !== type).map(([name, type]) => `${name}: ${exposed.get(name) ?? 'absent'}, not ${type}`);
      expect(wrong, 'metrics missing from GET /metrics or of another type').toEqual([]);
      // ...Node's default metrics too...
      expect(exposed.has('process_cpu_seconds_total') || exposed.has('process_cpu_user_seconds_total')).toBe(true);
      // ...and the dashboard queries nothing else.
      expectAllExposed(usedMetrics(), exposed);
    });
  });
});

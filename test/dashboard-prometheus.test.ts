/**
 * Every query of config/grafana-dashboard.json returns data from a real Prometheus (the Debian
 * package's /usr/bin/prometheus, on 127.0.0.1) scraping a drproxy under test every second after
 * a failover, and Prometheus loads config/prometheus/alerts.yml.
 *
 * The fleet under test: acme fails over (its primary is killed; a request finds it refused, so
 * the backend is ejected and the site fenced; on b1 a dead backend causes a retry), beta freezes (both sites killed: no_site), gamma
 * has a stale standby (replication lag above the RPO), delta is flipped by an operator through
 * the admin API. Grafana's variables are substituted as Grafana would for "All" tenants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, sitesHealthy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';
import { findTool, startPrometheus, type TestPrometheus } from './helpers/prometheus.js';

const DASHBOARD_FILE = fileURLToPath(new URL('../config/grafana-dashboard.json', import.meta.url));
const RULES_FILE = fileURLToPath(new URL('../config/prometheus/alerts.yml', import.meta.url));
const prometheus = findTool('prometheus');

/**
 * Panel titles whose queries may legitimately return nothing here, because the event they count
 * cannot be caused by this test. Keep it short; each entry says why.
 */
const MAY_BE_EMPTY = new Set<string>([
  // None today: with every counter initialised at 0 when a tenant is loaded, even "Drills in
  // range" (no drill command exists yet to cause one) has data.
]);

interface Query {
  where: string;
  expr: string;
}
interface Panel {
  title: string;
  targets?: Array<{ expr?: string; refId?: string }>;
  panels?: Panel[];
}

/** Every PromQL query of the dashboard, named by panel title (and refId), annotation or variable. */
function dashboardQueries(): Query[] {
  const d = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    panels: Panel[];
    annotations: { list: Array<{ name: string; expr?: string }> };
  };
  const out: Query[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `${p.title} [${t.refId}]`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  for (const a of d.annotations.list) if (a.expr) out.push({ where: `annotation ${a.name}`, expr: a.expr });
  return out;
}

/** Grafana's variables as Grafana fills them for "All" tenants over the test's time range. */
function substitute(expr: string, rangeSeconds: number): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', `${rangeSeconds}s`)
    .replaceAll('$tenant', '.*')
    .replaceAll('$topn', '10');
}

const health = (lag: number) => JSON.stringify({ replication: { lag_seconds: lag } });
const hit = async (p: TestProxy, host: string) => {
  const r = await request(`${p.url}/`, { headers: { host } });
  await r.body.dump();
  return r.statusCode;
};

describe.skipIf(!prometheus.path)(`Grafana dashboard against a real Prometheus${prometheus.skipReason ? ` (skipped: ${prometheus.skipReason})` : ''}`, () => {
  let ups: Upstream[] = [];
  let p: TestProxy | undefined;
  let prom: TestPrometheus | undefined;
  let startedAt = 0;

  beforeAll(async () => {
    startedAt = Date.now();
    ups = await Promise.all(['a1', 'a1', 'b1', 'b1', 'b1', 'b1', 'b1'].map((s) => startUpstream(s)));
    const [acmeA, betaA, betaB, shared, deltaB, stale, acmeB2] = ups as [Upstream, Upstream, Upstream, Upstream, Upstream, Upstream, Upstream];
    await Promise.all(ups.map((u) => u.setHealth(200, health(u === stale ? 3600 : 0))));
    const site = (name: string, u: Upstream) => ({ name, backends: [u.url] });
    p = await startProxy({
      admin: adminTokens(),
      defaults: { health_check: { ...FAST_CHECKS, data_age: { json_field: 'replication.lag_seconds' } }, failover: { min_interval: '0s' } },
      tenants: {
        // Slow probes: the failover comes from the request that finds a1 refused (an ejection).
        acme: { tier: 'BC', hosts: ['acme.example.com'], health_check: { interval: '30s', timeout: '1s' }, sites: [site('a1', acmeA), { name: 'b1', backends: [shared.url, acmeB2.url] }] },
        beta: { tier: 'BC', hosts: ['beta.example.com'], sites: [site('a1', betaA), site('b1', betaB)] },
        gamma: { tier: 'BC', hosts: ['gamma.example.com'], sites: [site('a1', shared), site('b1', stale)] },
        delta: { tier: 'DR1', hosts: ['delta.example.com'], sites: [site('a1', shared), site('b1', deltaB)] },
      },
    });
    const proxy = p;
    await Promise.all(['acme', 'beta', 'gamma', 'delta'].map((t) => sitesHealthy(proxy, t)));

    prom = await startPrometheus(prometheus.path!, [new URL(p.adminUrl).host], [RULES_FILE]);
    const pr = prom;
    await waitFor(async () => (await pr.api<{ result: unknown[] }>('query', { query: 'up{job="drproxy"} == 1 and on () count(drproxy_epoch) > 0' })).result.length > 0, {
      timeout: 15_000,
      interval: 200,
      what: 'Prometheus scraped drproxy',
    });

    for (const host of ['acme', 'beta', 'gamma', 'delta']) expect(await hit(proxy, `${host}.example.com`)).toBe(200);
    // acme: the primary dies, and one of b1's two backends; the next request is refused on a1
    // (an ejection) and lands on b1, where a request refused by the dead backend is retried.
    await Promise.all([acmeA.kill('SIGKILL'), acmeB2.kill('SIGKILL')]);
    for (let i = 0; i < 3; i++) expect(await hit(proxy, 'acme.example.com')).toBe(200);
    await waitFor(() => proxy.proxy.tenant('acme')?.state.active === 'b1' && proxy.proxy.tenant('acme')?.state.phase === 'active', { what: 'acme on b1' });
    // beta: both sites die; the tenant freezes (no_site) and answers 503.
    await Promise.all([betaA.kill('SIGKILL'), betaB.kill('SIGKILL')]);
    await waitFor(() => proxy.proxy.tenant('beta')?.state.phase === 'frozen', { what: 'beta frozen' });
    expect(await hit(proxy, 'beta.example.com')).toBe(503);
    // delta: an operator flip through the admin API.
    const r = await admin(proxy.adminUrl, 'POST', '/tenants/delta/failover', { token: OPERATOR, body: { to: 'b1', reason: 'dashboard test' } });
    expect(r.status, r.text).toBe(200);
    for (const host of ['acme', 'gamma', 'delta']) expect(await hit(proxy, `${host}.example.com`)).toBe(200);

    // Prometheus has scraped the state after every event, twice (so that rate() sees it).
    const after = Date.now() / 1000 + 2;
    await waitFor(
      async () => (await pr.api<{ result: unknown[] }>('query', { query: `timestamp(drproxy_epoch{tenant="delta"} > 1) > ${after}` })).result.length > 0,
      { timeout: 15_000, interval: 250, what: 'Prometheus scraped drproxy after the failovers' },
    );
  }, 90_000);

  afterAll(async () => {
    await prom?.stop();
    await p?.stop();
    await stopAll(...ups);
  }, 30_000);

  it('every panel query, annotation and variable returns data', async () => {
    const pr = prom!;
    const rangeSeconds = Math.ceil((Date.now() - startedAt) / 1000) + 60;
    const empty: string[] = [];
    const results = new Map<string, Array<{ metric: Record<string, string>; value: [number, string] }>>();
    for (const q of dashboardQueries()) {
      const query = substitute(q.expr, rangeSeconds);
      expect(query, `${q.where}: a Grafana variable left unsubstituted`).not.toMatch(/\$/);
      const data = await pr.api<{ resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('query', { query });
      results.set(q.where, data.result);
      // A result of NaNs only (histogram_quantile of no observations, 0/0) shows nothing either.
      const values = data.result.filter((r) => r.value[1] !== 'NaN');
      if (values.length === 0 && !MAY_BE_EMPTY.has(q.where.replace(/ \[[A-Z]\]$/, ''))) empty.push(`${q.where}: ${query}`);
    }
    // The tenant variable (label_values(drproxy_epoch, tenant)), as Grafana asks for it.
    const tenants = await pr.api<string[]>('label/tenant/values', { 'match[]': 'drproxy_epoch' });
    expect(tenants.sort()).toEqual(['acme', 'beta', 'delta', 'gamma']);
    expect(empty, `dashboard queries with no data (or only NaN) after a failover:\n  ${empty.join('\n  ')}\n`).toEqual([]);

    // The panels show the events this test caused, not just zeros.
    const rows = (where: string): Array<{ labels: Record<string, string>; value: number }> =>
      (results.get(where) ?? []).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
    expect(rows('Frozen tenants [A]')).toEqual([{ labels: { tenant: 'beta', cause: 'no_site' }, value: 1 }]);
    expect(rows('Not on preferred site [A]').map((r) => `${r.labels.tenant}@${r.labels.site}`).sort()).toEqual(['acme@b1', 'delta@b1']);
    expect(rows('Fenced sites [A]').map((r) => r.labels.tenant)).toContain('acme');
    expect(rows('Stale sites (data older than RPO) [A]').map((r) => r.labels.tenant)).toEqual(['gamma']);
    expect(rows('Failover duration by tier [A]').filter((r) => Number.isFinite(r.value)).map((r) => r.labels.tier).sort()).toEqual(['BC', 'DR1']);
    expect(rows('Admin actions in range [A]').find((r) => r.labels.action === 'failover')?.value, 'admin failover counted').toBeGreaterThanOrEqual(1);
  });

  it('Prometheus loaded every alert rule, and they evaluate without errors', async () => {
    const pr = prom!;
    const names = (parseRuleNames(readFileSync(RULES_FILE, 'utf8')));
    const rules = await waitFor(
      async () => {
        const data = await pr.api<{ groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> }>('rules', { type: 'alert' });
        const all = data.groups.flatMap((g) => g.rules);
        // Evaluated once at least (health leaves "unknown").
        return all.length === names.length && all.every((r) => r.health !== 'unknown') ? all : undefined;
      },
      { timeout: 10_000, interval: 250, what: 'alert rules loaded and evaluated' },
    );
    expect(rules.map((r) => r.name).sort()).toEqual([...names].sort());
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError}`)).toEqual([]);
  });

  it('the frozen tenant raises DrproxyTenantFrozen (pending for its 1m) with its cause', async () => {
    const pr = prom!;
    const alerts = await waitFor(
      async () => {
        const data = await pr.api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>('alerts');
        return data.alerts.find((a) => a.labels.alertname === 'DrproxyTenantFrozen' && a.labels.tenant === 'beta');
      },
      { timeout: 10_000, interval: 250, what: 'DrproxyTenantFrozen for beta' },
    );
    expect(alerts.labels).toMatchObject({ cause: 'no_site', severity: 'page', job: 'drproxy' });
  });
});

/** `- alert: Name` lines of the rules file. */
function parseRuleNames(text: string): string[] {
  return [...text.matchAll(/^\s*- alert: (\S+)$/gm)].map((m) => m[1]!);
}

/**
 * Turns the parsed YAML document into a normalized Config, reporting every problem at once.
 *
 * The walk never stops at the first problem: each reader records what is wrong (with the dotted
 * path of the value, e.g. `tenants.acme.sites[1].backends[0]`) and carries on with a default, so
 * one run lists everything an operator has to fix. `config` is only returned when no problem is
 * an error.
 *
 * Building blocks (fields.ts):
 * - `Parse<T>`: reads one value at a path, records problems, returns T or undefined;
 * - `Fields`: one YAML map; `get`/`req` read a key with a `Parse<T>`, `end()` reports the keys
 *   nobody read as unknown (with a "did you mean" suggestion);
 * - value parsers (values.ts) and section readers composed from those: the process-wide
 *   sections in sections.ts; defaults, tiers and tenants here.
 */
import type { BackendConfig, Config, ConfigProblem, DrillVerifyConfig, FailoverConfig, HealthCheckConfig, HookConfig, PassiveHealthConfig, ProxyConfig, SiteConfig, TenantConfig, TierConfig } from './types.js';
import { formatDuration } from './duration.js';
import { builtinTiers, findTier } from './tiers.js';
import * as D from './defaults.js';
import { Problems, join, show, expected, isMap, suggest, Parse, Item, Fields, compact, values, rejectDuplicates, str, text, bool, num, int, oneOf, duration, anyDuration, positiveDuration, listOf } from './fields.js';
import { readListeners, readTenantTls, checkTenantTls, checkProxyProtocol } from './listeners-section.js';
import { TENANT_NAME, TIER_NAME, siteName, backendName, hostHeader, checkPath, pathPrefix, hostPattern, httpUrl, headerMap, expectStatus, minHealthy, dataAge } from './values.js';
import { readAdmin, readState, readServer, readHeaders, readLog, checkPublicListen } from './sections.js';
import { readMetrics, checkFullDetail } from './metrics-section.js';
import { readAccessLog } from './access-log.js';
import { readDrills, readTenantDrill, checkDrillSchedules } from './drills-section.js';
import { readSafety } from './safety-section.js';
import { readNotify } from './notify-section.js';
import { readTenantSafetyLayer, mergeTenantSafety, checkTenantSafety, type TenantSafetyLayer } from './tenant-safety.js';
import { readEdgeLayer, mergeEdge, readSiteTls } from './edge-section.js';

export { TENANT_NAME } from './values.js';

export interface ValidateOptions {
  /** Directory that relative paths (state.dir, token_file) are resolved against. */
  baseDir: string;
}

export interface ValidateResult {
  /** Set only when there is no error (warnings allowed). */
  config?: Config;
  /** Every error and warning, in document order. */
  problems: ConfigProblem[];
}

/** Validates and normalizes a parsed config document. Never throws on bad input. */
export function validateConfig(raw: unknown, opts: ValidateOptions): ValidateResult {
  const out = new Problems();
  const config = readConfig(raw, opts.baseDir, out);
  if (config === undefined || out.hasErrors()) return { problems: out.list };
  return { config, problems: out.list };
}

/** A health check before `fast_interval` is resolved (it defaults to the final interval). */
type HealthDraft = Omit<HealthCheckConfig, 'fast_interval'> & { fast_interval?: number };

function readHealthLayer(f: Fields | undefined): Partial<HealthDraft> {
  if (f === undefined) return {};
  const status = f.get('expect_status', expectStatus);
  const layer = compact<HealthDraft>({
    path: f.get('path', checkPath),
    method: f.get('method', oneOf(['GET', 'HEAD'] as const)),
    interval: f.get('interval', positiveDuration),
    fast_interval: f.get('fast_interval', positiveDuration),
    timeout: f.get('timeout', positiveDuration),
    jitter: f.get('jitter', num(0, 0.5)),
    rise: f.get('rise', int(1, 100)),
    fall: f.get('fall', int(1, 100)),
    expect_status: status?.ranges,
    expect_status_text: status?.text,
    expect_body: f.get('expect_body', str),
    headers: f.get('headers', headerMap),
    host: f.get('host', hostHeader),
    data_age: f.get('data_age', dataAge),
  });
  f.end();
  return layer;
}

/**
 * Merges one layer over `base` (headers merge key by key) and checks the cross-field rules.
 * A rule is reported only where this layer wrote one of the fields involved, so a bad value
 * in `defaults` is reported once, at `defaults.health_check...`.
 */
function mergeHealth(base: HealthDraft, layer: Partial<HealthDraft>, at: string, out: Problems): HealthDraft {
  const hc: HealthDraft = { ...base, ...layer, headers: { ...base.headers, ...layer.headers } };
  const written = (...keys: Array<keyof HealthDraft>): string | undefined => {
    const key = keys.find((k) => k in layer);
    return key === undefined ? undefined : join(at, key);
  };
  const fast = hc.fast_interval ?? hc.interval;
  const fastAt = written('fast_interval', 'interval');
  if (fastAt !== undefined && fast > hc.interval) {
    out.error(fastAt, `fast_interval (${formatDuration(fast)}) must not be longer than interval (${formatDuration(hc.interval)})`);
  }
  const timeoutAt = written('timeout', 'interval');
  if (timeoutAt !== undefined && hc.timeout >= hc.interval) {
    out.warn(timeoutAt, `timeout (${formatDuration(hc.timeout)}) >= interval (${formatDuration(hc.interval)}): a hanging backend is checked less often than configured`);
  }
  const bodyAt = written('method', 'expect_body', 'data_age');
  if (bodyAt !== undefined && hc.method === 'HEAD' && (hc.expect_body !== undefined || hc.data_age !== undefined)) {
    out.error(bodyAt, 'a HEAD check gets no body: expect_body and data_age need method GET');
  }
  return hc;
}

function finishHealth(hc: HealthDraft): HealthCheckConfig {
  return { ...hc, fast_interval: hc.fast_interval ?? hc.interval, headers: { ...hc.headers } };
}

function readFailoverLayer(f: Fields | undefined): Partial<FailoverConfig> {
  if (f === undefined) return {};
  const layer = compact<FailoverConfig>({
    mode: f.get('mode', oneOf(['auto', 'manual'] as const)),
    failback: f.get('failback', oneOf(['manual', 'auto'] as const)),
    failback_after: f.get('failback_after', anyDuration),
    min_interval: f.get('min_interval', anyDuration),
    trip_after: f.get('trip_after', anyDuration),
    drain_timeout: f.get('drain_timeout', anyDuration),
    hold_requests: f.get('hold_requests', anyDuration),
    hold_max: f.get('hold_max', int(0)),
    hook_check_interval: f.get('hook_check_interval', anyDuration),
    unready_alert_after: f.get('unready_alert_after', anyDuration),
  });
  f.end();
  return layer;
}

function readProxyLayer(f: Fields | undefined): Partial<ProxyConfig> {
  if (f === undefined) return {};
  const retryOn = f.get('retry_on', listOf(int(500, 599)));
  const layer = compact<ProxyConfig>({
    balance: f.get('balance', oneOf(['round_robin', 'least_outstanding'] as const)),
    connect_timeout: f.get('connect_timeout', positiveDuration),
    response_timeout: f.get('response_timeout', positiveDuration),
    body_timeout: f.get('body_timeout', positiveDuration),
    max_connections: f.get('max_connections', int(1, 10_000)),
    keep_alive_timeout: f.get('keep_alive_timeout', positiveDuration),
    standby_connections: f.get('standby_connections', int(0, 10_000)),
    preserve_host: f.get('preserve_host', bool),
    retry_on: retryOn && [...new Set(values(retryOn))],
    max_retries: f.get('max_retries', int(0, 10)),
    retry_budget_percent: f.get('retry_budget_percent', num(0, 100)),
    retry_budget_min: f.get('retry_budget_min', int(0, 10_000)),
  });
  f.end();
  return layer;
}

function readPassiveLayer(f: Fields | undefined): Partial<PassiveHealthConfig> {
  if (f === undefined) return {};
  const statuses = f.get('statuses', listOf(int(500, 599)));
  const layer = compact<PassiveHealthConfig>({
    consecutive_failures: f.get('consecutive_failures', int(0, 1000)),
    consecutive_refused: f.get('consecutive_refused', int(0, 1000)),
    statuses: statuses && [...new Set(values(statuses))],
    base_ejection: f.get('base_ejection', positiveDuration),
    max_ejection: f.get('max_ejection', positiveDuration),
    max_ejected_percent: f.get('max_ejected_percent', num(0, 100)),
    slow_after: f.get('slow_after', anyDuration),
    slow_confirm: f.get('slow_confirm', bool),
    uneject_on_probe_success: f.get('uneject_on_probe_success', bool),
  });
  f.end();
  return layer;
}

interface Defaults {
  health: HealthDraft;
  failover: FailoverConfig;
  proxy: ProxyConfig;
  /** body_timeout was not set in `defaults`: a tenant's response_timeout sets it too. */
  bodyFollows: boolean;
  passive: PassiveHealthConfig;
  /** defaults.safety: per-flip rules every tenant gets unless it says otherwise. */
  safety: TenantSafetyLayer;
  /** defaults' redirect_https, https_port, hsts. */
  edge: ReturnType<typeof readEdgeLayer>;
}

/**
 * One proxy layer over its base. `body_timeout`, unless set, follows `response_timeout` (one
 * read timeout, as NGINX's proxy_read_timeout and HAProxy's timeout server): undici re-arms a
 * single timer when the two are equal, while two values cost a new timer per request that
 * lives until undici's once-a-second sweep (measured: 4× the bytes promoted per scavenge).
 */
function mergeProxy(base: ProxyConfig, layer: Partial<ProxyConfig>, bodyFollows: boolean): ProxyConfig {
  const proxy = { ...base, ...layer };
  if (bodyFollows && layer.body_timeout === undefined && layer.response_timeout !== undefined) proxy.body_timeout = layer.response_timeout;
  return proxy;
}

function readDefaults(f: Fields | undefined, out: Problems): Defaults {
  const health = mergeHealth({ ...D.DEFAULT_HEALTH_CHECK }, readHealthLayer(f?.sub('health_check')), 'defaults.health_check', out);
  const failover = { ...D.DEFAULT_FAILOVER, ...readFailoverLayer(f?.sub('failover')) };
  const proxyLayer = readProxyLayer(f?.sub('proxy'));
  const proxy = mergeProxy(D.DEFAULT_PROXY, proxyLayer, true);
  const passive = { ...D.DEFAULT_PASSIVE_HEALTH, ...readPassiveLayer(f?.sub('passive_health')) };
  const safety = { ...D.DEFAULT_TENANT_SAFETY, ...readTenantSafetyLayer(f?.sub('safety')) };
  const edge = readEdgeLayer(f);
  f?.end();
  return { health, failover, proxy, bodyFollows: proxyLayer.body_timeout === undefined, passive, safety, edge };
}

/** Built-in tiers with overrides applied, plus new tiers; keyed by canonical name. */
function readTiers(f: Fields | undefined, out: Problems): Record<string, TierConfig> {
  const tiers = builtinTiers();
  const spelled = new Map<string, string>();
  for (const [name, value, at] of f?.entries() ?? []) {
    const previous = spelled.get(name.toLowerCase());
    if (previous !== undefined) {
      out.error(at, `tier ${show(name)} is the same as ${show(previous)} (tier names are case-insensitive)`);
      continue;
    }
    spelled.set(name.toLowerCase(), name);
    if (!TIER_NAME.test(name)) out.error(at, `not a valid tier name: ${show(name)}`);
    const t = Fields.of(value, at, out);
    if (t === undefined) continue;
    const rpo = t.get('rpo', duration({ min: 1, timer: false }));
    const rto = t.get('rto', duration({ min: 1, timer: false }));
    const drillInterval = t.get('drill_interval', duration({ min: 60_000, timer: false }));
    const approval = t.get('approval', oneOf(APPROVAL_MODES)) === 'two_person' ? { approval: 'two_person' as const } : {};
    const given = { rpo: t.has('rpo'), rto: t.has('rto'), drill: t.has('drill_interval') || t.has('approval') };
    t.end();
    const builtin = findTier(tiers, name);
    if (builtin !== undefined) {
      if (!given.rpo && !given.rto && !given.drill) out.warn(at, 'overrides nothing: give rpo, rto, drill_interval and/or approval');
      tiers[builtin.name] = { name: builtin.name, rpo: rpo ?? builtin.rpo, rto: rto ?? builtin.rto, drill_interval: drillInterval ?? builtin.drill_interval, ...approval };
      continue;
    }
    for (const key of ['rpo', 'rto'] as const) {
      if (!given[key]) out.error(t.path(key), 'required for a new tier (only built-in tiers may be partly overridden)');
    }
    // A new tier is drilled at least once a year unless it says otherwise.
    if (rpo !== undefined && rto !== undefined) tiers[name] = { name, rpo, rto, drill_interval: drillInterval ?? 365 * 86_400_000, ...approval };
  }
  f?.end();
  return tiers;
}

const APPROVAL_MODES = ['two_person', 'none'] as const;

function tierRef(tiers: Record<string, TierConfig>): Parse<TierConfig> {
  return (value, at, out) => {
    const name = text(value, at, out);
    if (name === undefined) return undefined;
    const tier = findTier(tiers, name);
    if (tier !== undefined) return tier;
    const known = Object.keys(tiers);
    const hint = suggest(name, known);
    return out.error(at, `unknown tier ${show(name)}${hint === undefined ? '' : ` (did you mean ${show(hint)}?)`}; known tiers: ${known.join(', ')}`);
  };
}

// ---------------------------------------------------------------------------------------------
// Tenants, sites, backends

interface TenantContext {
  tiers: Record<string, TierConfig>;
  defaults: Defaults;
  drillVerify: DrillVerifyConfig;
  /** "host path" → tenant that claimed it first. */
  claims: Map<string, string>;
  /** Where relative file names (certificates, a site's tls files) are resolved: the config file's directory. */
  baseDir: string;
}

function readTenants(root: Fields, ctx: TenantContext, out: Problems): TenantConfig[] {
  const raw = root.raw('tenants');
  const noTenants = 'no tenants: at least one tenant is required';
  if (raw === undefined) return (out.error('tenants', noTenants), []);
  const f = Fields.of(raw, 'tenants', out);
  if (f === undefined) return [];
  const entries = f.entries();
  if (entries.length === 0) out.error('tenants', noTenants);
  const tenants: TenantConfig[] = [];
  for (const [name, value, at] of entries) {
    const tenant = readTenant(name, value, at, ctx, out);
    if (tenant !== undefined) tenants.push(tenant);
  }
  return tenants;
}

function readTenant(name: string, value: unknown, at: string, ctx: TenantContext, out: Problems): TenantConfig | undefined {
  if (!TENANT_NAME.test(name)) {
    out.error(at, `not a valid tenant name: ${show(name)} (1-63 lower-case letters, digits, "-" or "_"; it becomes a file name and a metric label)`);
  }
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  const tier = f.req('tier', tierRef(ctx.tiers));
  const hosts = rejectDuplicates(f.req('hosts', listOf(hostPattern, { nonEmpty: true })) ?? [], (h) => h, out, {
    what: 'host',
    severity: 'warning',
  });
  const pathItems = f.get('paths', listOf(pathPrefix, { nonEmpty: true }));
  const paths = pathItems === undefined ? [...D.DEFAULT_PATHS] : values(rejectDuplicates(pathItems, (p) => p, out, { what: 'path' }));
  claimRoutes(name, hosts, paths, ctx.claims, out);
  const health = mergeHealth(ctx.defaults.health, readHealthLayer(f.sub('health_check')), f.path('health_check'), out);
  const failover = { ...ctx.defaults.failover, ...readFailoverLayer(f.sub('failover')) };
  const proxy = mergeProxy(ctx.defaults.proxy, readProxyLayer(f.sub('proxy')), ctx.defaults.bodyFollows);
  const passive = { ...ctx.defaults.passive, ...readPassiveLayer(f.sub('passive_health')) };
  const sites = readSites(f, health, ctx.baseDir, out);
  const edge = mergeEdge(ctx.defaults.edge, readEdgeLayer(f));
  const drill = readTenantDrill(f.sub('drill'), ctx.drillVerify);
  // The tenant's own `approval` (none lifts its tier's), else its tier's (docs/approvals.md).
  const approval = f.get('approval', oneOf(APPROVAL_MODES)) ?? tier?.approval;
  const safetyLayer = readTenantSafetyLayer(f.sub('safety'));
  const tls = readTenantTls(f.sub('tls'), ctx.baseDir, out);
  const safety = mergeTenantSafety(ctx.defaults.safety, safetyLayer);
  checkTenantSafety(safety, sites, at, safetyLayer, out);
  if (failover.drain_timeout >= failover.hold_requests && failover.hold_requests > 0) {
    out.warn(f.path('failover'), `drain_timeout (${failover.drain_timeout}ms) is not below hold_requests (${failover.hold_requests}ms): requests held during a flip may time out before the old site has drained`);
  }
  if (passive.max_ejection < passive.base_ejection) {
    out.error(f.path('passive_health'), 'max_ejection must not be below base_ejection');
  }
  if (passive.slow_after !== 0 && passive.slow_after >= proxy.response_timeout) {
    out.error(f.path('passive_health'), `slow_after (${formatDuration(passive.slow_after)}) must be shorter than proxy.response_timeout (${formatDuration(proxy.response_timeout)}), or 0 (off): a request that slow has already timed out, and timeouts count as failures anyway`);
  }
  f.end();
  if (tier === undefined) return undefined;
  return {
    name,
    tier,
    hosts: values(hosts),
    paths,
    sites,
    failover,
    proxy: { ...proxy, retry_on: [...proxy.retry_on] },
    passive_health: { ...passive, statuses: [...passive.statuses] },
    drill,
    ...(approval === 'two_person' && { approval }),
    ...(safety && { safety }),
    edge,
    ...(tls && { tls }),
  };
}

/** Records which tenant serves each host + path; a second claim is an error on its host. */
function claimRoutes(tenant: string, hosts: ReadonlyArray<Item<string>>, paths: readonly string[], claims: Map<string, string>, out: Problems): void {
  for (const host of hosts) {
    const taken = new Map<string, string[]>();
    for (const p of paths) {
      const key = `${host.value} ${p}`;
      const owner = claims.get(key);
      if (owner === undefined) claims.set(key, tenant);
      else if (owner !== tenant) taken.set(owner, [...(taken.get(owner) ?? []), p]);
    }
    for (const [owner, ownedPaths] of taken) {
      const pathList = ownedPaths.map(show).join(', ');
      out.error(host.at, `host ${show(host.value)} with path ${pathList} is already claimed by tenant ${show(owner)}`);
    }
  }
}

function readSites(f: Fields, health: HealthDraft, baseDir: string, out: Problems): SiteConfig[] {
  const at = f.path('sites');
  const raw = f.raw('sites');
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) {
    return (out.error(at, 'no sites: a tenant needs at least one site'), []);
  }
  const sites = listOf(site(health, baseDir))(raw, at, out) ?? [];
  if (Array.isArray(raw) && raw.length === 1) out.warn(at, 'only one site: nothing to fail over to');
  return values(rejectDuplicates(sites, (s) => s.name, out, { what: 'site name', where: (item) => join(item.at, 'name') }));
}

function site(tenantHealth: HealthDraft, baseDir: string): Parse<SiteConfig> {
  return (value, at, out) => {
    const f = Fields.of(value, at, out);
    if (f === undefined) return undefined;
    const name = f.req('name', siteName);
    const region = f.get('region', text);
    const zone = f.get('zone', text);
    const backends = values(rejectDuplicates(f.req('backends', listOf(backend, { nonEmpty: true })) ?? [], (b) => b.name, out, { what: 'backend name' }));
    const written = f.raw('backends');
    const minHealthyValue = f.get('min_healthy', minHealthy) ?? { ...D.DEFAULT_MIN_HEALTHY };
    if (Array.isArray(written) && written.length > 0 && minHealthyValue.kind === 'count' && minHealthyValue.value > written.length) {
      out.error(f.path('min_healthy'), `min_healthy is ${minHealthyValue.value} but the site has only ${written.length} backend${written.length === 1 ? '' : 's'}`);
    }
    const health = mergeHealth(tenantHealth, readHealthLayer(f.sub('health_check')), f.path('health_check'), out);
    const fence = f.get('fence', hook());
    const promote = f.get('promote', hook());
    const tls = readSiteTls(f.sub('tls'), baseDir, backends, out);
    f.end();
    if (name === undefined) return undefined;
    return {
      name,
      ...(region !== undefined && { region }),
      ...(zone !== undefined && { zone }),
      backends,
      min_healthy: minHealthyValue,
      health_check: finishHealth(health),
      ...(fence !== undefined && { fence }),
      ...(promote !== undefined && { promote }),
      ...(tls !== undefined && { tls }),
    };
  };
}

/** A backend: a URL string, or { url, weight, name }. */
const backend: Parse<BackendConfig> = (value, at, out) => {
  if (typeof value === 'string') {
    const url = httpUrl('backend')(value, at, out);
    return url && toBackend(url, undefined, undefined);
  }
  if (!isMap(value)) return out.error(at, expected('a URL or a map with url, weight, name', value));
  const f = Fields.of(value, at, out)!;
  const url = f.req('url', httpUrl('backend'));
  const weight = f.get('weight', int(1, 100));
  const name = f.get('name', backendName);
  f.end();
  return url && toBackend(url, name, weight);
};

function toBackend(url: URL, name: string | undefined, weight: number | undefined): BackendConfig {
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return {
    name: name ?? `${url.hostname}:${port}`,
    url: `${url.protocol}//${url.host}`,
    origin: `${url.protocol}//${url.hostname}:${port}`,
    weight: weight ?? D.DEFAULT_BACKEND_WEIGHT,
  };
}

function hook(): Parse<HookConfig> {
  return (value, at, out) => {
    const f = Fields.of(value, at, out);
    if (f === undefined) return undefined;
    const url = f.req('url', httpUrl('hook'));
    const required = f.get('required', bool);
    const timeout = f.get('timeout', positiveDuration);
    const headers = f.get('headers', headerMap);
    f.end();
    if (url === undefined) return undefined;
    return {
      url: url.href,
      required: required ?? D.DEFAULT_FENCE_REQUIRED,
      timeout: timeout ?? D.DEFAULT_HOOK_TIMEOUT,
      headers: headers ?? {},
    };
  };
}

// ---------------------------------------------------------------------------------------------
// The document

function readConfig(raw: unknown, baseDir: string, out: Problems): Config | undefined {
  if (raw === undefined || raw === null) return out.error('', 'the config is empty: at least "tenants" is required');
  const f = Fields.of(raw, '', out);
  if (f === undefined) return undefined;
  // `listen` is one address or a list of listeners (listeners-section.ts); `listen` stays the first.
  const listeners = readListeners(f.raw('listen'), baseDir, out);
  const listen = listeners[0]!.address;
  const admin = readAdmin(f.sub('admin'), baseDir, out);
  for (const { address: l } of listeners) {
    if (admin.listen.port !== 0 && admin.listen.port === l.port && admin.listen.host === l.host) {
      out.error('admin.listen', `same address as listen (${l.host}:${l.port})`);
    }
    checkPublicListen(admin, l, out);
  }
  const state = readState(f.sub('state'), baseDir);
  const server = readServer(f.sub('server'), out);
  const headers = readHeaders(f.sub('headers'), out);
  const log = readLog(f.sub('log'));
  const metrics = readMetrics(f.sub('metrics'), out);
  const accessLog = readAccessLog(f.sub('access_log'), baseDir, out);
  const tiers = readTiers(f.sub('tiers'), out);
  const defaults = readDefaults(f.sub('defaults'), out);
  const drills = readDrills(f.sub('drills'), baseDir);
  const tenants = readTenants(f, { tiers, defaults, drillVerify: drills.verify, claims: new Map(), baseDir }, out);
  checkTenantTls(listeners, tenants, out);
  checkProxyProtocol(listeners, server.trusted_proxies, out);
  checkFullDetail(metrics, tenants, out);
  checkDrillSchedules(drills, tenants, tiers, out);
  const safety = readSafety(f.sub('safety'));
  const notify = readNotify(f.raw('notify'), baseDir, { tenants, tiers }, out);
  f.end();
  return { listen, listeners, admin, state, server, headers, log, access_log: accessLog, metrics, tiers, tenants, drills, safety, notify };
}

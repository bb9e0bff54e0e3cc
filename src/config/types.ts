/**
 * The normalized configuration: what the loader produces after parsing, defaulting and
 * validating the YAML file. Every duration is in milliseconds, every address is split into
 * host and port, every tenant carries its fully merged settings. Nothing downstream reads the
 * raw YAML.
 */

import type { DrillVerifyConfig, DrillsConfig } from './drill-types.js';
export type { DrillVerifyConfig, DrillGuardConfig, DrillWindow, DrillBlocked, DrillSchedule, DrillsConfig } from './drill-types.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export type Role = 'viewer' | 'operator';

export interface TokenSpec {
  name: string;
  role: Role;
  /** Exactly one of these is set in the file; the loader does not read the secret itself. */
  token_env?: string;
  token_file?: string;
}

export interface AdminConfig {
  listen: ListenAddress;
  /**
   * A second listener of the admin server that answers only GET /healthz, /readyz and /metrics
   * (e.g. 0.0.0.0:9902 for kubelet probes and Prometheus); absent = none (read at start-up).
   */
  public_listen?: ListenAddress;
  tokens: TokenSpec[];
  /** When true, GET /metrics needs a viewer token too. */
  metrics_auth: boolean;
  /** Audit records also go to this file (appended, written synchronously), when set. */
  audit_file?: string;
  /**
   * Host names (lower case; exact, "*.suffix" or "*") the admin API answers to, besides IP
   * literals, localhost and the host of `listen`: a DNS-rebinding page is refused (421).
   */
  allowed_hosts: string[];
  rate_limit: AdminRateLimitConfig;
  /** Admin client connections open at once; more are answered 503 and closed (read at start-up). */
  max_connections: number;
  /** Admin client connections open at once from one address; 0 = no per-address cap. */
  max_connections_per_client: number;
  /** Time to receive a request's headers; a connection silent that long after accept is closed. */
  headers_timeout: number;
  /** Two-person approval: a pending request not approved within this long expires (ms; the loader always sets it, default 15m). */
  approval_timeout?: number;
  /** GET /events (the console's Server-Sent Events) streams open at once; the loader always sets it (default 64). */
  max_event_streams?: number;
}

/** Per-client token buckets of the admin API; /healthz and /readyz are never limited. */
export interface AdminRateLimitConfig {
  /** Calls per second per client address (per token once authenticated). */
  rate: number;
  /** Calls allowed at once before `rate` applies (bucket size). */
  burst: number;
  /** GET /metrics, per client address: a budget of its own. */
  metrics_rate: number;
  metrics_burst: number;
  /** Client addresses tracked (buckets, refused-call tallies); past it, new ones share one. */
  max_clients: number;
  /** Refused calls of one address are summed into one log/audit line per this window (ms). */
  refused_log_interval: number;
}

export interface EtcdConfig {
  endpoints: string[];
  prefix: string;
  /** Lease TTL in ms (a whole number of seconds, at least 2s). */
  lease_ttl: number;
  /** Replicas that must see a site unavailable before a failover: a count, or a majority of the live ones. */
  quorum: number | 'majority';
  /** A replica cut off from etcd: stop serving after its lease TTL, or keep its last route. */
  coordinator_loss: 'fail_closed' | 'fail_static';
  /** Time allowed to connect to an endpoint, ms. */
  dial_timeout: number;
  /** Deadline of every etcd request, ms (at most lease_ttl / 3; default 1s or lease_ttl / 3). */
  request_timeout: number;
  /** This replica's name in the cluster (its keys, votes and acknowledgements); default the host name. */
  replica_id: string;
}

export interface StateConfig {
  /** Embedded mode: directory of the file store. */
  dir: string;
  /** Clustered mode, when present. */
  etcd?: EtcdConfig;
}

/** Node HTTP server limits of the data-plane listener. */
export interface ServerConfig {
  /** Time allowed to receive the complete request headers (server.headersTimeout). */
  headers_timeout: number;
  /** Time allowed to receive the complete request (server.requestTimeout); 0 disables. */
  request_timeout: number;
  /** Idle time of a client keep-alive connection between requests (server.keepAliveTimeout). */
  keep_alive_timeout: number;
  /** Maximum size of request headers in bytes (maxHeaderSize). */
  max_header_size: number;
  /** Requests served on one client connection before it is closed; 0 = unlimited. */
  max_requests_per_socket: number;
  /** Time given to in-flight requests on SIGTERM before sockets are cut. */
  shutdown_timeout: number;
  /** Request header fields allowed at most (Host included); more get 431. */
  max_headers: number;
  /**
   * Pass header names with underscores upstream (NGINX's underscores_in_headers). Off: they are
   * dropped (CGI, WSGI and PHP map "X_DR_Epoch" and "X-DR-Epoch" onto one variable). Even on,
   * underscore spellings of the epoch/site and forwarding headers are always dropped.
   */
  underscores_in_headers: boolean;
  /**
   * Peers (IP addresses or CIDR blocks) whose X-Forwarded-For/-Proto/-Host and Forwarded
   * headers are believed; from any other peer they are replaced. Empty: nobody is trusted.
   */
  trusted_proxies: readonly string[];
  /** Client connections open at once on the data plane; more are answered 503 and closed. */
  max_connections: number;
  /** Client connections open at once from one client address; 0 = no per-address cap. */
  max_connections_per_client: number;
  /** File descriptors kept out of the data plane's reach (admin, probes, state, logs). */
  fd_reserve: number;
  /** HTTP/2 client connections (TLS listeners with http2, plain ones with h2c); docs/tls.md. */
  http2: Http2Config;
  /**
   * Data-plane worker threads (issue 23, docs/design.md "Every core: threads"): 0 = none (the
   * single loop), N = N workers and the main thread is the control plane only, auto (the
   * default) = the available cores but one, up to 8 (0 on one core). Restart-only.
   */
  workers: number | 'auto';
}

/** `server.http2`: the limits of one HTTP/2 client connection. */
export interface Http2Config {
  /** Streams open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  max_concurrent_streams: number;
  /**
   * Rapid-reset defence (CVE-2023-44487): a connection whose client cancels more than
   * `max_resets` streams before their answer within `reset_window` (ms) is sent GOAWAY
   * (ENHANCE_YOUR_CALM) and closed.
   */
  max_resets: number;
  reset_window: number;
}

export interface HeaderNames {
  /** Lower-case header carrying the tenant's epoch to upstreams. */
  epoch: string;
  /** Lower-case header carrying the tenant's active site to upstreams. */
  site: string;
}

/** Inclusive HTTP status ranges, e.g. "200-399,404" → [[200,399],[404,404]]. */
export type StatusRanges = ReadonlyArray<readonly [number, number]>;

export interface DataAgeConfig {
  /** Dotted path of a JSON field in the health response body, e.g. "replication.lag_seconds". */
  json_field: string;
  /** `seconds`: the field holds the age in seconds; `timestamp`: an ISO date or epoch seconds/ms. */
  kind: 'seconds' | 'timestamp';
}

export interface HealthCheckConfig {
  path: string;
  method: 'GET' | 'HEAD';
  interval: number;
  /** Interval used while a backend is between states (some, not yet enough, rise/fall results). */
  fast_interval: number;
  timeout: number;
  /** Fraction of the interval by which each wait is randomly shortened, never lengthened (0..0.5). */
  jitter: number;
  rise: number;
  fall: number;
  expect_status: StatusRanges;
  /** The text form of expect_status, for display. */
  expect_status_text: string;
  /** Substring the response body must contain, when set. */
  expect_body?: string;
  /** Extra request headers sent with every check. */
  headers: Record<string, string>;
  /** Host header to send; defaults to the backend's host:port. */
  host?: string;
  /** Optional RPO gate: where the site's data age is read from. */
  data_age?: DataAgeConfig;
}

export type FailoverMode = 'auto' | 'manual';
export type FailbackMode = 'manual' | 'auto';

export interface FailoverConfig {
  mode: FailoverMode;
  failback: FailbackMode;
  /** Hold-down: the preferred site must be healthy this long before an automatic failback. */
  failback_after: number;
  /** Minimum time from the last flip to an automatic failback (stops ping-pong; failovers from a dead site never wait). */
  min_interval: number;
  /** How long the active site must stay unavailable before the tenant flips (0: at once). */
  trip_after: number;
  /** In-flight requests on the old site get this long to finish during a flip. */
  drain_timeout: number;
  /** How long a new request may be held while its tenant flips or has no available site. */
  hold_requests: number;
  /** How many requests may be held at once for one tenant; past that they get 503. */
  hold_max: number;
  /** How often the sites' fence and promote hooks get a `check` call (standby readiness); 0 = never. */
  hook_check_interval: number;
  /** A standby site unready (or ready again) this long is told as site_unready (resolved); 0 = never. */
  unready_alert_after: number;
}

export type BalanceAlgorithm = 'round_robin' | 'least_outstanding';

export interface ProxyConfig {
  balance: BalanceAlgorithm;
  /** TCP connect timeout to a backend. */
  connect_timeout: number;
  /** Time from the request being sent to the response headers arriving. */
  response_timeout: number;
  /** Idle time allowed between two chunks of a response body. */
  body_timeout: number;
  /** Keep-alive connections kept per backend at most. */
  max_connections: number;
  /** Idle time of an upstream keep-alive connection before it is closed. */
  keep_alive_timeout: number;
  /**
   * Idle connections kept open to each backend of the site this tenant would fail over to, so
   * that the first requests after a flip do not wait for connects (0 = off; at most
   * max_connections are used).
   */
  standby_connections: number;
  /** Send the client's Host header upstream (true) or the backend's host:port (false). */
  preserve_host: boolean;
  /** Upstream statuses that count as a retryable failure for idempotent requests. */
  retry_on: number[];
  /** Retries per request at most (not counting the first attempt). */
  max_retries: number;
  /** Retries in flight may be at most this percentage of the tenant's requests in flight... */
  retry_budget_percent: number;
  /** ...but this many concurrent retries are always allowed. */
  retry_budget_min: number;
}

/**
 * Passive health (outlier ejection): failures seen on real traffic take a backend out of
 * rotation for a back-off that doubles with each ejection.
 */
export interface PassiveHealthConfig {
  /** Consecutive failures (connect errors, resets, `statuses`) that eject a backend; 0 = off. */
  consecutive_failures: number;
  /**
   * Connections refused (ECONNREFUSED: nothing listens on the backend's port) without a success
   * between that eject a backend, sooner than consecutive_failures; refusals count toward both. 0 = refusals
   * count only toward consecutive_failures. Passive health off (consecutive_failures 0) turns
   * this off too.
   */
  consecutive_refused: number;
  /** Upstream statuses that count as failures. */
  statuses: number[];
  /** First ejection time; each further ejection doubles it... */
  base_ejection: number;
  /** ...up to this. */
  max_ejection: number;
  /** At most this percentage of a site's backends ejected at once (at least one may always be). */
  max_ejected_percent: number;
  /**
   * A request still without response headers this long after it was written to its
   * connection, body included (queued for a connection or uploading is not waiting on the
   * backend), counts as one failure (kind `slow`), while it goes on waiting up to
   * response_timeout: a hung backend is seen from its real traffic instead of only by probes.
   * 0 = off (the default).
   */
  slow_after: number;
  /**
   * Slow answers eject a backend only once a health probe sent at that moment fails too
   * (true, the default): a long poll or a slow report is slow, but its backend still answers
   * its probe, so it ejects nothing. false: the slow answers eject on their own, a probe
   * timeout sooner.
   */
  slow_confirm: boolean;
  /**
   * An ejected backend whose active health check is `up` and passes a probe sent after its
   * ejection is let back at once, not after its back-off (true, the default, as Envoy's
   * successful_active_health_check_uneject_host). The ejection count that doubles the back-off
   * is kept. false: an ejection always lasts its whole back-off.
   */
  uneject_on_probe_success: boolean;
}

export interface HookConfig {
  url: string;
  /**
   * Fence: promotion waits for this hook to succeed, or the old site to be confirmed down.
   * Promote: the new site gets no traffic unless this hook succeeds. Either failing freezes the tenant.
   */
  required: boolean;
  timeout: number;
  headers: Record<string, string>;
}

export interface BackendConfig {
  /** Name used by the admin API and metrics; defaults to host:port of the URL. */
  name: string;
  url: string;
  /** scheme://host:port, the key of the upstream connection pool. */
  origin: string;
  weight: number;
}

export interface MinHealthy {
  /** `count`: value is a number of backends; `fraction`: value is in (0, 1]. */
  kind: 'count' | 'fraction';
  value: number;
}

export interface SiteConfig {
  name: string;
  region?: string;
  zone?: string;
  backends: BackendConfig[];
  min_healthy: MinHealthy;
  health_check: HealthCheckConfig;
  fence?: HookConfig;
  promote?: HookConfig;
  /** Client TLS to the site's https backends (mTLS): PEM contents read at load (config/edge-section.ts). */
  tls?: SiteTlsConfig;
}

/** A site's `tls`: PEM text (not file names), so that a changed file is a changed config. */
export interface SiteTlsConfig {
  ca?: string;
  cert?: string;
  key?: string;
  /** The TLS name to check (and send as SNI) instead of each backend's host. */
  servername?: string;
}

/** HSTS of a tenant (RFC 6797); max_age in seconds. */
export interface HstsConfig {
  max_age: number;
  include_subdomains: boolean;
  preload: boolean;
}

/** How a tenant's traffic meets TLS at the edge (docs/tls.md#redirect-to-https-and-hsts). */
export interface TenantEdgeConfig {
  /** Requests over plain HTTP get a 308 to https:// (ACME HTTP-01 challenges excepted). */
  redirect_https: boolean;
  /** The port of the redirect's Location (443: none written). */
  https_port: number;
  /** Strict-Transport-Security on answers over TLS; absent: none. */
  hsts?: HstsConfig;
}

export interface TierConfig {
  name: string;
  /** Recovery point objective, ms. */
  rpo: number;
  /** Recovery time objective, ms. */
  rto: number;
  /** A tenant of this tier needs a successful drill at least this often, ms (drproxy_drill_overdue). */
  drill_interval: number;
  /** `two_person`: forced actions on this tier's tenants need a second operator (docs/approvals.md). */
  approval?: 'two_person';
}

export interface TenantConfig {
  name: string;
  tier: TierConfig;
  /** Lower-case exact hosts and wildcard patterns ("*.example.com"). */
  hosts: string[];
  /** Path prefixes, each starting with "/". */
  paths: string[];
  /** Preference order: the first is the primary. */
  sites: SiteConfig[];
  failover: FailoverConfig;
  proxy: ProxyConfig;
  passive_health: PassiveHealthConfig;
  /** How a drill of this tenant checks that traffic reached the target (drills.verify, overridden by the tenant's `drill`). */
  drill: DrillVerifyConfig;
  /** `two_person` (the tenant's own `approval`, else its tier's): forced actions need a second operator. */
  approval?: 'two_person';
  /** Per-flip rules (defaults.safety, then the tenant's `safety`; src/failover/flip-rules.ts); absent: none. */
  safety?: TenantSafetyConfig;
  /** redirect_https, https_port, hsts (defaults, then the tenant's own). */
  edge: TenantEdgeConfig;
  /** The certificate served for this tenant's hosts on TLS listeners (docs/tls.md). */
  tls?: import('./tls-types.js').TenantTlsConfig;
}

/** A tenant's per-flip rules (docs/safety.md); each absent field is no rule. */
export interface TenantSafetyConfig {
  /** No flip or fence may leave fewer sites able to take traffic (available, not fenced) when it lowers that count. */
  min_available_sites?: number;
  /** The target of a flip must be in another region (or zone) than the site being left. */
  failure_domain?: 'region' | 'zone';
}


export interface LogConfig {
  level: string;
  /** json: one JSON object a line (for log pipelines); pretty: short lines for a terminal. */
  format: 'json' | 'pretty';
}

/** The access log (src/proxy/access-log.ts): one JSON line per request, as HAProxy's httplog. */
export interface AccessLogConfig {
  /** off: nothing (and no work per request); sampled: about `sample_rate` of requests; all. */
  mode: 'off' | 'sampled' | 'all';
  /** Share of requests logged in sampled mode, more than 0 and at most 1. */
  sample_rate: number;
  /** "stdout" (shared with the main log), or an absolute file path (appended to). */
  destination: string;
  /** Log the query string with the path (off: it can carry tokens or personal data). */
  include_query: boolean;
  /** Bytes waiting to be written at most; past it (a slow or full disk) lines are dropped and counted. */
  max_buffer: number;
}

export interface Config {
  /** Absolute path of the file this was loaded from, when loaded from a file. */
  source?: string;
  listen: ListenAddress;
  /** Every data-plane listener (`listen` as a list); the first is `listen`. */
  listeners: import('./tls-types.js').ListenerConfig[];
  admin: AdminConfig;
  state: StateConfig;
  server: ServerConfig;
  headers: HeaderNames;
  log: LogConfig;
  access_log: AccessLogConfig;
  metrics: MetricsConfig;
  tiers: Record<string, TierConfig>;
  tenants: TenantConfig[];
  drills: DrillsConfig;
  /** Safety rules of automatic flips (docs/safety.md). */
  safety: SafetyConfig;
  /** Notification sinks (docs/notifications.md); empty: nobody is told. */
  notify: NotifySinkConfig[];
}

/** One `notify:` sink. Its URL and secrets are named (env or file), never written in the config. */
export interface NotifySinkConfig {
  name: string;
  kind: 'webhook' | 'slack' | 'pagerduty';
  /** Event kinds it wants (all by default). */
  events: import('../notify/events.js').NotifyEventKind[];
  /** Only events of these tenants / tiers (empty: any; fleet-wide events always pass). */
  tenants: string[];
  tiers: string[];
  url_env?: string;
  url_file?: string;
  /** webhook: the HMAC-SHA256 key of the X-DRProxy-Signature header. */
  secret_env?: string;
  secret_file?: string;
  /** pagerduty: the integration's routing key. */
  routing_key_env?: string;
  routing_key_file?: string;
  /** Events waiting at most; past it, new ones are dropped and counted. */
  queue: number;
  /** Delivery attempts at most before giving up (with an alert). */
  retries: number;
  /** Events within this window (ms) go out as one message; 0: each batch at once. */
  coalesce: number;
  /** First retry delay (ms), doubled each attempt, with jitter. */
  retry_base: number;
  /** One attempt's time limit, ms. */
  timeout: number;
}

/** safety: (src/config/safety-section.ts). */
export interface SafetyConfig {
  /** The fleet breaker; absent: none. */
  max_auto_failovers?: import('../safety/breaker.js').BreakerRule;
}

/** How much per-tenant detail /metrics exposes (docs/metrics.md). */
export interface MetricsConfig {
  /** auto: backend up to detail_auto_limit tenants, tenant above. */
  detail: 'auto' | 'tenant' | 'site' | 'backend';
  detail_auto_limit: number;
  /** Tenants that get backend detail whatever `detail` says. */
  full_detail: string[];
  /** drproxy_failover_rto_ratio_worst looks back this far (ms). */
  rto_window: number;
}

/** One problem found in a config file, with the dotted path of the offending value. */
export interface ConfigProblem {
  path: string;
  message: string;
  severity: 'error' | 'warning';
  /** A stable code, for the problems callers match on (DRP_CONFIG_UNSUPPORTED). */
  code?: import('../errors.js').ErrorCode;
}

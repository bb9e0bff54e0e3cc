/**
 * Every default value of the config file, in one place. Durations are in milliseconds.
 * config/drproxy.example.yaml documents the same values; keep the two in step.
 */
import type {
  AccessLogConfig,
  AdminConfig,
  AdminRateLimitConfig,
  EtcdConfig,
  FailoverConfig,
  HealthCheckConfig,
  HeaderNames,
  ListenAddress,
  MinHealthy,
  ProxyConfig,
  PassiveHealthConfig,
  ServerConfig,
  Http2Config,
} from './types.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;

/** Data-plane listener. */
export const DEFAULT_LISTEN: Readonly<ListenAddress> = Object.freeze({ host: '0.0.0.0', port: 8080 });
/** TLS listeners (docs/tls.md): TLS 1.2 and 1.3 only. */
export const DEFAULT_TLS_MIN_VERSION = 'TLSv1.2';
/** Mozilla's "intermediate" profile (v5.7): the TLS 1.3 suites, then the TLS 1.2 ones (Node disables TLS 1.3 when none is listed). */
export const DEFAULT_TLS_CIPHERS =
  'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:' +
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:' +
  'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305';
/** Session ticket keys are replaced every 12 hours (a stolen key decrypts at most that much). */
export const DEFAULT_TLS_TICKET_ROTATION = 12 * 60 * MINUTE;
/** TLS listeners offer HTTP/2 by ALPN unless `http2: false` (docs/tls.md). */
export const DEFAULT_LISTENER_HTTP2 = true;

/** Admin API listener: loopback only unless configured otherwise. */
export const DEFAULT_ADMIN_LISTEN: Readonly<ListenAddress> = Object.freeze({ host: '127.0.0.1', port: 9901 });
export const DEFAULT_METRICS_AUTH = false;
/** admin.public_listen (probes and /metrics only): absent, no such listener unless configured. */
export const DEFAULT_ADMIN_PUBLIC_LISTEN: Readonly<ListenAddress> | undefined = undefined;
/** Admin API rate limits: ample for operators, Kubernetes and Prometheus, cheap to refuse past. */
export const DEFAULT_ADMIN_RATE_LIMIT: Readonly<AdminRateLimitConfig> = Object.freeze({
  rate: 20,
  burst: 100,
  metrics_rate: 5,
  metrics_burst: 20,
  max_clients: 1024,
  refused_log_interval: 10 * 1_000,
});

/**
 * Admin listener connection caps: Prometheus, kubelet probes and an operator's CLI need a few
 * each; the caps keep one client (or a flood) from holding the descriptors of the reserve.
 */
export const DEFAULT_ADMIN_CONNECTIONS: Readonly<AdminConnectionLimits> = Object.freeze({ max_connections: 256, max_connections_per_client: 64, headers_timeout: 10 * 1_000 });
/** The admin listener's whole-request timeout; admin.headers_timeout may not exceed it. */
export const ADMIN_REQUEST_TIMEOUT = 30 * 1_000;

/** admin.max_event_streams: GET /events streams open at once (each is also an admin connection). */
export const DEFAULT_ADMIN_MAX_EVENT_STREAMS = 64;

/** admin.approval_timeout: a two-person approval request expires after this long. */
export const DEFAULT_APPROVAL_TIMEOUT = 15 * 60 * 1_000;

export type AdminConnectionLimits = Pick<AdminConfig, 'max_connections' | 'max_connections_per_client' | 'headers_timeout'>;

/** Embedded state directory, relative to the config file's directory. */
export const DEFAULT_STATE_DIR = './var/drproxy';

export const DEFAULT_ETCD: Readonly<Omit<EtcdConfig, 'endpoints' | 'replica_id'>> = Object.freeze({
  prefix: '/drproxy',
  lease_ttl: 5 * SECOND,
  quorum: 'majority',
  coordinator_loss: 'fail_closed',
  dial_timeout: 2 * SECOND,
  request_timeout: 1 * SECOND,
});

/**
 * HTTP/2 client connections: 100 streams at once (Envoy's and HAProxy's order; NGINX 128); a
 * client that cancels more than 200 unanswered streams in 10 s is closed. Browsers cancel a few
 * streams on navigation; the rapid-reset attack (CVE-2023-44487) cancels thousands a second.
 */
export const DEFAULT_HTTP2: Readonly<Http2Config> = Object.freeze({
  max_concurrent_streams: 100,
  max_resets: 200,
  reset_window: 10 * SECOND,
});

export const DEFAULT_SERVER: Readonly<ServerConfig> = Object.freeze({
  headers_timeout: 10 * SECOND,
  request_timeout: 60 * SECOND,
  keep_alive_timeout: 5 * SECOND,
  max_header_size: 16_384,
  max_requests_per_socket: 0,
  shutdown_timeout: 30 * SECOND,
  // Apache's LimitRequestFields (100) and HAProxy's tune.http.maxhdr (101): browsers send ~10-30.
  max_headers: 100,
  underscores_in_headers: false,
  trusted_proxies: Object.freeze([]),
  // The same order as HAProxy's maxconn and NGINX's worker_connections × workers on a small
  // host; lowered at start-up to what RLIMIT_NOFILE allows after fd_reserve (fd-limit.ts).
  max_connections: 10_000,
  // Off, as in NGINX (limit_conn) and HAProxy (src_conn_cur): behind a load balancer or CDN a
  // few addresses carry every client (the project's own load tests use 1,024 connections from
  // one address). Where clients connect directly, set it (e.g. 100-1,000) so that one host
  // cannot take the whole listener.
  max_connections_per_client: 0,
  // Admin listener and its clients, health-probe sockets (one per backend), state and audit
  // writes, logs, Node's own descriptors: enough for a few hundred backends.
  fd_reserve: 256,
  http2: DEFAULT_HTTP2,
  // A worker a core but one, up to 8; one core: the single loop (worker-count.ts).
  workers: 'auto',
});

export const DEFAULT_HEADERS: Readonly<HeaderNames> = Object.freeze({ epoch: 'x-dr-epoch', site: 'x-dr-site' });

export const DEFAULT_LOG_LEVEL = 'info';
export const DEFAULT_LOG_FORMAT = 'json';

export const DEFAULT_ACCESS_LOG: AccessLogConfig = {
  mode: 'off',
  sample_rate: 0.01,
  destination: 'stdout',
  include_query: false,
  max_buffer: 4 * 1024 * 1024,
};

/** metrics: full detail for a small fleet, ≤ 16 series per tenant above 100 tenants (docs/metrics.md). */
export const DEFAULT_METRICS = Object.freeze({ detail: 'auto' as const, detail_auto_limit: 100, rto_window: 24 * 60 * MINUTE });

/** Health check defaults; `fast_interval` defaults to the effective `interval`. */
export const DEFAULT_HEALTH_CHECK: Readonly<Omit<HealthCheckConfig, 'fast_interval'>> = Object.freeze({
  path: '/healthz',
  method: 'GET',
  interval: 1 * SECOND,
  timeout: 500,
  jitter: 0.1,
  rise: 2,
  fall: 3,
  expect_status: Object.freeze([Object.freeze([200, 399] as const)]),
  expect_status_text: '200-399',
  headers: Object.freeze({}),
});

export const DEFAULT_DATA_AGE_KIND = 'seconds';

export const DEFAULT_FAILOVER: Readonly<FailoverConfig> = Object.freeze({
  mode: 'auto',
  failback: 'manual',
  failback_after: 5 * MINUTE,
  min_interval: 60 * SECOND,
  trip_after: 0,
  // Held requests wait while the old site drains: keep drain_timeout below hold_requests.
  drain_timeout: 5 * SECOND,
  hold_requests: 10 * SECOND,
  hold_max: 1000,
  hook_check_interval: 30 * SECOND,
  unready_alert_after: 30 * SECOND,
});

export const DEFAULT_PROXY: Readonly<ProxyConfig> = Object.freeze({
  balance: 'round_robin',
  connect_timeout: 2 * SECOND,
  response_timeout: 30 * SECOND,
  /** Follows response_timeout unless set (see mergeProxy in validate.ts). */
  body_timeout: 30 * SECOND,
  max_connections: 128,
  keep_alive_timeout: 4 * SECOND,
  standby_connections: 0,
  preserve_host: true,
  retry_on: [],
  max_retries: 2,
  retry_budget_percent: 20,
  retry_budget_min: 10,
});

export const DEFAULT_PASSIVE_HEALTH: Readonly<PassiveHealthConfig> = Object.freeze({
  consecutive_failures: 3,
  consecutive_refused: 1,
  statuses: Object.freeze([502, 503, 504]) as unknown as number[],
  base_ejection: 5 * SECOND,
  max_ejection: 5 * MINUTE,
  max_ejected_percent: 50,
  slow_after: 0,
  slow_confirm: true,
  uneject_on_probe_success: true,
});

/** Fence and promote hooks. */
export const DEFAULT_HOOK_TIMEOUT = 5 * SECOND;
export const DEFAULT_FENCE_REQUIRED = false;

export const DEFAULT_BACKEND_WEIGHT = 1;
export const DEFAULT_MIN_HEALTHY: Readonly<MinHealthy> = Object.freeze({ kind: 'count', value: 1 });
export const DEFAULT_PATHS: readonly string[] = Object.freeze(['/']);

/** safety.max_auto_failovers (src/config/safety-section.ts): window and action when not given. */
export const DEFAULT_SAFETY_BREAKER = Object.freeze({ window: 60 * SECOND, action: 'confirm' as const });

/** defaults.safety / tenants.*.safety (src/config/tenant-safety.ts): no per-flip rule unless set. */
export const DEFAULT_TENANT_SAFETY = Object.freeze({});

/** drills: (src/config/drills-section.ts). */
export const DEFAULT_DRILLS = Object.freeze({
  dwell: 30 * SECOND,
  on_interrupt: 'failback' as const,
  parallel: 10,
  verify: Object.freeze({ path: '/', timeout: 30 * SECOND, interval: 100 }),
  guard: Object.freeze({ max_error_rate: 0.05, min_requests: 20 }),
});

/** notify: sinks (src/config/notify-section.ts, docs/notifications.md). */
export const DEFAULT_NOTIFY_SINK = Object.freeze({
  queue: 1000,
  retries: 5,
  coalesce: 5 * SECOND,
  retry_base: SECOND,
  timeout: 5 * SECOND,
  pagerduty_url: 'https://events.pagerduty.com/v2/enqueue',
});

/** A tenant's edge settings unless `defaults` or the tenant say otherwise: plain HTTP served, no HSTS. */
export const DEFAULT_TENANT_EDGE = Object.freeze({ redirect_https: false, https_port: 443 });

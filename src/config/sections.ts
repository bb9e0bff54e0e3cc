/**
 * Readers of the process-wide sections: `admin` (listener, tokens, Host allow-list, rate and
 * connection limits), `state`, `server`, `headers` and `log`.
 */
import path from 'node:path';
import type { AdminConfig, AdminRateLimitConfig, HeaderNames, Http2Config, ListenAddress, LogConfig, ServerConfig, StateConfig, TokenSpec } from './types.js';
import { formatDuration } from './duration.js';
import * as D from './defaults.js';
import { Problems, join, show, expected, Parse, Fields, compact, values, mapItems, rejectDuplicates, text, bool, num, int, oneOf, duration, anyDuration, positiveDuration, listOf } from './fields.js';
import { envName, listenAddress, cidrBlock, hostProblem, headerName } from './values.js';
import { readEtcd } from './etcd-section.js';

// ---------------------------------------------------------------------------------------------
// Top-level sections

export function readAdmin(f: Fields | undefined, baseDir: string, out: Problems): AdminConfig {
  const listen = f?.get('listen', listenAddress) ?? { ...D.DEFAULT_ADMIN_LISTEN };
  const publicListen = f?.get('public_listen', listenAddress) ?? D.DEFAULT_ADMIN_PUBLIC_LISTEN;
  const metricsAuth = f?.get('metrics_auth', bool) ?? D.DEFAULT_METRICS_AUTH;
  const tokens = f?.get('tokens', listOf(token(baseDir))) ?? [];
  const auditFile = f?.get('audit_file', text);
  const allowedHosts = f?.get('allowed_hosts', listOf(allowedHost)) ?? [];
  const rateLimit = readAdminRateLimit(f?.sub('rate_limit'));
  const conns = readAdminConnections(f, out);
  const approvalTimeout = f?.get('approval_timeout', positiveDuration) ?? D.DEFAULT_APPROVAL_TIMEOUT;
  const maxEventStreams = f?.get('max_event_streams', int(0, 10_000)) ?? D.DEFAULT_ADMIN_MAX_EVENT_STREAMS;
  if (f?.has('max_event_streams') && maxEventStreams > conns.max_connections) out.warn(f.path('max_event_streams'), `max_event_streams (${maxEventStreams}) is above max_connections (${conns.max_connections}): open event streams can take every admin connection`);
  f?.end();
  rejectDuplicates(tokens, (t) => t.name, out, { what: 'token name', where: (item) => join(item.at, 'name') });
  return {
    listen,
    ...(publicListen !== undefined && { public_listen: publicListen }),
    tokens: values(tokens),
    metrics_auth: metricsAuth,
    ...(auditFile !== undefined && { audit_file: path.resolve(baseDir, auditFile) }),
    allowed_hosts: values(allowedHosts),
    rate_limit: rateLimit,
    ...conns,
    approval_timeout: approvalTimeout,
    max_event_streams: maxEventStreams,
  };
}

/**
 * admin.public_listen may not take the port of listen or admin.listen on an address they
 * share (same host, or either one a wildcard): the second bind would fail at start-up.
 */
export function checkPublicListen(admin: AdminConfig, listen: ListenAddress, out: Problems): void {
  const pub = admin.public_listen;
  if (pub === undefined || pub.port === 0) return;
  const wild = (h: string) => h === '0.0.0.0' || h === '::';
  for (const [name, other] of [['listen', listen], ['admin.listen', admin.listen]] as const) {
    if (other.port === pub.port && (other.host === pub.host || wild(other.host) || wild(pub.host))) {
      out.error('admin.public_listen', `same port as ${name} (${other.host}:${other.port}) on an address they share`);
    }
  }
}

/** admin.max_connections, max_connections_per_client and headers_timeout (admin-connections test). */
export function readAdminConnections(f: Fields | undefined, out: Problems): D.AdminConnectionLimits {
  const c = {
    ...D.DEFAULT_ADMIN_CONNECTIONS,
    ...compact<D.AdminConnectionLimits>({
      max_connections: f?.get('max_connections', int(1, 100_000)),
      max_connections_per_client: f?.get('max_connections_per_client', int(0, 100_000)),
      headers_timeout: f?.get('headers_timeout', positiveDuration),
    }),
  };
  if (f && c.headers_timeout > D.ADMIN_REQUEST_TIMEOUT) {
    out.error(f.path('headers_timeout'), `must be at most ${formatDuration(D.ADMIN_REQUEST_TIMEOUT)} (the admin request timeout), got ${formatDuration(c.headers_timeout)}`);
  }
  if (f && c.max_connections_per_client > c.max_connections) {
    out.warn(f.path('max_connections_per_client'), `max_connections_per_client (${c.max_connections_per_client}) is above max_connections (${c.max_connections}): one client address can take every admin connection`);
  }
  return c;
}

/** An admin Host allow-list entry: a host name without port, "*.suffix", or "*" (any host). */
export const allowedHost: Parse<string> = (value, at, out) => {
  if (typeof value !== 'string') return out.error(at, expected('a host name', value));
  const host = value.trim().toLowerCase().replace(/\.$/, '');
  if (host === '*') return host;
  const problem = hostProblem(host);
  return problem === undefined ? host : out.error(at, `${problem}: ${show(value)} (use a name without scheme or port, "*.example.com", or "*")`);
};

export function readAdminRateLimit(f: Fields | undefined): AdminRateLimitConfig {
  if (f === undefined) return { ...D.DEFAULT_ADMIN_RATE_LIMIT };
  const limits: AdminRateLimitConfig = {
    ...D.DEFAULT_ADMIN_RATE_LIMIT,
    ...compact<AdminRateLimitConfig>({
      rate: f.get('rate', num(0.01, 1_000_000)),
      burst: f.get('burst', int(1, 1_000_000)),
      metrics_rate: f.get('metrics_rate', num(0.01, 1_000_000)),
      metrics_burst: f.get('metrics_burst', int(1, 1_000_000)),
      max_clients: f.get('max_clients', int(16, 1_000_000)),
      refused_log_interval: f.get('refused_log_interval', duration({ min: 100 })),
    }),
  };
  f.end();
  return limits;
}

export function token(baseDir: string): Parse<TokenSpec> {
  return (value, at, out) => {
    const f = Fields.of(value, at, out);
    if (f === undefined) return undefined;
    const name = f.req('name', text);
    const role = f.req('role', oneOf(['viewer', 'operator'] as const));
    const tokenEnv = f.get('token_env', envName);
    const tokenFile = f.get('token_file', text);
    const given = ['token_env', 'token_file'].filter((key) => f.has(key)).length;
    if (given !== 1) out.error(at, `needs exactly one of token_env or token_file (${given === 0 ? 'neither' : 'both'} given)`);
    f.end();
    if (name === undefined || role === undefined) return undefined;
    return {
      name,
      role,
      ...(tokenEnv !== undefined && { token_env: tokenEnv }),
      ...(tokenFile !== undefined && { token_file: path.resolve(baseDir, tokenFile) }),
    };
  };
}

export function readState(f: Fields | undefined, baseDir: string): StateConfig {
  const dir = f?.get('dir', text) ?? D.DEFAULT_STATE_DIR;
  const etcd = readEtcd(f?.sub('etcd'));
  f?.end();
  return { dir: path.resolve(baseDir, dir), ...(etcd !== undefined && { etcd }) };
}

export function readServer(f: Fields | undefined, out: Problems): ServerConfig {
  if (f === undefined) return { ...D.DEFAULT_SERVER };
  const server: ServerConfig = {
    ...D.DEFAULT_SERVER,
    ...compact<Omit<ServerConfig, 'http2'>>({
      workers: f.get('workers', workerCount),
      headers_timeout: f.get('headers_timeout', positiveDuration),
      request_timeout: f.get('request_timeout', anyDuration),
      keep_alive_timeout: f.get('keep_alive_timeout', anyDuration),
      max_header_size: f.get('max_header_size', int(1024, 1_048_576)),
      max_requests_per_socket: f.get('max_requests_per_socket', int(0)),
      shutdown_timeout: f.get('shutdown_timeout', anyDuration),
      max_headers: f.get('max_headers', int(1, 10_000)),
      underscores_in_headers: f.get('underscores_in_headers', bool),
      trusted_proxies: mapItems(f.get('trusted_proxies', listOf(cidrBlock))),
      max_connections: f.get('max_connections', int(1)),
      max_connections_per_client: f.get('max_connections_per_client', int(0)),
      fd_reserve: f.get('fd_reserve', int(0)),
    }),
    http2: readHttp2(f.sub('http2')),
  };
  if (server.max_connections_per_client > server.max_connections) {
    out.warn(
      f.path('max_connections_per_client'),
      `max_connections_per_client (${server.max_connections_per_client}) is above max_connections (${server.max_connections}): one client address can take every connection`,
    );
  }
  if (server.request_timeout > 0 && server.headers_timeout > server.request_timeout) {
    out.error(
      f.path(f.has('headers_timeout') ? 'headers_timeout' : 'request_timeout'),
      `headers_timeout (${formatDuration(server.headers_timeout)}) must not exceed request_timeout (${formatDuration(server.request_timeout)}) unless request_timeout is 0s`,
    );
  }
  f.end();
  return server;
}

/** `server.workers`: an integer ≥ 0 or `auto`. */
const workerCount: Parse<number | 'auto'> = (value, at, out) =>
  value === 'auto' || (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 256) ? value : out.error(at, `must be an integer from 0 to 256 or auto, got ${show(value)}`);

function readHttp2(f: Fields | undefined): Http2Config {
  if (f === undefined) return { ...D.DEFAULT_HTTP2 };
  const h: Http2Config = {
    ...D.DEFAULT_HTTP2,
    ...compact<Http2Config>({
      max_concurrent_streams: f.get('max_concurrent_streams', int(1, 10_000)),
      max_resets: f.get('max_resets', int(1)),
      reset_window: f.get('reset_window', positiveDuration),
    }),
  };
  f.end();
  return h;
}

export function readHeaders(f: Fields | undefined, out: Problems): HeaderNames {
  const epoch = f?.get('epoch', headerName) ?? D.DEFAULT_HEADERS.epoch;
  const site = f?.get('site', headerName) ?? D.DEFAULT_HEADERS.site;
  if (f !== undefined && epoch === site) {
    out.error(f.path(f.has('site') ? 'site' : 'epoch'), `headers.epoch and headers.site must differ (both ${show(epoch)})`);
  }
  f?.end();
  return { epoch, site };
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const LOG_FORMATS = ['json', 'pretty'] as const;

export function readLog(f: Fields | undefined): LogConfig {
  const level = f?.get('level', oneOf(LOG_LEVELS)) ?? D.DEFAULT_LOG_LEVEL;
  const format = f?.get('format', oneOf(LOG_FORMATS)) ?? D.DEFAULT_LOG_FORMAT;
  f?.end();
  return { level, format };
}

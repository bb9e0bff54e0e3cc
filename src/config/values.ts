/**
 * Parsers of the config's value kinds: names, listen addresses, CIDR blocks, host patterns,
 * URLs, header names and values, status ranges, `min_healthy` and `data_age`.
 */
import { isIP } from 'node:net';
import type { DataAgeConfig, ListenAddress, MinHealthy } from './types.js';
import { type ParsedStatusRanges, parseStatusRanges } from './status-ranges.js';
import * as D from './defaults.js';
import { parseCidr } from './cidr.js';
import { Problems, join, show, expected, Parse, Fields, str, text, oneOf, matching } from './fields.js';

export const TENANT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
export const TIER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
export const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

export const siteName = matching(SITE_NAME, 'site name (letters, digits, "_", "." or "-"; up to 63)');
export const backendName = matching(/^[A-Za-z0-9[][A-Za-z0-9_.:[\]-]{0,127}$/, 'backend name');
export const envName = matching(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable name');
export const hostHeader = matching(/^[^\s/]+$/, 'Host header value');
export const checkPath = matching(/^\/\S*$/, 'request path (it must start with "/")');
export const pathPrefix = matching(/^\/[^\s?#]*$/, 'path prefix (it must start with "/", without query)');
export const etcdPrefix = matching(/^\/\S*$/, 'etcd key prefix (it must start with "/")');
/** A replica's name, part of etcd keys: letters, digits, `.`, `_`, `-`. */
export const replicaId = matching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'replica id (1-63 letters, digits, ".", "_" or "-")');

export function isHostname(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => HOST_LABEL.test(label));
}

/** "host:port" or "[v6]:port"; port 0 means ephemeral. */
export const listenAddress: Parse<ListenAddress> = (value, at, out) => {
  const bad = (): undefined =>
    out.error(at, `not a listen address: ${show(value)} (use host:port, e.g. 0.0.0.0:8080 or [::1]:8080)`);
  if (typeof value !== 'string') return bad();
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) return bad();
  const host = match[1] ?? match[2]!;
  const hostOk = match[1] !== undefined ? isIP(host) === 6 : isIP(host) === 4 || isHostname(host);
  if (!hostOk) return bad();
  const port = Number(match[3]);
  return port > 65535 ? out.error(at, `port out of range 0-65535: ${port}`) : { host, port };
};

/** An IP address or CIDR block (server.trusted_proxies), as written. */
export const cidrBlock: Parse<string> = (value, at, out) => {
  const s = text(value, at, out);
  if (s === undefined) return undefined;
  const parsed = parseCidr(s);
  return typeof parsed === 'string' ? out.error(at, `${parsed}: ${show(value)}`) : s;
};

/** What is wrong with a tenant host pattern, if anything. */
export function hostProblem(host: string): string | undefined {
  if (host.includes('://')) return 'a host must not have a scheme';
  if (host.includes('/')) return 'a host must not have a path';
  if (host === '*') return 'a bare "*" would match every host (drproxy is not an open proxy)';
  if (host.includes(':')) return 'a host must not have a port';
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.includes('*')) return 'a wildcard is only allowed as a leading "*."';
  return isHostname(name) ? undefined : 'not a host name';
}

/** A tenant host: lower-cased, trailing dot stripped; exact or "*." wildcard. */
export const hostPattern: Parse<string> = (value, at, out) => {
  if (typeof value !== 'string') return out.error(at, expected('a host name', value));
  const host = value.trim().toLowerCase().replace(/\.$/, '');
  const problem = hostProblem(host);
  return problem === undefined ? host : out.error(at, `${problem}: ${show(value)}`);
};

/**
 * An http(s) URL with a host and no credentials. `origin` URLs (backends, etcd endpoints) may
 * not carry a path, query or fragment either; hook URLs may.
 */
export function httpUrl(kind: 'backend' | 'etcd endpoint' | 'hook'): Parse<URL> {
  return (value, at, out) => {
    if (typeof value !== 'string') return out.error(at, expected('a URL', value));
    const trimmed = value.trim();
    const url = URL.canParse(trimmed) ? new URL(trimmed) : undefined;
    if (url === undefined || !['http:', 'https:'].includes(url.protocol) || url.hostname === '') {
      return out.error(at, `not an http(s) URL: ${show(value)}`);
    }
    if (url.username !== '' || url.password !== '') {
      return out.error(at, 'a URL must not contain credentials (user:password@); send them as headers');
    }
    if (kind === 'hook') return url;
    if (url.pathname !== '/') return out.error(at, `a ${kind} URL must not have a path: ${show(value)}`);
    if (url.search !== '' || url.hash !== '' || /[?#]/.test(trimmed)) {
      return out.error(at, `a ${kind} URL must not have a query or fragment: ${show(value)}`);
    }
    return url;
  };
}

export function headerValue(value: unknown, at: string, out: Problems): string | undefined {
  const s = typeof value === 'number' ? String(value) : str(value, at, out);
  if (s === undefined) return undefined;
  return /[\r\n\0]/.test(s) ? out.error(at, 'a header value must not contain line breaks') : s;
}

/** Extra request headers: valid names (stored lower-case), string values. */
export const headerMap: Parse<Record<string, string>> = (value, at, out) => {
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  const headers = new Map<string, string>();
  for (const [name, raw, nameAt] of f.entries()) {
    const lower = name.toLowerCase();
    if (!HTTP_TOKEN.test(name)) out.error(nameAt, `not a valid header name: ${show(name)}`);
    else if (headers.has(lower)) out.error(nameAt, `duplicate header ${show(name)} (names are case-insensitive)`);
    else {
      const v = headerValue(raw, nameAt, out);
      if (v !== undefined) headers.set(lower, v);
    }
  }
  return Object.fromEntries(headers);
};

export const RESERVED_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'content-length', 'content-type', 'authorization', 'cookie', 'forwarded', 'via',
  'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
]);

/** A custom header name drproxy sets itself: a valid token, lower-cased, not a standard one. */
export const headerName: Parse<string> = (value, at, out) => {
  const name = str(value, at, out);
  if (name === undefined) return undefined;
  if (!HTTP_TOKEN.test(name)) return out.error(at, `not a valid HTTP header name: ${show(value)}`);
  const lower = name.toLowerCase();
  return RESERVED_HEADERS.has(lower) ? out.error(at, `${show(value)} is a standard header; choose another name`) : lower;
};

export const expectStatus: Parse<ParsedStatusRanges> = (value, at, out) => {
  const parsed = parseStatusRanges(value);
  if ('error' in parsed) return out.error(parsed.index === undefined ? at : join(at, parsed.index), parsed.error);
  return parsed;
};

/** Count (integer >= 1), fraction in (0, 1) or percentage string "50%". */
export const minHealthy: Parse<MinHealthy> = (value, at, out) => {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 1) return { kind: 'count', value };
    if (value > 0 && value < 1) return { kind: 'fraction', value };
  } else if (typeof value === 'string') {
    const percent = Number(/^(\d+(?:\.\d+)?)\s*%$/.exec(value.trim())?.[1] ?? NaN);
    if (percent > 0 && percent <= 100) return { kind: 'fraction', value: percent / 100 };
  }
  return out.error(at, `expected a number of backends (1, 2, ...), a fraction (0.5) or a percentage ("50%"), got ${show(value)}`);
};

export const dataAge: Parse<DataAgeConfig> = (value, at, out) => {
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  const field = f.req('json_field', matching(/^[^.\s]+(?:\.[^.\s]+)*$/, 'dotted JSON field path'));
  const kind = f.get('kind', oneOf(['seconds', 'timestamp'] as const)) ?? D.DEFAULT_DATA_AGE_KIND;
  f.end();
  return field === undefined ? undefined : { json_field: field, kind };
};

// ---------------------------------------------------------------------------------------------
// Health check, failover and proxy blocks (partial; merged defaults ← defaults.X ← tenant ← site)

/**
 * Turns the parsed YAML document into a normalized Config, reporting every problem at once.
 *
 * The walk never stops at the first problem: each reader records what is wrong (with the dotted
 * path of the value, e.g. `tenants.acme.sites[1].backends[0]`) and carries on with a default, so
 * one run lists everything an operator has to fix. `config` is only returned when no problem is
 * an error.
 *
 * Building blocks:
 * - `Parse<T>`: reads one value at a path, records problems, returns T or undefined;
 * - `Fields`: one YAML map; `get`/`req` read a key with a `Parse<T>`, `end()` reports the keys
 *   nobody read as unknown (with a "did you mean" suggestion);
 * - section readers (`readServer`, `readTenant`, ...) composed from those.
 */
import path from 'node:path';
import { isIP } from 'node:net';
import type {
  AdminConfig,
  AdminRateLimitConfig,
  BackendConfig,
  Config,
  ConfigProblem,
  DataAgeConfig,
  EtcdConfig,
  FailoverConfig,
  HeaderNames,
  HealthCheckConfig,
  HookConfig,
  ListenAddress,
  MinHealthy,
  PassiveHealthConfig,
  ProxyConfig,
  ServerConfig,
  SiteConfig,
  StateConfig,
  TenantConfig,
  TierConfig,
  TokenSpec,
} from './types.js';
import { MAX_TIMER_MS, formatDuration, parseDuration } from './duration.js';
import { type ParsedStatusRanges, parseStatusRanges } from './status-ranges.js';
import { builtinTiers, findTier } from './tiers.js';
import * as D from './defaults.js';
import { parseCidr } from './cidr.js';

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

// ---------------------------------------------------------------------------------------------
// Problems and paths

class Problems {
  readonly list: ConfigProblem[] = [];
  private readonly seen = new Set<string>();

  /** Records an error; returns undefined so that parsers can `return out.error(...)`. */
  error(at: string, message: string): undefined {
    this.add({ path: at, message, severity: 'error' });
    return undefined;
  }

  warn(at: string, message: string): void {
    this.add({ path: at, message, severity: 'warning' });
  }

  hasErrors(): boolean {
    return this.list.some((problem) => problem.severity === 'error');
  }

  /** The same problem can surface once per tenant/site that inherits a value: keep one. */
  private add(problem: ConfigProblem): void {
    const key = `${problem.severity}\n${problem.path}\n${problem.message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push(problem);
  }
}

/** `a.b` for plain keys, `a["odd key"]` otherwise, `a[3]` for list indexes. */
function join(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'boolean') return 'a boolean';
  return `a ${typeof value}`;
}

function expected(what: string, value: unknown): string {
  return `expected ${what}, got ${describe(value)}`;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The known name closest to `name` within edit distance 2, if any. */
function suggest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance && distance < name.length) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Generic readers

/** Reads one value found at `at`; records problems and returns undefined when it is invalid. */
type Parse<T> = (value: unknown, at: string, out: Problems) => T | undefined;

/** A valid list element with the path it was found at (for duplicate reports). */
interface Item<T> {
  value: T;
  at: string;
}

/** One YAML map. Reading a key marks it known; `end()` reports the others as unknown. */
class Fields {
  private readonly known = new Set<string>();

  private constructor(
    private readonly map: Record<string, unknown>,
    readonly at: string,
    readonly out: Problems,
  ) {}

  static of(value: unknown, at: string, out: Problems): Fields | undefined {
    return isMap(value) ? new Fields(value, at, out) : out.error(at, expected('a map', value));
  }

  path(key: string): string {
    return join(this.at, key);
  }

  /** The raw value of `key`; null (an empty YAML value) counts as absent. */
  raw(key: string): unknown {
    this.known.add(key);
    return Object.hasOwn(this.map, key) ? (this.map[key] ?? undefined) : undefined;
  }

  has(key: string): boolean {
    return this.raw(key) !== undefined;
  }

  /** An optional key: undefined when absent or invalid. */
  get<T>(key: string, parse: Parse<T>): T | undefined {
    const value = this.raw(key);
    return value === undefined ? undefined : parse(value, this.path(key), this.out);
  }

  /** A required key: records "missing" when absent. */
  req<T>(key: string, parse: Parse<T>): T | undefined {
    const value = this.raw(key);
    if (value === undefined) return this.out.error(this.path(key), 'required key is missing');
    return parse(value, this.path(key), this.out);
  }

  /** An optional nested map. */
  sub(key: string): Fields | undefined {
    return this.get(key, Fields.of);
  }

  /** Every entry of a map whose keys are names (tenants, tiers, headers), null values kept. */
  entries(): Array<[key: string, value: unknown, at: string]> {
    return Object.keys(this.map).map((key) => {
      this.known.add(key);
      return [key, this.map[key], this.path(key)];
    });
  }

  /** A key that exists elsewhere but is not allowed here. */
  forbid(key: string, why: string): undefined {
    this.known.add(key);
    return Object.hasOwn(this.map, key) ? this.out.error(this.path(key), why) : undefined;
  }

  /** Reports every key that no reader asked for. Call after all reads. */
  end(): void {
    for (const key of Object.keys(this.map)) {
      if (this.known.has(key)) continue;
      const hint = suggest(key, this.known);
      this.out.error(
        this.path(key),
        hint === undefined
          ? `unknown key (known keys: ${[...this.known].join(', ')})`
          : `unknown key (did you mean ${show(hint)}?)`,
      );
    }
  }
}

/** Every key of T must be listed (so none is forgotten); undefined values are dropped. */
function compact<T extends object>(fields: { [K in keyof Required<T>]: T[K] | undefined }): Partial<T> {
  const result: Partial<T> = {};
  for (const key of Object.keys(fields) as Array<keyof T>) {
    const value = fields[key];
    if (value !== undefined) result[key] = value as T[keyof T];
  }
  return result;
}

function values<T>(items: ReadonlyArray<Item<T>>): T[] {
  return items.map((item) => item.value);
}

function mapItems<T>(items: ReadonlyArray<Item<T>> | undefined): T[] | undefined {
  return items === undefined ? undefined : values(items);
}

/** Keeps the first of each key; reports the others (at `where(item)`). */
function rejectDuplicates<T>(
  items: ReadonlyArray<Item<T>>,
  keyOf: (value: T) => string,
  out: Problems,
  opts: { what: string; where?: (item: Item<T>) => string; severity?: 'error' | 'warning' },
): Array<Item<T>> {
  const first = new Map<string, Item<T>>();
  for (const item of items) {
    const key = keyOf(item.value);
    const previous = first.get(key);
    if (previous === undefined) {
      first.set(key, item);
      continue;
    }
    const at = opts.where?.(item) ?? item.at;
    const message = `duplicate ${opts.what} ${show(key)} (first at ${previous.at})`;
    if (opts.severity === 'warning') out.warn(at, `${message}; ignored`);
    else out.error(at, message);
  }
  return [...first.values()];
}

// ---------------------------------------------------------------------------------------------
// Value parsers

const str: Parse<string> = (value, at, out) =>
  typeof value === 'string' ? value : out.error(at, expected('a string', value));

/** A non-empty string; numbers are accepted as text (`zone: 1`). */
const text: Parse<string> = (value, at, out) => {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value !== 'string') return out.error(at, expected('a string', value));
  return value.trim() === '' ? out.error(at, 'must not be empty') : value.trim();
};

const bool: Parse<boolean> = (value, at, out) =>
  typeof value === 'boolean' ? value : out.error(at, expected('true or false', value));

function rangeMessage(min: number, max: number, value: number): string {
  return max === Infinity ? `must be at least ${min}, got ${value}` : `must be between ${min} and ${max}, got ${value}`;
}

function num(min: number, max = Infinity): Parse<number> {
  return (value, at, out) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) return out.error(at, expected('a number', value));
    return value < min || value > max ? out.error(at, rangeMessage(min, max, value)) : value;
  };
}

function int(min: number, max = Infinity): Parse<number> {
  return (value, at, out) => {
    if (typeof value !== 'number') return out.error(at, expected('an integer', value));
    if (!Number.isInteger(value)) return out.error(at, `expected an integer, got ${value}`);
    return value < min || value > max ? out.error(at, rangeMessage(min, max, value)) : value;
  };
}

function oneOf<const T extends string>(allowed: readonly T[]): Parse<T> {
  return (value, at, out) =>
    typeof value === 'string' && (allowed as readonly string[]).includes(value)
      ? (value as T)
      : out.error(at, `expected one of ${allowed.join(', ')}, got ${show(value)}`);
}

/**
 * A duration string → ms. `min` is the least value accepted (1 = "more than 0s"); `timer`
 * caps the value at what a Node timer can wait (tier RPO/RTO are not timers).
 */
function duration(opts: { min?: number; timer?: boolean } = {}): Parse<number> {
  const { min = 0, timer = true } = opts;
  return (value, at, out) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      const how = typeof value === 'number' ? 'add a unit, e.g.' : 'use e.g.';
      return out.error(at, `not a duration: ${show(value)} (${how} 500ms, 1s, 15m, 24h)`);
    }
    if (ms < min) {
      return out.error(at, min === 1 ? `must be more than 0s, got ${show(value)}` : `must be at least ${formatDuration(min)}, got ${show(value)}`);
    }
    if (timer && ms > MAX_TIMER_MS) return out.error(at, `too long: ${show(value)} (at most 24d: Node timers cannot wait longer)`);
    return ms;
  };
}

const anyDuration = duration();
const positiveDuration = duration({ min: 1 });

function listOf<T>(item: Parse<T>, opts: { nonEmpty?: boolean } = {}): Parse<Array<Item<T>>> {
  return (value, at, out) => {
    if (!Array.isArray(value)) return out.error(at, expected('a list', value));
    if (opts.nonEmpty && value.length === 0) return out.error(at, 'must not be empty');
    const items: Array<Item<T>> = [];
    value.forEach((element: unknown, index) => {
      const elementAt = join(at, index);
      const parsed = item(element, elementAt, out);
      if (parsed !== undefined) items.push({ value: parsed, at: elementAt });
    });
    return items;
  };
}

function matching(pattern: RegExp, what: string): Parse<string> {
  return (value, at, out) => {
    const s = text(value, at, out);
    if (s === undefined) return undefined;
    return pattern.test(s) ? s : out.error(at, `not a valid ${what}: ${show(value)}`);
  };
}

export const TENANT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const SITE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const TIER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOST_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i;

const siteName = matching(SITE_NAME, 'site name (letters, digits, "_", "." or "-"; up to 63)');
const backendName = matching(/^[A-Za-z0-9[][A-Za-z0-9_.:[\]-]{0,127}$/, 'backend name');
const envName = matching(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable name');
const hostHeader = matching(/^[^\s/]+$/, 'Host header value');
const checkPath = matching(/^\/\S*$/, 'request path (it must start with "/")');
const pathPrefix = matching(/^\/[^\s?#]*$/, 'path prefix (it must start with "/", without query)');
const etcdPrefix = matching(/^\/\S*$/, 'etcd key prefix (it must start with "/")');

function isHostname(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => HOST_LABEL.test(label));
}

/** "host:port" or "[v6]:port"; port 0 means ephemeral. */
const listenAddress: Parse<ListenAddress> = (value, at, out) => {
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
const cidrBlock: Parse<string> = (value, at, out) => {
  const s = text(value, at, out);
  if (s === undefined) return undefined;
  const parsed = parseCidr(s);
  return typeof parsed === 'string' ? out.error(at, `${parsed}: ${show(value)}`) : s;
};

/** What is wrong with a tenant host pattern, if anything. */
function hostProblem(host: string): string | undefined {
  if (host.includes('://')) return 'a host must not have a scheme';
  if (host.includes('/')) return 'a host must not have a path';
  if (host === '*') return 'a bare "*" would match every host (drproxy is not an open proxy)';
  if (host.includes(':')) return 'a host must not have a port';
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (name.includes('*')) return 'a wildcard is only allowed as a leading "*."';
  return isHostname(name) ? undefined : 'not a host name';
}

/** A tenant host: lower-cased, trailing dot stripped; exact or "*." wildcard. */
const hostPattern: Parse<string> = (value, at, out) => {
  if (typeof value !== 'string') return out.error(at, expected('a host name', value));
  const host = value.trim().toLowerCase().replace(/\.$/, '');
  const problem = hostProblem(host);
  return problem === undefined ? host : out.error(at, `${problem}: ${show(value)}`);
};

/**
 * An http(s) URL with a host and no credentials. `origin` URLs (backends, etcd endpoints) may
 * not carry a path, query or fragment either; hook URLs may.
 */
function httpUrl(kind: 'backend' | 'etcd endpoint' | 'hook'): Parse<URL> {
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

function headerValue(value: unknown, at: string, out: Problems): string | undefined {
  const s = typeof value === 'number' ? String(value) : str(value, at, out);
  if (s === undefined) return undefined;
  return /[\r\n\0]/.test(s) ? out.error(at, 'a header value must not contain line breaks') : s;
}

/** Extra request headers: valid names (stored lower-case), string values. */
const headerMap: Parse<Record<string, string>> = (value, at, out) => {
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

const RESERVED_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer',
  'upgrade', 'content-length', 'content-type', 'authorization', 'cookie', 'forwarded', 'via',
  'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
]);

/** A custom header name drproxy sets itself: a valid token, lower-cased, not a standard one. */
const headerName: Parse<string> = (value, at, out) => {
  const name = str(value, at, out);
  if (name === undefined) return undefined;
  if (!HTTP_TOKEN.test(name)) return out.error(at, `not a valid HTTP header name: ${show(value)}`);
  const lower = name.toLowerCase();
  return RESERVED_HEADERS.has(lower) ? out.error(at, `${show(value)} is a standard header; choose another name`) : lower;
};

const expectStatus: Parse<ParsedStatusRanges> = (value, at, out) => {
  const parsed = parseStatusRanges(value);
  if ('error' in parsed) return out.error(parsed.index === undefined ? at : join(at, parsed.index), parsed.error);
  return parsed;
};

/** Count (integer >= 1), fraction in (0, 1) or percentage string "50%". */
const minHealthy: Parse<MinHealthy> = (value, at, out) => {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 1) return { kind: 'count', value };
    if (value > 0 && value < 1) return { kind: 'fraction', value };
  } else if (typeof value === 'string') {
    const percent = Number(/^(\d+(?:\.\d+)?)\s*%$/.exec(value.trim())?.[1] ?? NaN);
    if (percent > 0 && percent <= 100) return { kind: 'fraction', value: percent / 100 };
  }
  return out.error(at, `expected a number of backends (1, 2, ...), a fraction (0.5) or a percentage ("50%"), got ${show(value)}`);
};

const dataAge: Parse<DataAgeConfig> = (value, at, out) => {
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  const field = f.req('json_field', matching(/^[^.\s]+(?:\.[^.\s]+)*$/, 'dotted JSON field path'));
  const kind = f.get('kind', oneOf(['seconds', 'timestamp'] as const)) ?? D.DEFAULT_DATA_AGE_KIND;
  f.end();
  return field === undefined ? undefined : { json_field: field, kind };
};

// ---------------------------------------------------------------------------------------------
// Health check, failover and proxy blocks (partial; merged defaults ← defaults.X ← tenant ← site)

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
  f?.end();
  return { health, failover, proxy, bodyFollows: proxyLayer.body_timeout === undefined, passive };
}

// ---------------------------------------------------------------------------------------------
// Top-level sections

function readAdmin(f: Fields | undefined, baseDir: string, out: Problems): AdminConfig {
  const listen = f?.get('listen', listenAddress) ?? { ...D.DEFAULT_ADMIN_LISTEN };
  const metricsAuth = f?.get('metrics_auth', bool) ?? D.DEFAULT_METRICS_AUTH;
  const tokens = f?.get('tokens', listOf(token(baseDir))) ?? [];
  const auditFile = f?.get('audit_file', text);
  const allowedHosts = f?.get('allowed_hosts', listOf(allowedHost)) ?? [];
  const rateLimit = readAdminRateLimit(f?.sub('rate_limit'));
  const conns = readAdminConnections(f, out);
  f?.end();
  rejectDuplicates(tokens, (t) => t.name, out, { what: 'token name', where: (item) => join(item.at, 'name') });
  return {
    listen,
    tokens: values(tokens),
    metrics_auth: metricsAuth,
    ...(auditFile !== undefined && { audit_file: path.resolve(baseDir, auditFile) }),
    allowed_hosts: values(allowedHosts),
    rate_limit: rateLimit,
    ...conns,
  };
}

/** admin.max_connections, max_connections_per_client and headers_timeout (admin-connections test). */
function readAdminConnections(f: Fields | undefined, out: Problems): D.AdminConnectionLimits {
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
const allowedHost: Parse<string> = (value, at, out) => {
  if (typeof value !== 'string') return out.error(at, expected('a host name', value));
  const host = value.trim().toLowerCase().replace(/\.$/, '');
  if (host === '*') return host;
  const problem = hostProblem(host);
  return problem === undefined ? host : out.error(at, `${problem}: ${show(value)} (use a name without scheme or port, "*.example.com", or "*")`);
};

function readAdminRateLimit(f: Fields | undefined): AdminRateLimitConfig {
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

function token(baseDir: string): Parse<TokenSpec> {
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

function readState(f: Fields | undefined, baseDir: string): StateConfig {
  const dir = f?.get('dir', text) ?? D.DEFAULT_STATE_DIR;
  const etcd = readEtcd(f?.sub('etcd'));
  f?.end();
  return { dir: path.resolve(baseDir, dir), ...(etcd !== undefined && { etcd }) };
}

function readEtcd(f: Fields | undefined): EtcdConfig | undefined {
  if (f === undefined) return undefined;
  const endpoints = f.req('endpoints', listOf(httpUrl('etcd endpoint'), { nonEmpty: true })) ?? [];
  const etcd: EtcdConfig = {
    endpoints: endpoints.map(({ value: url }) => `${url.protocol}//${url.host}`),
    prefix: f.get('prefix', etcdPrefix) ?? D.DEFAULT_ETCD.prefix,
    lease_ttl: f.get('lease_ttl', duration({ min: 1000 })) ?? D.DEFAULT_ETCD.lease_ttl,
    quorum: f.get('quorum', int(1)) ?? D.DEFAULT_ETCD.quorum,
  };
  f.end();
  return etcd;
}

function readServer(f: Fields | undefined, out: Problems): ServerConfig {
  if (f === undefined) return { ...D.DEFAULT_SERVER };
  const server: ServerConfig = {
    ...D.DEFAULT_SERVER,
    ...compact<ServerConfig>({
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

function readHeaders(f: Fields | undefined, out: Problems): HeaderNames {
  const epoch = f?.get('epoch', headerName) ?? D.DEFAULT_HEADERS.epoch;
  const site = f?.get('site', headerName) ?? D.DEFAULT_HEADERS.site;
  if (f !== undefined && epoch === site) {
    out.error(f.path(f.has('site') ? 'site' : 'epoch'), `headers.epoch and headers.site must differ (both ${show(epoch)})`);
  }
  f?.end();
  return { epoch, site };
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function readLog(f: Fields | undefined): { level: string } {
  const level = f?.get('level', oneOf(LOG_LEVELS)) ?? D.DEFAULT_LOG_LEVEL;
  f?.end();
  return { level };
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
    const given = { rpo: t.has('rpo'), rto: t.has('rto') };
    t.end();
    const builtin = findTier(tiers, name);
    if (builtin !== undefined) {
      if (!given.rpo && !given.rto) out.warn(at, 'overrides nothing: give rpo and/or rto');
      tiers[builtin.name] = { name: builtin.name, rpo: rpo ?? builtin.rpo, rto: rto ?? builtin.rto };
      continue;
    }
    for (const key of ['rpo', 'rto'] as const) {
      if (!given[key]) out.error(t.path(key), 'required for a new tier (only built-in tiers may be partly overridden)');
    }
    if (rpo !== undefined && rto !== undefined) tiers[name] = { name, rpo, rto };
  }
  f?.end();
  return tiers;
}

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
  /** "host path" → tenant that claimed it first. */
  claims: Map<string, string>;
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
  const sites = readSites(f, health, out);
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

function readSites(f: Fields, health: HealthDraft, out: Problems): SiteConfig[] {
  const at = f.path('sites');
  const raw = f.raw('sites');
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) {
    return (out.error(at, 'no sites: a tenant needs at least one site'), []);
  }
  const sites = listOf(site(health))(raw, at, out) ?? [];
  if (Array.isArray(raw) && raw.length === 1) out.warn(at, 'only one site: nothing to fail over to');
  return values(rejectDuplicates(sites, (s) => s.name, out, { what: 'site name', where: (item) => join(item.at, 'name') }));
}

function site(tenantHealth: HealthDraft): Parse<SiteConfig> {
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
  const listen = f.get('listen', listenAddress) ?? { ...D.DEFAULT_LISTEN };
  const admin = readAdmin(f.sub('admin'), baseDir, out);
  if (admin.listen.port !== 0 && admin.listen.port === listen.port && admin.listen.host === listen.host) {
    out.error('admin.listen', `same address as listen (${listen.host}:${listen.port})`);
  }
  const state = readState(f.sub('state'), baseDir);
  const server = readServer(f.sub('server'), out);
  const headers = readHeaders(f.sub('headers'), out);
  const log = readLog(f.sub('log'));
  const tiers = readTiers(f.sub('tiers'), out);
  const defaults = readDefaults(f.sub('defaults'), out);
  const tenants = readTenants(f, { tiers, defaults, claims: new Map() }, out);
  f.end();
  return { listen, admin, state, server, headers, log, tiers, tenants };
}

/**
 * A small typed client for drproxy's admin API (undici). Used by the `drproxy status|failover|…`
 * commands; usable from scripts and DR-drill tooling too.
 *
 * Every non-2xx answer becomes an AdminApiError carrying the status and the server's
 * `{ error, detail, problems? }` body; a server that cannot be reached at all becomes an
 * AdminConnectionError naming the URL that was tried.
 */
import { request } from 'undici';

// ---- Response shapes (the admin API contract) ----------------------------------------------

// One definition for the server, the page and this client (src/console/contract.ts). Fields a
// proxy older than the client lacks (ready, not_ready before issue 19) are read defensively.
import type { BackendDetail, SiteDetail, TenantDetail as ApiTenantDetail } from '../console/contract.js';
export type { TenantPhase } from '../console/contract.js';
export type BackendStatus = BackendDetail;
export type SiteStatus = SiteDetail;
export type TenantStatus = Omit<ApiTenantDetail, 'flips'>;

/** Flip records as the admin API returns them: the control plane's own type. */
export type { FlipRecord, FlipTimings } from '../failover/flip.js';
import type { FlipRecord, FlipTimings } from '../failover/flip.js';

export interface TenantDetail extends TenantStatus {
  /** Newest last. */
  flips: FlipRecord[];
}

/** What one replica acknowledged for one tenant (clustered mode). */
export interface ClusterAck {
  epoch: number;
  stage: string;
}

/** GET /status `cluster`: this replica's view of the cluster. */
export interface ClusterSection {
  replica: string;
  leader: string | null;
  leading: boolean;
  serving: boolean;
  lease_valid: boolean;
  replicas: Array<{ id: string; acknowledged: Record<string, ClusterAck> }>;
  /** Health votes as this replica sees them: tenant → replica → site → up/down/unknown. */
  votes?: Record<string, Record<string, Record<string, string>>>;
}

export interface StatusResponse {
  version: string;
  uptime_seconds: number;
  config: { source: string; loaded_at: string };
  tenants: TenantStatus[];
  /** Clustered mode only (state.etcd). */
  cluster?: ClusterSection;
}

export interface FlipResponse {
  /** The flip broke a per-flip safety rule under break glass (docs/safety.md). */
  break_glass?: boolean;
  rules_broken?: Array<{ rule: string; message: string }>;
  tenant: string;
  epoch_before: number;
  epoch: number;
  from: string;
  to: string;
  result: 'routed' | 'stayed' | 'frozen';
  duration_ms: number;
  rto_seconds: number;
  rto_ratio: number;
  timings: FlipTimings;
}

export interface FenceResponse {
  tenant: string;
  site: string;
  fenced: string[];
  epoch: number;
}

export interface DrainResponse {
  tenant: string;
  site: string;
  backend: string;
  drained: boolean;
}

export interface ReloadResponse {
  ok: true;
  tenants: number;
  added: string[];
  removed: string[];
  changed: string[];
  /** Warnings of the new config (it was applied). */
  warnings?: AdminProblem[];
}

export interface ReadyResponse {
  ready: boolean;
  reasons?: string[];
}

export interface AdminProblem {
  path: string;
  message: string;
  severity?: 'error' | 'warning';
}

export interface FailoverRequest {
  to?: string;
  reason: string;
  force?: boolean;
  /** With force: go ahead although a per-flip safety rule is broken (recorded as break glass). */
  break_glass?: boolean;
}

export interface FailbackRequest {
  reason: string;
  force?: boolean;
  break_glass?: boolean;
}

export interface DrillStartRequest {
  to?: string;
  /** A duration such as "30s". */
  dwell?: string;
  /** false: stay on the target (--no-failback). Default true. */
  failback?: boolean;
  reason: string;
}

/** POST /tenants/:t/drills (202): the drill started. */
export interface DrillStarted {
  id: string;
  status: string;
  tenant: string;
  from: string;
  to?: string;
  location: string;
}

export type { AnyDrillReport, DrillListEntry, DrillReport, DrillReason } from '../drill/types.js';
import type { AnyDrillReport, DrillListEntry } from '../drill/types.js';

// ---- Errors --------------------------------------------------------------------------------

/** The admin API answered with a non-2xx status. */
export class AdminApiError extends Error {
  readonly status: number;
  /** The server's error code (`forbidden`, `not_found`, …), or `http_<status>` if it sent none. */
  readonly error: string;
  readonly detail: string;
  /** Reload: every problem of the rejected config. */
  readonly problems: AdminProblem[];
  readonly body: unknown;
  constructor(status: number, body: unknown) {
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const error = typeof b.error === 'string' ? b.error : `http_${status}`;
    const detail = typeof b.detail === 'string' ? b.detail : typeof body === 'string' ? body.trim() : '';
    super(`${status} ${error}${detail ? `: ${detail}` : ''}`);
    this.name = 'AdminApiError';
    this.status = status;
    this.error = error;
    this.detail = detail;
    this.problems = Array.isArray(b.problems) ? (b.problems as AdminProblem[]) : [];
    this.body = body;
  }
}

/** The admin API could not be reached (refused, unresolvable, timed out, reset). */
export class AdminConnectionError extends Error {
  readonly url: string;
  /** The system error code when there is one (ECONNREFUSED, ENOTFOUND, …). */
  readonly code: string | undefined;
  constructor(url: string, cause: unknown) {
    const code = errorCode(cause);
    const name = (cause as Error | undefined)?.name;
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'host not found'
          : name === 'TimeoutError' || /TIMEOUT/.test(code ?? '')
            ? 'no answer in time'
            : ((cause as Error | undefined)?.message ?? String(cause));
    super(`cannot reach the admin API at ${url}: ${why}`, { cause });
    this.name = 'AdminConnectionError';
    this.url = url;
    this.code = code;
  }
}

function errorCode(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const walk = (e: unknown): string | undefined => {
    if (!e || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    const o = e as { code?: unknown; cause?: unknown; errors?: unknown };
    if (typeof o.code === 'string' && /^E[A-Z_]+$/.test(o.code)) return o.code;
    if (Array.isArray(o.errors)) for (const x of o.errors) { const c = walk(x); if (c) return c; }
    const c = walk(o.cause);
    if (c) return c;
    return typeof o.code === 'string' ? o.code : undefined;
  };
  return walk(err);
}

// ---- Client --------------------------------------------------------------------------------

export const DEFAULT_ADMIN_URL = 'http://127.0.0.1:9901';

export interface AdminClientOptions {
  /** Base URL of the admin listener, e.g. http://127.0.0.1:9901 (a path prefix is kept). */
  url: string;
  /** Bearer token (viewer for reads, operator for mutations). */
  token?: string;
  /**
   * Time allowed for one call, ms (default 300000). A failover answers once traffic is on the
   * new site, which includes the old site's drain_timeout and the hooks.
   */
  timeout?: number;
}

/** One path segment: percent-encoded, but `:` and `@` (legal in a segment, common in backend names like host:port) kept. */
function enc(segment: string): string {
  return encodeURIComponent(segment).replace(/%3A/gi, ':').replace(/%40/gi, '@');
}

export class AdminClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly timeout: number;

  constructor(opts: AdminClientOptions) {
    const u = new URL(opts.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError(`admin URL must be http(s): ${opts.url}`);
    this.url = u.href.replace(/\/+$/, '');
    this.token = opts.token;
    this.timeout = opts.timeout ?? 300_000;
  }

  /** Low level: one call; resolves with the status and the parsed body (JSON or text). */
  async raw(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await request(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: this.timeout,
        bodyTimeout: this.timeout,
        signal: AbortSignal.timeout(this.timeout),
      });
    } catch (err) {
      throw new AdminConnectionError(this.url, err);
    }
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw new AdminConnectionError(this.url, err);
    }
    const type = String(res.headers['content-type'] ?? '');
    let parsed: unknown = text;
    if (type.includes('json') || /^\s*[[{]/.test(text)) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: res.statusCode, body: parsed };
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const r = await this.raw(method, path, body);
    if (r.status < 200 || r.status > 299) throw new AdminApiError(r.status, r.body);
    return r.body as T;
  }

  healthz(): Promise<{ status: string }> {
    return this.call('GET', '/healthz');
  }

  /** Readiness: answers 503 with reasons when not ready; that is returned, not thrown. */
  async readyz(): Promise<ReadyResponse> {
    const r = await this.raw('GET', '/readyz');
    if (r.status === 200 || r.status === 503) return r.body as ReadyResponse;
    throw new AdminApiError(r.status, r.body);
  }

  /** The Prometheus text exposition. */
  async metrics(): Promise<string> {
    const r = await this.raw('GET', '/metrics');
    if (r.status !== 200) throw new AdminApiError(r.status, r.body);
    return typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  }

  status(): Promise<StatusResponse> {
    return this.call('GET', '/status');
  }

  tenant(tenant: string): Promise<TenantDetail> {
    return this.call('GET', `/tenants/${enc(tenant)}`);
  }

  failover(tenant: string, req: FailoverRequest): Promise<FlipResponse> {
    return this.call('POST', `/tenants/${enc(tenant)}/failover`, req);
  }

  failback(tenant: string, req: FailbackRequest): Promise<FlipResponse> {
    return this.call('POST', `/tenants/${enc(tenant)}/failback`, req);
  }

  fence(tenant: string, site: string, reason: string, breakGlass = false): Promise<FenceResponse> {
    return this.call('POST', `/tenants/${enc(tenant)}/sites/${enc(site)}/fence`, { reason, ...(breakGlass && { force: true, break_glass: true }) });
  }

  unfence(tenant: string, site: string, reason: string): Promise<FenceResponse> {
    return this.call('POST', `/tenants/${enc(tenant)}/sites/${enc(site)}/unfence`, { reason });
  }

  drain(tenant: string, site: string, backend: string, reason: string): Promise<DrainResponse> {
    return this.call('POST', `/tenants/${enc(tenant)}/sites/${enc(site)}/backends/${enc(backend)}/drain`, { reason });
  }

  enable(tenant: string, site: string, backend: string, reason: string): Promise<DrainResponse> {
    return this.call('POST', `/tenants/${enc(tenant)}/sites/${enc(site)}/backends/${enc(backend)}/enable`, { reason });
  }

  /** Start a drill (answers once it started; refused: AdminApiError 409 with `reasons` in its body). */
  drill(tenant: string, req: DrillStartRequest): Promise<DrillStarted> {
    return this.call('POST', `/tenants/${enc(tenant)}/drills`, req);
  }

  /** Drill reports, newest first. */
  drills(filter: { tenant?: string; limit?: number } = {}): Promise<{ drills: DrillListEntry[] }> {
    const q = new URLSearchParams({ ...(filter.tenant !== undefined && { tenant: filter.tenant }), ...(filter.limit !== undefined && { limit: String(filter.limit) }) }).toString();
    return this.call('GET', `/drills${q ? `?${q}` : ''}`);
  }

  drillReport(id: string): Promise<AnyDrillReport> {
    return this.call('GET', `/drills/${enc(id)}`);
  }

  /** The report as Markdown (406 when the proxy has no renderer). */
  async drillMarkdown(id: string): Promise<string> {
    const r = await this.raw('GET', `/drills/${enc(id)}?format=markdown`);
    if (r.status !== 200) throw new AdminApiError(r.status, r.body);
    return typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
  }

  /** Re-read the config file; `reason`, when given, goes to the audit log. */
  reload(reason?: string): Promise<ReloadResponse> {
    return this.call('POST', '/reload', reason ? { reason } : {});
  }
}

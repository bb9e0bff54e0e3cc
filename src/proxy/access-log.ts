/**
 * The access log: one JSON line per request, as HAProxy's `httplog` or NGINX's `access_log`,
 * for `access_log.mode: all`, or about `sample_rate` of them for `sampled`. Off, the data plane
 * holds no AccessLog at all and pays one branch per request.
 *
 * A line is built once the call is over (its answer is with the socket) and handed to a
 * buffered asynchronous writer (access-log-writer.ts): nothing here waits for a disk. A line
 * the writer cannot take (its buffer is full, or the destination failed) is dropped and
 * counted (drproxy_access_log_dropped_total).
 *
 * Fields: time (when the request arrived, ISO 8601), client (peer address), tenant, site,
 * backend, method, host, path (query string only with include_query; headers never, so no
 * Authorization or Cookie), status (0: none was sent), bytes_sent (response body bytes),
 * duration_ms, upstream_ms (the last attempt, from its send to its end), held_ms (waiting for a
 * flip), attempts, retries, epoch, error (drproxy's own answer, the x-drproxy-error code, or
 * client_closed / upstream_truncated), upstream_error (the last failed attempt's error code).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLogConfig } from '../config/types.js';
import type { ProxyCall } from './forwarder.js';
import type { TenantSlot } from './route.js';
import type { ProxyErrorCode } from './responses.js';
import { peerAddress } from './proxy-header-reader.js';

/** Where lines go (access-log-writer.ts): it never blocks, and counts the lines it drops. */
export interface LineSink {
  write(line: string): void;
  close(): Promise<void>;
}

/** Process-wide tallies (read by access-log-metrics.ts; the file destination counts in them too). */
export const accessLogStats = { writeErrors: 0, droppedLines: 0 };

export class AccessLog {
  /** Share of requests logged; 1 logs every one without drawing a number. */
  private readonly rate: number;
  private readonly withQuery: boolean;
  private isoMs = -1;
  private isoText = '';

  constructor(
    cfg: AccessLogConfig,
    private readonly sink: LineSink,
    /** Injected by tests for a deterministic sample. */
    private readonly random: () => number = Math.random,
  ) {
    this.rate = cfg.mode === 'all' ? 1 : cfg.sample_rate;
    this.withQuery = cfg.include_query;
  }

  /** A proxied (or held) call is over, with any outcome. */
  record(call: ProxyCall): void {
    if (this.rate < 1 && this.random() >= this.rate) return;
    const now = performance.now();
    const req = call.req;
    const sent = call.attempts > 0;
    const route = sent ? call.route : call.slot.route;
    // The last attempt ran from its send to now, less any wait for a flip after it failed.
    const upstream = sent ? now - call.sentAt - (call.heldMs - call.heldAtSend) : -1;
    this.write({
      time: this.iso(call.startedAt),
      client: peerAddress(req.socket) ?? null,
      tenant: call.slot.tenant,
      site: sent ? route.site : null,
      backend: sent ? call.backend.name : null,
      method: req.method!,
      protocol: protocolOf(req),
      host: req.headers.host ?? null,
      path: this.path(req.url!),
      status: call.status !== 0 ? call.status : call.res.headersSent ? call.res.statusCode : 0,
      bytes_sent: call.bytesSent,
      duration_ms: now - call.startedAt,
      upstream_ms: sent ? Math.max(0, upstream) : -1,
      held_ms: call.heldMs,
      attempts: call.attempts,
      retries: call.retries,
      epoch: route.epoch,
      error: call.ownError ?? null,
      upstream_error: call.lastError === undefined ? null : (call.lastError.code ?? call.lastError.kind),
    });
  }

  /** drproxy answered at once, before any call existed (refused, unknown host, frozen tenant). */
  answered(req: IncomingMessage, res: ServerResponse, code: ProxyErrorCode | null, bytes: number, slot?: TenantSlot): void {
    if (this.rate < 1 && this.random() >= this.rate) return;
    this.write({
      time: this.iso(performance.now()),
      client: peerAddress(req.socket) ?? null,
      tenant: slot?.tenant ?? null,
      site: null,
      backend: null,
      method: req.method ?? null,
      protocol: protocolOf(req),
      host: req.headers.host ?? null,
      path: this.path(req.url ?? ''),
      status: res.statusCode,
      bytes_sent: bytes,
      duration_ms: 0,
      upstream_ms: -1,
      held_ms: 0,
      attempts: 0,
      retries: 0,
      epoch: slot?.route.epoch ?? null,
      error: code,
      upstream_error: null,
    });
  }

  /** Write what is buffered and close a file destination (reload, stop). */
  close(): Promise<void> {
    return this.sink.close();
  }

  private path(url: string): string {
    if (this.withQuery) return url;
    const q = url.indexOf('?');
    return q === -1 ? url : url.slice(0, q);
  }

  private write(f: LineFields): void {
    this.sink.write(toLine(f));
  }

  /** ISO 8601 of a performance.now() time; the string is reused within a millisecond. */
  private iso(t: number): string {
    const ms = Math.floor(performance.timeOrigin + t);
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.isoText = new Date(ms).toISOString();
    }
    return this.isoText;
  }
}

/** One line's fields, in the order written. */
interface LineFields {
  time: string;
  client: string | null;
  tenant: string | null;
  site: string | null;
  backend: string | null;
  method: string | null;
  /** "HTTP/1.1", "HTTP/1.0" or "HTTP/2.0" (constants: nothing built per line). */
  protocol: string;
  host: string | null;
  path: string;
  status: number;
  bytes_sent: number;
  duration_ms: number;
  /** -1: no attempt was sent. */
  upstream_ms: number;
  held_ms: number;
  attempts: number;
  retries: number;
  epoch: number | null;
  error: string | null;
  upstream_error: string | null;
}

function protocolOf(req: IncomingMessage): string {
  if (req.httpVersionMajor === 2) return 'HTTP/2.0';
  return req.httpVersionMinor === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
}

/** A string that needs no escaping (names the config validated, codes, addresses), or null. */
function safe(s: string | null): string {
  return s === null ? 'null' : `"${s}"`;
}

/** Printable ASCII without `"` and `\\`: such a string is its own JSON body. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string a client or library chose (Host, path, error codes), quoted for JSON. */
function quote(s: string | null): string {
  if (s === null) return 'null';
  // The regex test costs a fraction of JSON.stringify's generic escaping, and nearly every
  // Host and path is plain.
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/**
 * The JSON line, written field by field: JSON.stringify of the whole object walks it
 * generically (record() took 1.44 µs CPU a line here), this quotes strings only where needed.
 * Tenant and site names (validated against JSON-safe patterns), the method (an HTTP token
 * Node's parser accepted), the peer address and drproxy's own codes need no escaping; what a
 * client sends (Host, path), library error codes and backend names go through quote().
 */
function toLine(f: LineFields): string {
  return `{"time":"${f.time}","client":${safe(f.client)},"tenant":${safe(f.tenant)},"site":${safe(f.site)},"backend":${quote(f.backend)},"method":${safe(f.method)},"protocol":"${f.protocol}","host":${quote(f.host)},"path":${quote(f.path)},"status":${f.status},"bytes_sent":${f.bytes_sent},"duration_ms":${ms(f.duration_ms)},"upstream_ms":${f.upstream_ms < 0 ? 'null' : ms(f.upstream_ms)},"held_ms":${ms(f.held_ms)},"attempts":${f.attempts},"retries":${f.retries},"epoch":${f.epoch},"error":${safe(f.error)},"upstream_error":${quote(f.upstream_error)}}\n`;
}

/**
 * Milliseconds to 0.01 ms as JSON text, without float noise. Built from integers: turning a
 * double into text is V8's slow path (three of them a line were a third of its cost).
 */
function ms(x: number): string {
  // Inputs are ≥ 0 and far below 2^31 / 100 ms (248 days): `| 0` is exact.
  const n = Math.round(x * 100);
  const i = (n / 100) | 0;
  const r = n - i * 100;
  if (r === 0) return `${i}`;
  return r % 10 === 0 ? `${i}.${r / 10}` : r < 10 ? `${i}.0${r}` : `${i}.${r}`;
}

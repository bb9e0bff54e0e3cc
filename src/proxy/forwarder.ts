/**
 * One proxied request. ProxyCall is undici's dispatch handler itself (the callback form that
 * undici's core calls directly, without the adapter its newer controller form goes through):
 * response headers arrive as raw buffers, body chunks are written straight to the client with
 * backpressure both ways, and nothing is buffered.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backend } from './backend.js';
import type { TenantRoute, TenantSlot } from './route.js';
import { upstreamRequestHeaders, downstreamResponseHeaders } from './headers.js';
import { sendError } from './responses.js';

export interface Forwarding {
  readonly epochHeader: string;
  readonly siteHeader: string;
  /**
   * An attempt failed before any response byte reached the client. Returns true when the call
   * was dispatched again (retry); false to let the call answer with an error.
   */
  retry(call: ProxyCall, err: UpstreamError): boolean;
  /** The call is over (any outcome). */
  finished(call: ProxyCall): void;
}

/** What went wrong with an attempt, as far as retry safety is concerned. */
export type FailureKind =
  /** The request never reached the upstream (connection refused, unreachable, connect timeout). */
  | 'connect'
  /** The connection broke after the request may have been sent, before any response byte. */
  | 'reset'
  /** No response headers within response_timeout. */
  | 'timeout'
  /** The call was aborted by drproxy (re-dispatch) or the client. */
  | 'aborted'
  | 'other';

export interface UpstreamError extends Error {
  code?: string;
  kind: FailureKind;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'EADDRNOTAVAIL',
]);

export function classify(err: Error & { code?: string }): FailureKind {
  const code = err.code;
  if (code !== undefined && CONNECT_CODES.has(code)) return 'connect';
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return 'timeout';
  if (code === 'UND_ERR_ABORTED' || err.name === 'AbortError') return 'aborted';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') return 'reset';
  return 'other';
}

/** True when the request has a body to forward (Content-Length > 0 or Transfer-Encoding). */
export function requestHasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  return cl !== undefined && cl !== '0';
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ProxyCall {
  route!: TenantRoute;
  backend!: Backend;
  attempts = 0;
  /** Set once response headers were written to the client: no retry after that. */
  responded = false;
  readonly hasBody: boolean;
  readonly idempotent: boolean;
  readonly startedAt = performance.now();
  status = 0;
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private inflight = false;
  private over = false;
  private clientGone = false;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly slot: TenantSlot,
    private readonly fwd: Forwarding,
  ) {
    this.hasBody = requestHasBody(req);
    this.idempotent = IDEMPOTENT.has(req.method!);
    res.once('close', () => {
      if (!res.writableFinished) {
        this.clientGone = true;
        this.abortUpstream?.(abortError('client closed the connection'));
        this.finish();
      }
    });
  }

  /** True while no request body byte has been consumed: the call can still be sent elsewhere. */
  get bodyUntouched(): boolean {
    return !this.hasBody || !this.req.readableDidRead;
  }

  dispatch(route: TenantRoute, backend: Backend): void {
    if (this.clientGone) return;
    this.route = route;
    this.backend = backend;
    this.attempts++;
    this.inflight = true;
    backend.outstanding++;
    const req = this.req;
    backend.pool.dispatch(
      {
        path: req.url!,
        method: req.method!,
        headers: upstreamRequestHeaders(req, {
          epochName: this.fwd.epochHeader,
          siteName: this.fwd.siteHeader,
          hostOverride: route.proxy.preserve_host ? undefined : backend.hostHeader,
          stamp: route.stamp,
        }),
        body: this.hasBody ? req : null,
      },
      this,
    );
  }

  /** Abort the attempt in flight (drain, re-dispatch); `onError` follows. */
  abort(reason: string): void {
    this.abortUpstream?.(abortError(reason));
  }

  // --- undici dispatch handler ---------------------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(abortError('client closed the connection'));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx: Node answers Expect itself; informational answers are dropped.
    this.resumeUpstream = resume;
    this.responded = true;
    this.status = statusCode;
    this.res.writeHead(statusCode, statusText, downstreamResponseHeaders(rawHeaders));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resumeUpstream!);
    return false;
  }

  onComplete(): void {
    this.settle();
    this.res.end();
    this.finish();
  }

  onError(err: Error & { code?: string }): void {
    this.settle();
    if (this.clientGone) return;
    if (this.responded || this.res.headersSent) {
      // Part of the response is out: the only honest thing left is to cut the client off.
      this.res.destroy(err);
      this.finish();
      return;
    }
    const e = err as UpstreamError;
    e.kind = classify(err);
    if (this.fwd.retry(this, e)) return;
    this.fail(e);
  }

  // --------------------------------------------------------------------------------------

  /** Whether an attempt that failed this way may be sent again. */
  retryable(kind: FailureKind): boolean {
    if (!this.bodyUntouched) return false;
    if (kind === 'connect') return true;
    return (kind === 'reset' || kind === 'aborted') && this.idempotent;
  }

  /** Answer the client with drproxy's own error for this failure. */
  fail(err: UpstreamError): void {
    if (err.kind === 'timeout' || err.code === 'UND_ERR_CONNECT_TIMEOUT') {
      sendError(this.res, 'upstream_timeout', `site ${this.route.site} did not answer in time`);
    } else if (err.kind === 'connect') {
      sendError(this.res, 'upstream_failed', `could not connect to site ${this.route.site}`);
    } else {
      sendError(this.res, 'upstream_failed', `site ${this.route.site} failed the request (${err.code ?? err.message})`);
    }
    this.status = this.res.statusCode;
    this.finish();
  }

  private settle(): void {
    if (!this.inflight) return;
    this.inflight = false;
    this.abortUpstream = null;
    this.backend.outstanding--;
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.settle();
    this.fwd.finished(this);
  }
}

function abortError(message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'UND_ERR_ABORTED';
  return err;
}

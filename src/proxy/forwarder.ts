/**
 * One proxied request. ProxyCall is undici's dispatch handler itself (the callback form that
 * undici's core calls directly, without the adapter its newer controller form goes through):
 * response headers arrive as raw buffers, body chunks are written straight to the client with
 * backpressure both ways, and nothing is buffered.
 *
 * A call may be sent more than once: after a failure that is safe to retry (see `retryable`),
 * and when a flip re-dispatches idempotent requests from the old site to the new one. It is
 * never re-sent once a response byte has reached the client.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Backend, InflightCall } from './backend.js';
import type { TenantRoute, TenantSlot } from './route.js';
import { canHoldMore, type Waiter } from './held.js';
import { upstreamRequestHeaders, upstreamRequestHeadersH2, downstreamResponseHeaders } from './headers.js';
import { clearHeaders, h2HasBody, writeH2Head } from './h2-request.js';
import { sendError, type ProxyErrorCode } from './responses.js';
import { abortError } from '../errors.js';
import { describeCut, describeInvalid, forwardEarlyHints, invalidResponse, MAX_INFORMATIONAL, truncate } from './upstream-answer.js';
import { classify, failureAnswer, type FailureKind, type UpstreamError } from './failure-kind.js';
import { Attempt, DETACHED, type AttemptOwner } from './attempt.js';
import type { UpstreamFault } from './fault-log.js';
import type { NamedDispatch } from '../tls-name.js';
import { addHsts } from './edge.js';

export { classify, type FailureKind, type UpstreamError };

export interface Forwarding {
  readonly epochHeader: string;
  readonly siteHeader: string;
  /** Shutting down: answers tell keep-alive clients to close. */
  readonly closing: boolean;
  /**
   * An attempt failed before any response byte reached the client. Returns true when the call
   * goes on (sent again, or held for the tenant's next route); false to answer with an error.
   */
  retry(call: ProxyCall, err: UpstreamError): boolean;
  /** Whether `retry` would go on for a failure of this kind now (checked before an answer is dropped). */
  canRetry(call: ProxyCall, kind: FailureKind): boolean;
  /** Hold a call until its tenant's next route (flip re-dispatch). */
  requeue(call: ProxyCall): void;
  /** The call is over (any outcome). */
  finished(call: ProxyCall): void;
  /** The upstream's answer was refused as invalid, or cut short after part of it was sent (logged, rate-limited). */
  upstreamFault(call: ProxyCall, fault: UpstreamFault, detail: string): void;
}

/** True when the request has a body to forward (Content-Length > 0 or Transfer-Encoding). */
export function requestHasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const cl = h['content-length'];
  return cl !== undefined && cl !== '0';
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ProxyCall implements InflightCall, Waiter, AttemptOwner {
  route!: TenantRoute;
  backend!: Backend;
  /** Sends so far (first attempt, retries and re-dispatches). */
  attempts = 0;
  /** Retries after failures (re-dispatches at a flip do not count). */
  retries = 0;
  /** Set once final response headers arrived (they are forwarded): no retry after that. */
  responded = false;
  /** The same backend was already tried again once (only backend of the site). */
  retriedSame = false;
  /** Counted in the tenant's retry budget (re-sent after a failure at least once). */
  budgeted = false;
  /** Times this call waited for the tenant's next route after a failure. */
  holds = 0;
  /** End of its hold bound (held.ts), 0 until first held. */
  holdDeadline = 0;
  /** When the attempt in flight was handed to its backend's pool (the first: when the call started). */
  sentAt: number;
  /**
   * When the attempt was fully written to its connection, body included (Infinity until then,
   * and while it waits in undici's queue for a free connection). Kept only when slow_after is
   * on: one clock read per request otherwise saved.
   */
  waitFrom = Infinity;
  /** This attempt was counted as a slow answer (passive_health.slow_after). */
  slowCounted = false;
  /** Links in its backend's list of calls in flight (call-list.ts). */
  listPrev: InflightCall | null = null;
  listNext: InflightCall | null = null;
  readonly hasBody: boolean;
  readonly idempotent: boolean;
  /** An HTTP/2 stream (h2-request.ts): its own header rules, no status text. */
  readonly h2: boolean;
  readonly startedAt = performance.now();
  status = 0;
  lastError: UpstreamError | undefined;
  /** For the access log: body bytes sent to the client, time held, drproxy's own answer or how the call ended early. */
  bytesSent = 0;
  heldMs = 0;
  heldAtSend = 0;
  ownError: EndCode | undefined = undefined;
  /**
   * The final answer's status text and headers, held until its first body byte or its end:
   * Node sends nothing before that either, and while they are held a failure can still be
   * answered with drproxy's own error instead of a cut connection.
   */
  private head: string[] | null = null;
  private headText = '';
  /** Informational (1xx) answers to the attempt in flight. */
  private informational = 0;
  private abortUpstream: ((err?: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private inflight = false;
  private over = false;
  private clientGone = false;
  /** A retry_on status is being read and thrown away before a retry. */
  private discarding = false;
  /**
   * The undici handler of the attempt in flight: the call itself for the first attempt (no
   * allocation on the common path), an Attempt (attempt.ts) for later ones. Callbacks from any
   * other (detached) attempt are ignored, and a detached attempt is aborted as soon as undici
   * connects it.
   */
  private current: object | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly slot: TenantSlot,
    private readonly fwd: Forwarding,
  ) {
    this.h2 = req.httpVersionMajor === 2;
    this.hasBody = this.h2 ? h2HasBody(req) : requestHasBody(req);
    this.idempotent = IDEMPOTENT.has(req.method!);
    this.sentAt = this.startedAt;
    slot.load.inflight++;
    (res as CallResponse)[kCall] = this;
    res.on('close', onResponseClose);
  }

  /** The client went away before the answer was complete. */
  clientClosed(): void {
    if (!this.over) this.ownError = 'client_closed';
    this.clientGone = true;
    this.abortUpstream?.(abortError('client closed the connection'));
    this.finish();
  }

  /** True while no request body byte has been consumed: the call can still be sent elsewhere. */
  get bodyUntouched(): boolean {
    return !this.hasBody || !this.req.readableDidRead;
  }

  dispatch(route: TenantRoute, backend: Backend): void {
    if (this.clientGone || this.over) return;
    this.route = route;
    this.backend = backend;
    if (++this.attempts !== 1) {
      this.sentAt = performance.now();
      this.heldAtSend = this.heldMs;
      this.waitFrom = Infinity;
      this.slowCounted = false;
      this.informational = 0;
    }
    this.inflight = true;
    backend.outstanding++;
    backend.track(this);
    const handler = this.attempts === 1 ? this : new Attempt(this);
    this.current = handler;
    const req = this.req;
    const opts: NamedDispatch = {
      path: req.url!,
      method: req.method!,
      headers: (this.h2 ? upstreamRequestHeadersH2 : upstreamRequestHeaders)(
        req,
        this.fwd.epochHeader,
        this.fwd.siteHeader,
        route.proxy.preserve_host ? undefined : backend.hostHeader,
        route.stamp,
      ),
      body: this.hasBody ? req : null,
      servername: backend.servername,
    };
    backend.pool.dispatch(opts, handler);
  }

  /**
   * Flip re-dispatch: detach this attempt at once (even one still queued in undici's pool,
   * which is aborted when it connects) and hold the call for the tenant's next route. With a
   * `reason`, the old attempt's connection is cut now; without one, the caller takes that over
   * (the drain destroys the old site's whole pool once the new route is out). A drain passes
   * the same `reason` error to every call it redirects: destroying a socket formats its error's
   * stack trace, and one shared error is formatted once instead of once per socket.
   */
  redirect(reason?: Error): void {
    if (!this.inflight || this.responded) return;
    const abort = this.abortUpstream;
    this.detach();
    if (reason !== undefined) abort?.(reason);
    this.fwd.requeue(this);
  }

  /** Forget the attempt in flight: its later callbacks are ignored. */
  private detach(): void {
    this.current = null;
    this.discarding = false;
    this.settle();
  }

  isCurrent(handler: object): boolean {
    return this.current === handler;
  }

  // --- Waiter (held for the next route) --------------------------------------------------

  release(route: TenantRoute): void {
    if (this.clientGone || this.over) return;
    const backend = route.mode === 'serve' ? route.balancer.pick() : undefined;
    if (backend === undefined) {
      this.reject(route.mode === 'unavailable' ? route.refusal : 'tenant_unavailable', `tenant ${route.tenant}: ${route.reason || 'no backend available'}`, 5);
      return;
    }
    this.dispatch(route, backend);
  }

  /** Answer with one of drproxy's own errors and end the call. */
  reject(code: ProxyErrorCode, detail: string, retryAfterSeconds?: number): void {
    if (this.over || this.clientGone) return;
    this.ownError = code;
    this.bytesSent = sendError(this.res, code, detail, retryAfterSeconds);
    this.status = this.res.statusCode;
    this.finish();
  }

  expire(route: TenantRoute): void {
    if (this.clientGone || this.over) return;
    // A shorter wait (detection time) ended while the tenant holds (a flip is on): wait on, within the bound.
    if (route.mode === 'hold' && canHoldMore(this)) {
      this.fwd.requeue(this);
      return;
    }
    // No flip came: the site was not down after all. One more try if allowed, else the error.
    const backend = route.mode === 'serve' ? route.balancer.pick() : undefined;
    if (backend !== undefined && this.retries <= route.proxy.max_retries && this.lastError?.kind !== 'aborted') {
      this.dispatch(route, backend);
      return;
    }
    if (this.lastError) this.fail(this.lastError);
    else this.reject(route.mode === 'unavailable' ? route.refusal : 'hold_timeout', `tenant ${route.tenant}: ${route.reason || 'no backend became available'} (held ${route.holdMs}ms)`, Math.max(1, Math.ceil(route.holdMs / 1000)));
  }

  // --- undici dispatch handler (first attempt) ------------------------------------------

  onConnect(abort: (err?: Error) => void): void {
    if (this.current === this) this.handleConnect(abort);
    else abort(DETACHED);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    return this.current === this ? this.handleHeaders(statusCode, rawHeaders, resume, statusText) : true;
  }

  onData(chunk: Buffer): boolean {
    return this.current === this ? this.handleData(chunk) : true;
  }

  onComplete(): void {
    if (this.current === this) this.handleComplete();
  }

  onError(err: Error & { code?: string }): void {
    if (this.current === this) this.handleError(err);
  }

  onRequestSent(): void {
    if (this.current === this) this.handleRequestSent();
  }

  // --- attempt callbacks ---------------------------------------------------------------------

  /** The request, body included, is written to its connection: the wait for the answer starts. */
  handleRequestSent(): void {
    if (this.backend.slowAfter !== 0) this.waitFrom = performance.now();
  }

  handleConnect(abort: (err?: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(abortError('client closed the connection'));
  }

  handleHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return this.handleInformational(statusCode, rawHeaders);
    if (statusCode > 599) return this.reject502(`it sent an invalid status code (${statusCode})`);
    const backend = this.backend;
    if (backend.passiveStatuses.has(statusCode)) backend.passiveFailure('status');
    else backend.passiveSuccess();
    if (this.route.retryOn.has(statusCode) && this.fwd.canRetry(this, 'status')) {
      // Read and drop this answer, then retry (or pass it on if no retry is possible after all).
      this.discarding = true;
      this.status = statusCode;
      return true;
    }
    const headers = downstreamResponseHeaders(rawHeaders, statusCode);
    if (headers === null) return this.reject502('it sent a Transfer-Encoding other than chunked');
    if (this.route.edge !== undefined) addHsts(headers, this.route.edge, this.req);
    this.resumeUpstream = resume;
    this.responded = true;
    this.status = statusCode;
    if (this.fwd.closing) this.res.shouldKeepAlive = false;
    this.head = headers;
    this.headText = statusText;
    return true;
  }

  /**
   * A 1xx answer before the final one: a 103 is passed on (upstream-answer.ts), others are
   * dropped. undici restarts its response_timeout at each, so they are bounded here: at most
   * MAX_INFORMATIONAL, none later than response_timeout after the send.
   */
  private handleInformational(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode === 101) return this.reject502('it switched protocols (101) on a request that asked for no upgrade');
    if (statusCode < 100) return this.reject502(`it sent an invalid status code (${statusCode})`);
    if (++this.informational > MAX_INFORMATIONAL) return this.reject502(`it sent more than ${MAX_INFORMATIONAL} informational (1xx) answers`);
    if (performance.now() - this.sentAt > this.route.proxy.response_timeout) {
      return this.cutAttempt(Object.assign(new Error('no final answer within response_timeout'), { kind: 'timeout' as const, code: 'UND_ERR_HEADERS_TIMEOUT' }));
    }
    if (statusCode === 103) forwardEarlyHints(this.req, this.res, rawHeaders);
    return true;
  }

  /** Refuse the upstream's answer as invalid HTTP: drproxy's 502, nothing of it sent on. */
  private reject502(detail: string): boolean {
    return this.cutAttempt(Object.assign(invalidResponse(detail), { kind: 'protocol' as const }));
  }

  /** End the attempt in flight from one of its callbacks with drproxy's answer for `err`. */
  private cutAttempt(err: UpstreamError): boolean {
    const abort = this.abortUpstream;
    this.detach(); // undici's onError for the abort below is ignored
    abort?.(err);
    this.backend.passiveFailure(err.kind === 'timeout' ? 'timeout' : 'protocol');
    if (err.kind === 'protocol') this.fwd.upstreamFault(this, 'invalid_response', describeInvalid(err));
    this.lastError = err;
    this.head = null;
    this.fail(err);
    return true;
  }

  /** Write the held final head; false if Node refused it (then drproxy's 502 was sent). */
  private flushHead(): boolean {
    const head = this.head!;
    this.head = null;
    try {
      if (this.h2) writeH2Head(this.res, this.status, head);
      else this.res.writeHead(this.status, this.headText, head);
      return true;
    } catch (err) {
      // A status text or header value Node will not send (ERR_INVALID_CHAR): nothing went out.
      // Node kept the refused status text: drproxy's 502 must not reuse it.
      this.res.statusMessage = '';
      if (this.h2) clearHeaders(this.res); // or the 502 would be refused for them too
      this.cutAttempt(Object.assign(invalidResponse(`it sent a header that cannot be forwarded (${(err as Error & { code?: string }).code})`), { kind: 'protocol' as const }));
      return false;
    }
  }

  handleData(chunk: Buffer): boolean {
    if (this.discarding) return true;
    if (this.head !== null && !this.flushHead()) return true;
    this.bytesSent += chunk.length;
    if (this.res.write(chunk)) return true;
    this.res.once('drain', this.resumeUpstream!);
    return false;
  }

  handleComplete(): void {
    this.current = null;
    this.settle();
    if (this.discarding) {
      this.discarding = false;
      const err = Object.assign(new Error(`upstream answered ${this.status}`), { kind: 'status' as const, code: `HTTP_${this.status}` });
      this.lastError = err;
      if (!this.clientGone && this.fwd.retry(this, err)) return;
      // Nowhere to retry after all: the client gets our 502 naming the status.
      this.fail(err);
      return;
    }
    if (this.head !== null && !this.flushHead()) return;
    this.res.end();
    this.finish();
  }

  handleError(err: Error & { code?: string }): void {
    this.current = null;
    this.settle();
    if (this.clientGone || this.over) return;
    if (this.responded) {
      this.failAfterHead(err);
      return;
    }
    const e = err as UpstreamError;
    e.kind = this.discarding ? 'status' : classify(err);
    this.discarding = false;
    if (err.code === 'ECONNREFUSED') this.backend.passiveRefusal();
    else if (e.kind !== 'aborted' && e.kind !== 'other') this.backend.passiveFailure(e.kind);
    this.lastError = e;
    if (this.fwd.retry(this, e)) return;
    if (e.kind === 'protocol') this.fwd.upstreamFault(this, 'invalid_response', describeInvalid(e));
    this.fail(e);
  }

  /** The attempt failed after the final answer's head arrived (never retried). */
  private failAfterHead(err: Error & { code?: string }): void {
    if (this.head === null) {
      // Part of the answer is out: the only honest thing left is to cut the client off.
      truncate(this.res);
      this.ownError = 'upstream_truncated';
      this.finish();
      const kind = classify(err);
      if (kind !== 'aborted') this.fwd.upstreamFault(this, 'truncated_response', describeCut(kind, err));
      return;
    }
    // Nothing reached the client yet.
    if (err.code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' && (this.status === 204 || this.status === 304)) {
      // A 204 or 304 with a Content-Length is complete at its head (RFC 9110 §8.6, RFC 9112
      // §6.3); undici counts the absent body against the length and drops the connection.
      if (this.flushHead()) {
        this.res.end();
        this.finish();
      }
      return;
    }
    this.head = null;
    const e = err as UpstreamError;
    e.kind = classify(err);
    if (e.kind === 'protocol') {
      this.backend.passiveFailure('protocol');
      this.fwd.upstreamFault(this, 'invalid_response', describeInvalid(e));
    }
    this.lastError = e;
    this.fail(e);
  }

  // --------------------------------------------------------------------------------------

  /** Whether an attempt that failed this way may be sent again. */
  retryable(kind: FailureKind): boolean {
    if (!this.bodyUntouched) return false;
    if (kind === 'connect') return true;
    return (kind === 'reset' || kind === 'status') && this.idempotent;
  }

  /** Answer the client with drproxy's own error for this failure. */
  fail(err: UpstreamError): void {
    if (this.over || this.clientGone) return;
    const [code, detail] = failureAnswer(err, this.route?.site ?? 'unknown');
    this.ownError = code;
    this.bytesSent = sendError(this.res, code, detail);
    this.status = this.res.statusCode;
    this.finish();
  }

  private settle(): void {
    if (!this.inflight) return;
    this.inflight = false;
    this.abortUpstream = null;
    const b = this.backend;
    b.outstanding--;
    b.calls.delete(this);
    if (b.calls.size === 0 && b.idleWaiters !== undefined) b.notifyIdle();
  }

  private finish(): void {
    if (this.over) return;
    this.over = true;
    this.settle();
    const load = this.slot.load;
    load.inflight--;
    if (this.budgeted) load.retrying--;
    this.fwd.finished(this);
  }
}

/** How a call ended other than with the upstream's complete answer (the access log's `error`). */
export type EndCode = ProxyErrorCode | 'client_closed' | 'upstream_truncated';

const kCall = Symbol('drproxy.call');
type CallResponse = ServerResponse & { [kCall]?: ProxyCall };

/**
 * One listener function for every response (no closure per request). The client left before
 * the answer was complete: not all written (HTTP/1.1), or never ended by drproxy — an HTTP/2
 * stream the client reset has its writable side ended by Node (writableFinished true,
 * writableEnded false), and its upstream request must still be aborted (rapid reset).
 */
function onResponseClose(this: CallResponse): void {
  if (!this.writableFinished || !this.writableEnded) this[kCall]?.clientClosed();
  this[kCall] = undefined;
}

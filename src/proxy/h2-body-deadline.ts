/**
 * server.request_timeout for HTTP/2 streams: a request's body must have arrived within it, as
 * Node's HTTP/1.1 server holds a whole request to it. A stream still uploading past its deadline
 * is reset (RST_STREAM CANCEL), which ends its call and aborts the upstream request (the
 * response's 'close', forwarder.ts). One sweep timer, running only while bodies are arriving,
 * every `intervalMs` (as Node's connectionsCheckingInterval), not a timer per stream.
 */
import http2, { type Http2ServerRequest } from 'node:http2';

const kWatch = Symbol('drproxy.h2.bodyDeadline');
/** On the request and on its stream: what to tell when the body ends or the stream closes. */
interface Watch {
  deadlines: BodyDeadlines;
  req: Http2ServerRequest;
}
type Marked = { [kWatch]?: Watch };

export class BodyDeadlines {
  /** Requests whose body is still arriving, with their deadline (performance.now() ms). */
  private readonly open = new Map<Http2ServerRequest, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A stream's request: watched while its body arrives (nothing to do for one without a body). */
  watch(req: Http2ServerRequest): void {
    if (this.timeoutMs <= 0 || req.stream.endAfterHeaders || req.complete) return;
    this.open.set(req, this.now() + this.timeoutMs);
    const w: Watch = { deadlines: this, req };
    (req as Marked)[kWatch] = w;
    (req.stream as Marked)[kWatch] = w;
    req.once('end', forget);
    req.stream.once('close', forget);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.sweep(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Bodies being received now (tests). */
  get size(): number {
    return this.open.size;
  }

  forget(req: Http2ServerRequest): void {
    this.open.delete(req);
    if (this.open.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private sweep(): void {
    const now = this.now();
    for (const [req, deadline] of this.open) {
      if (deadline > now) continue;
      this.forget(req);
      if (!req.stream.destroyed) req.stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }

  /** Shutdown: no more sweeps. */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.open.clear();
  }
}

/** The body ended, or the stream closed (answered, reset, session gone) before it did. */
function forget(this: Marked): void {
  const w = this[kWatch];
  if (w !== undefined) w.deadlines.forget(w.req);
}

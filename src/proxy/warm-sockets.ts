/**
 * Pre-connected sockets to a standby backend (`proxy.standby_connections`): the site a tenant
 * would fail over to keeps a few idle TCP (or TLS) connections open, and the backend's undici
 * pool takes them, through its `connect` function, before it dials new ones. The first
 * requests after a flip then skip the connect (and the TLS handshake), which is most of the
 * gap between "routed to the new site" and "first answer from it", and a burst of held
 * requests needs that many fewer connects at the worst moment.
 *
 * undici has no pre-connect API (nodejs/undici#317); its documented `connect` option is the
 * seam: `connector(options, callback)` may hand back any connected socket. The sockets are
 * made by undici's own connector (`buildConnector`: same timeouts, keep-alive, TLS session
 * cache), so a warm socket is exactly what the pool would have dialled.
 *
 * An idle warm socket has sent nothing, so the upstream has nothing to say on it: any
 * readable event (data, or the upstream closing it) means it is no good, and it is dropped and
 * replaced. Each is also replaced after `idleMs` (keep_alive_timeout, jittered), the same bound
 * undici puts on its own idle connections, so that it is not handed over just as the upstream
 * times it out. Failed connects back off (1 s doubling to 30 s): a dead standby is not dialled
 * in a loop.
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { mark, TRACE } from '../trace-marks.js';

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

type Connector = buildConnector.connector;
type ConnectOptions = buildConnector.Options;

/** A warm socket closed sooner than this counts as a failed connect (backoff, no dial loop). */
const MIN_LIFE_MS = 1000;

const kWarm = Symbol('drproxy.warm');
const kBorn = Symbol('drproxy.warmBorn');
type WarmSocket = Socket & { [kWarm]?: WarmSockets; [kBorn]?: number };

export class WarmSockets {
  private readonly idle: WarmSocket[] = [];
  private target = 0;
  /** A one-off number to keep without replacing them (prefill), besides the target. */
  private burst = 0;
  private connecting = 0;
  /**
   * Pool connects waiting for a dial in flight (takeOrWait): at most one per dial. A flip's
   * pre-connect starts its dials while the epoch is persisted; when the route comes out before
   * they complete, the first requests take them as they complete rather than dial again.
   */
  private readonly waiters: Array<(s: Socket | undefined) => void> = [];
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Warm sockets handed to the pool so far (tests, status). */
  taken = 0;

  constructor(
    private readonly connector: Connector,
    private readonly options: ConnectOptions,
    private readonly idleMs: number,
  ) {}

  /** Idle warm sockets right now. */
  get size(): number {
    return this.idle.length;
  }

  /**
   * Keep `n` warm sockets open (0: stop replacing them; those still idle stay usable until
   * they age out, so the burst right after a flip can still use them).
   */
  setTarget(n: number): void {
    if (this.closed) return;
    this.target = n;
    if (n === 0) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      return;
    }
    this.fill();
  }

  /**
   * Dial up to `n` sockets now, once: none is replaced when the pool takes it or it ages out
   * (a flip's pre-connect to its target while its epoch is persisted). Backs off as fill() does.
   */
  prefill(n: number): void {
    if (this.closed || this.retryTimer !== undefined) return;
    this.burst = n;
    while (this.idle.length + this.connecting < n) this.dial();
  }

  /** An idle warm socket for the pool, or undefined (the pool dials one itself). */
  take(): Socket | undefined {
    while (this.idle.length > 0) {
      const s = this.idle.pop()!;
      this.forget(s);
      if (s.destroyed || s.readableLength > 0 || s.readableEnded) {
        s.destroy();
        continue;
      }
      this.taken++;
      if (TRACE) mark('warm-taken', this.idle.length);
      this.fill();
      return s;
    }
    return undefined;
  }

  /**
   * An idle warm socket, or else the next one a dial in flight brings (one waiter per dial);
   * `cb(undefined)` when there is none to wait for, or the dial failed: the caller dials.
   */
  takeOrWait(cb: (s: Socket | undefined) => void): void {
    const s = this.take();
    if (s !== undefined || this.closed || this.waiters.length >= this.connecting) {
      cb(s);
      return;
    }
    this.waiters.push(cb);
  }

  /** Close the idle warm sockets and make no more, until the next setTarget(n > 0). */
  discard(): void {
    this.setTarget(0);
    this.burst = 0;
    for (const w of this.waiters.splice(0)) w(undefined);
    for (const s of this.idle.splice(0)) {
      this.forget(s);
      s.destroy();
    }
  }

  /** discard(), for good. */
  close(): void {
    this.discard();
    this.closed = true;
  }

  private fill(): void {
    if (this.retryTimer !== undefined) return;
    while (!this.closed && this.idle.length + this.connecting < this.target) this.dial();
  }

  private dial(): void {
    this.connecting++;
    this.connector(this.options, (err, socket) => {
      this.connecting--;
      if (err || socket === null) {
        this.waiters.shift()?.(undefined);
        this.failed();
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter !== undefined) {
        this.taken++;
        if (TRACE) mark('warm-handed', this.connecting);
        waiter(socket);
        return;
      }
      if (this.closed || this.idle.length >= Math.max(this.target, this.burst)) {
        socket.destroy();
        return;
      }
      this.failures = 0;
      if (TRACE) mark('warm-connected', this.idle.length);
      this.keep(socket as WarmSocket);
    });
  }

  private failed(): void {
    if (this.closed || this.target === 0 || this.retryTimer !== undefined) return;
    const wait = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.fill();
    }, wait);
    this.retryTimer.unref();
  }

  private keep(s: WarmSocket): void {
    s[kWarm] = this;
    s[kBorn] = performance.now();
    s.on('readable', onWarmUnusable);
    s.on('error', onWarmUnusable);
    s.on('close', onWarmUnusable);
    s.on('timeout', onWarmUnusable);
    s.setTimeout(Math.round(this.idleMs * (0.75 + Math.random() * 0.25)));
    // Idle sockets must not keep the process alive (undici unrefs its idle connections too).
    s.unref();
    this.idle.push(s);
  }

  /** Undo keep(): the socket goes to the pool (or is destroyed) without our listeners. */
  private forget(s: WarmSocket): void {
    s[kWarm] = undefined;
    s.removeListener('readable', onWarmUnusable);
    s.removeListener('error', onWarmUnusable);
    s.removeListener('close', onWarmUnusable);
    s.removeListener('timeout', onWarmUnusable);
    s.setTimeout(0);
    s.ref();
  }

  /**
   * A warm socket heard from the upstream, failed, closed or aged out: replace it (after a
   * backoff if the upstream dropped it at once, e.g. a server refusing more connections).
   */
  drop(s: WarmSocket): void {
    const i = this.idle.indexOf(s);
    if (i !== -1) this.idle.splice(i, 1);
    this.forget(s);
    s.destroy();
    if (performance.now() - (s[kBorn] ?? 0) < MIN_LIFE_MS) this.failed();
    else this.fill();
  }
}

/** One listener function for every warm socket (no closure per socket). */
function onWarmUnusable(this: WarmSocket): void {
  this[kWarm]?.drop(this);
}

/**
 * The pool's connector: a warm socket when there is one, else a new connection. The callback
 * is always called asynchronously, as undici's own connector does (a synchronous call would
 * land inside the client's resume loop and leave the request unsent).
 */
export function warmConnector(connector: Connector, warm: () => WarmSockets | undefined): Connector {
  return (options, callback) => {
    const w = warm();
    if (w === undefined) {
      connector(options, callback);
      return;
    }
    let sync = true;
    w.takeOrWait((s) => {
      if (s === undefined) connector(options, callback);
      else if (sync) queueMicrotask(() => callback(null, s));
      else callback(null, s);
    });
    sync = false;
  };
}

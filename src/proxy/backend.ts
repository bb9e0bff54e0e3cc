/**
 * A backend as the data plane sees it: its keep-alive pool, the calls in flight on it, and the
 * passive-health counter fed by real traffic. The control plane decides whether it is routable
 * and acts on passive failures; the data plane only counts and forwards.
 */
import { Agent as HttpsAgent } from 'node:https';
import { Pool, type buildConnector } from 'undici';
import type { BackendConfig, ProxyConfig, SiteTlsConfig } from '../config/types.js';
import { CallList, type Listed } from './call-list.js';
import { WarmSockets, warmConnector } from './warm-sockets.js';
import { upstreamConnector } from './upstream-socket.js';
import { clientTlsOptions, originServername, sniFor, tlsConnector } from '../tls-name.js';
import { mark, TRACE } from '../trace-marks.js';

/** What the data plane needs of a call in flight to re-send it elsewhere or cut it. */
export interface InflightCall extends Listed {
  readonly idempotent: boolean;
  readonly responded: boolean;
  readonly bodyUntouched: boolean;
  /** When the attempt in flight was handed to this backend (performance.now()): list order. */
  readonly sentAt: number;
  /**
   * Since when the answer is awaited: the request fully written to its connection, body
   * included (Infinity before that: a request queued for a free connection, or still uploading
   * its body, is not waiting on the backend's slowness).
   */
  readonly waitFrom: number;
  /** This attempt was already counted as a slow answer (passive_health.slow_after). */
  slowCounted: boolean;
  /**
   * Hold the call until its tenant's next route (flip re-dispatch), aborting the attempt with
   * `reason`; without a reason the attempt is only detached and its connection is left to the
   * caller (see drain.ts).
   */
  redirect(reason?: Error): void;
}

export type PassiveFailure = 'connect' | 'reset' | 'timeout' | 'status' | 'slow' | 'protocol';

export class Backend {
  readonly key: string;
  readonly name: string;
  readonly origin: string;
  readonly weight: number;
  /** host:port, sent as Host when the client's Host is not preserved. */
  readonly hostHeader: string;
  /** The backend's own host, sent as undici's `servername` with every request (tls-name.ts). */
  readonly servername: string;
  /** For upgraded (WebSocket) connections to an https backend: the same TLS name as the pool's. */
  private tlsAgent: HttpsAgent | undefined;
  /** Created on first use: only backends that take traffic pay for a pool (memory at scale). */
  private livePool: Pool | undefined;
  /** Requests forwarded and not yet finished (upgraded connections included). */
  outstanding = 0;
  /** Calls in flight, for re-dispatch and drain at a flip (a list, not a Set: see call-list.ts). */
  readonly calls = new CallList<InflightCall>();
  /** Consecutive passive failures; reset by any success. */
  passiveFailures = 0;
  /** Passive failures in a row that make the control plane consider an ejection (0 = off). */
  passiveThreshold = 0;
  /** Upstream statuses that count as passive failures. */
  passiveStatuses: ReadonlySet<number> = new Set();
  /** Connections refused since the last success (counted in passiveFailures too). */
  passiveRefused = 0;
  /** Refusals without a success between that make the control plane consider an ejection (0 = only passiveThreshold counts). */
  refusedThreshold = 0;
  /**
   * Called when passiveFailures reaches passiveThreshold, inside a request's callback: its
   * outlier detector (health/outlier-detector.ts) only records the report here and acts on a
   * later turn.
   */
  onPassiveTrip: ((b: Backend, kind: PassiveFailure) => void) | undefined;
  /** Time of the first failure in the current passive streak (detection start), or 0. */
  passiveSince = 0;
  /** passive_health.slow_after in ms; 0 = off. */
  slowAfter = 0;
  /** Armed while calls are in flight and slowAfter is on: finds the calls without an answer yet. */
  private slowTimer: NodeJS.Timeout | undefined;
  /** Resolvers waiting for `calls` to empty (drain). */
  idleWaiters: Array<() => void> | undefined;
  private closed = false;
  /** Pre-connected sockets while this backend's site is the tenant's standby (warm-sockets.ts). */
  private warm: WarmSockets | undefined;
  /** undici's connector for this origin, shared by the pool and the warm sockets. */
  private connector: buildConnector.connector | undefined;
  /** A dial of this backend is due or in flight (dialCheck). */
  private dialing = false;

  constructor(
    readonly tenant: string,
    readonly site: string,
    cfg: BackendConfig,
    private readonly proxy: ProxyConfig,
    /** Wall clock of passiveSince: the controller's (tests inject one). */
    private readonly now: () => number = Date.now,
    /** The site's `tls` (mTLS): CA, client certificate, TLS name; used for https origins only. */
    private readonly tls?: SiteTlsConfig,
  ) {
    this.key = `${tenant}/${site}/${cfg.name}`;
    this.name = cfg.name;
    this.origin = cfg.origin;
    this.weight = cfg.weight;
    this.hostHeader = new URL(cfg.origin).host;
    this.servername = tls?.servername ?? originServername(cfg.origin);
  }

  get pool(): Pool {
    return (this.livePool ??= this.newPool());
  }

  private newPool(): Pool {
    const p = this.proxy;
    return new Pool(this.origin, {
      connections: p.max_connections,
      pipelining: 1,
      // undici's own connector (connect_timeout, TCP keep-alive, TLS session cache), taking a
      // warm socket first when the site was on standby; upstream-socket.ts prepares each one.
      connect: upstreamConnector(warmConnector(this.baseConnector(), () => this.warm)),
      headersTimeout: p.response_timeout,
      bodyTimeout: p.body_timeout,
      keepAliveTimeout: p.keep_alive_timeout,
      keepAliveMaxTimeout: Math.max(p.keep_alive_timeout, 60_000),
      strictContentLength: true,
    });
  }

  private baseConnector(): buildConnector.connector {
    return (this.connector ??= tlsConnector({ timeout: this.proxy.connect_timeout, ...clientTlsOptions(this.tls) }));
  }

  /** What baseConnector() dials for a connection outside the pool (warm sockets, dialCheck). */
  private connectOptions(): buildConnector.Options {
    const u = new URL(this.origin);
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    return { hostname: this.servername, host: u.host, protocol: u.protocol, port };
  }

  /**
   * Keep `n` pre-connected sockets to this backend (its site is the tenant's standby). With
   * n = 0 they are no longer replaced, and those still idle are closed unless `keepIdle` (the
   * site has just become active: its pool takes them as the burst after the flip needs them).
   * Called by the control plane whenever it publishes a route.
   */
  setStandby(n: number, keepIdle = false): void {
    const want = Math.min(n, this.proxy.max_connections);
    if (want === 0) {
      if (keepIdle) this.warm?.setTarget(0);
      else this.warm?.discard();
      return;
    }
    this.warm ??= new WarmSockets(this.baseConnector(), this.connectOptions(), this.proxy.keep_alive_timeout);
    this.warm.setTarget(want);
  }

  /**
   * Dial this backend once, DIAL_DELAY_MS from now, and count a refused connection as a refused
   * request would (passiveRefusal). For a request held for another site after its only backend
   * broke the connection: a process being killed goes on accepting connections on its listening
   * socket until its sockets close, so that request and its retry can both end in a reset, and
   * nothing tells drproxy that the port is closed now until the next request or probe. A
   * connection that opens is closed at once and proves nothing either way. At most one dial at
   * a time, none for a retired backend.
   */
  dialCheck(): void {
    if (this.dialing || this.closed) return;
    this.dialing = true;
    setTimeout(dialBackend, DIAL_DELAY_MS, this).unref();
  }

  /**
   * A request on this backend was reset: dial it now, and once more DIAL_DELAY_MS later if that
   * dial connected (see dialCheck). A SIGKILLed process has usually closed its listening socket
   * before its connections (lower fd), so the refusal comes a connect's time after the first
   * reset, where the retry of the reset request through the pool may first meet more of the
   * dead keep-alive connections. Only with refusals counted (consecutive_refused) and passive
   * health on, for a reset met by real traffic (the backend has a pool: a worker thread's
   * counters fed by hand, as in tests, dial nothing); one dial at a time.
   */
  dialAfterReset(): void {
    if (this.refusedThreshold === 0 || this.passiveThreshold === 0 || this.dialing || this.closed || this.livePool === undefined) return;
    this.dialing = true;
    this.dialNow(true);
  }

  /** The dial of dialCheck, through undici's connector (connect_timeout, TLS as the pool's); `again`: dial once more later if it connects. */
  dialNow(again = false): void {
    if (this.closed) {
      this.dialing = false;
      return;
    }
    this.baseConnector()(this.connectOptions(), (err, socket) => {
      this.dialing = false;
      if (TRACE) mark('dial-check', (err as (Error & { code?: string }) | null)?.code ?? 'connected');
      socket?.destroy();
      if ((err as (Error & { code?: string }) | null)?.code === 'ECONNREFUSED' && !this.closed) this.passiveRefusal();
      else if (again && err === null) this.dialCheck();
    });
  }

  /**
   * Open `n` connections now for the pool to take first (warm-sockets.ts prefill), none
   * replaced: a flip's target while the flip persists its epoch (failover/preconnect.ts).
   */
  preconnect(n: number): void {
    if (n <= 0) return;
    this.warm ??= new WarmSockets(this.baseConnector(), this.connectOptions(), this.proxy.keep_alive_timeout);
    this.warm.prefill(Math.min(n, this.proxy.max_connections));
  }

  /** Idle pre-connected sockets and how many the pool has taken (status, tests). */
  get standbySockets(): { idle: number; taken: number } {
    return { idle: this.warm?.size ?? 0, taken: this.warm?.taken ?? 0 };
  }

  /**
   * The agent http-proxy-3 opens upgraded connections with: for https, one that fixes the TLS
   * name to this backend's (Node's agent would also take it from the Host header); undefined
   * for http.
   */
  get upgradeAgent(): HttpsAgent | undefined {
    if (!this.origin.startsWith('https:')) return undefined;
    // Node's agent sends no SNI for an empty servername (and takes the Host header for none).
    return (this.tlsAgent ??= new HttpsAgent({ servername: sniFor(this.servername) ?? '', ...clientTlsOptions(this.tls) }));
  }

  /** A call was sent to this backend. Hot path: with slow_after off, one compare more. */
  track(call: InflightCall): void {
    this.calls.add(call);
    if (this.slowAfter !== 0 && this.slowTimer === undefined) this.armSlow(call.sentAt + this.slowAfter + SLOW_SLACK_MS - performance.now());
  }

  private armSlow(ms: number): void {
    // A module function and `this` as its argument: no closure kept per backend (30,000 of
    // them at 5,000 tenants, most never armed).
    this.slowTimer = setTimeout(sweepSlow, Math.max(1, ms), this);
    this.slowTimer.unref();
  }

  /**
   * Count every call that has waited slow_after for response headers since it was fully sent
   * as one passive failure (once per attempt). The list is in sending order, so the walk starts
   * at the oldest call and stops at the first one sent less than slow_after ago; the next sweep
   * is due when the first call not counted yet would be late (plus SLOW_SLACK_MS, so that the
   * microseconds between handing a call to undici and its write do not cost a second sweep),
   * at most one sweep per millisecond. No timer while nothing is in flight.
   */
  sweepSlowCalls(): void {
    this.slowTimer = undefined;
    const after = this.slowAfter;
    if (after === 0 || this.closed) return;
    const now = performance.now();
    let late = 0;
    let due = Infinity;
    let c = this.calls.oldest();
    for (; c !== null && c.sentAt + after <= now; c = this.calls.newer(c)) {
      if (c.responded || c.slowCounted) continue;
      const at = c.waitFrom + after; // Infinity until the request is fully written
      if (at <= now) {
        c.slowCounted = true;
        late++;
      } else if (at < due) {
        due = at;
      }
    }
    if (c !== null && c.sentAt + after < due) due = c.sentAt + after;
    // Nothing due (calls queued or uploading, answers streaming, calls counted): none can be
    // late sooner than slow_after from now.
    if (this.calls.size !== 0) this.armSlow((due === Infinity ? now + after : due + SLOW_SLACK_MS) - now);
    for (let i = 0; i < late; i++) this.passiveFailure('slow');
  }

  /** Resolves when no call is in flight on this backend (drain). */
  whenIdle(): Promise<void> {
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = undefined;
    if (waiters) for (const w of waiters) w();
  }

  /** A fresh pool after a drain closed the old one (the site takes traffic again). */
  reopen(): void {
    if (!this.closed) return;
    this.closed = false;
    this.livePool = undefined;
  }

  /** A real-traffic failure. Cheap: one increment and a compare on the hot path. */
  passiveFailure(kind: PassiveFailure): void {
    if (TRACE) mark(`passive-failure:${this.site}`, kind);
    if (this.passiveFailures++ === 0) this.passiveSince = this.now();
    if (this.passiveTripped) this.onPassiveTrip?.(this, kind);
    else if (kind === 'reset') this.dialAfterReset();
  }

  /**
   * A connection refused (ECONNREFUSED): nothing listens on the backend's port. That is no
   * overload or slowness but a plain "not there", so it ejects sooner (consecutive_refused, 1 by
   * default, as NGINX's max_fails): at a crash, every further attempt before the ejection costs a
   * connect and a refused-connection error on the event loop that is about to run the flip.
   */
  passiveRefusal(): void {
    this.passiveRefused++;
    this.passiveFailure('connect');
  }

  /** The current streak is enough to eject this backend (its own thresholds). */
  get passiveTripped(): boolean {
    if (this.passiveThreshold === 0) return false;
    return this.passiveFailures >= this.passiveThreshold || (this.refusedThreshold !== 0 && this.passiveRefused >= this.refusedThreshold);
  }

  /** A real-traffic success. */
  passiveSuccess(): void {
    if (this.passiveFailures !== 0) {
      this.passiveFailures = 0;
      this.passiveRefused = 0;
      this.passiveSince = 0;
    }
  }

  private stopSlow(): void {
    if (this.slowTimer !== undefined) clearTimeout(this.slowTimer);
    this.slowTimer = undefined;
  }

  /** Close the pool once in-flight requests are done. */
  async close(): Promise<void> {
    this.stopSlow();
    this.warm?.close();
    this.warm = undefined;
    if (this.closed) return;
    this.closed = true;
    await this.livePool?.close().catch(() => {});
  }

  /** Nothing is queued or running in this backend's pool (or it has none). */
  get poolIdle(): boolean {
    const p = this.livePool;
    return p === undefined || p.stats.size === 0;
  }

  /**
   * Take this backend out of service (a drain whose calls all moved): no slow sweeps or standby
   * sockets from now on, and `reopen()` gives it a fresh pool. Returns the function that
   * destroys the pool it had, which may run later: it destroys that pool only, never a fresh one.
   */
  retire(reason?: Error): () => Promise<void> {
    this.stopSlow();
    this.warm?.close();
    this.warm = undefined;
    this.closed = true;
    const pool = this.livePool;
    return async () => {
      await pool?.destroy(reason ?? null).catch(() => {});
    };
  }

  /** Cut every connection of this backend now, in-flight requests included. */
  destroy(reason?: Error): Promise<void> {
    return this.retire(reason)();
  }
}

/**
 * Added to a slow_after sweep's due time. Found by the hang benchmark: a sweep due exactly when
 * the first call would be late found it late by microseconds too early (its clock starts at
 * the write, its place in the list at the dispatch), and the next sweep, slow_after / 8 later,
 * added 13–26 ms to the detection.
 */
const SLOW_SLACK_MS = 1;

/**
 * How long after a held request's reset its backend is dialled (Backend.dialCheck): the
 * process that reset it may still be closing its sockets, its listening socket among them.
 */
const DIAL_DELAY_MS = 5;

/** dialCheck's timer callback (a module function: no closure per dial). */
function dialBackend(b: Backend): void {
  b.dialNow();
}

/** The slow_after timer's callback (see Backend.sweepSlowCalls). */
function sweepSlow(b: Backend): void {
  b.sweepSlowCalls();
}

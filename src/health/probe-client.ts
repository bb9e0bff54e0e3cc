/**
 * The health checks' own HTTP/1.1 client: keep-alive connections per backend origin on plain
 * `net`/`tls` sockets, a prebuilt request per check, and a strict reader of the answer
 * (probe-response.ts). It takes the place of undici's Agent for probes only, with the same
 * `dispatch(options, handler)` call and the handler calls Probe answers (onConnect,
 * onRequestSent, onHeaders, onData, onComplete, onError), so ActiveCheck and Probe are unchanged.
 *
 * Why not undici: counted with callgrind, a probe through undici's dispatch ran ~3.7× the
 * instructions of a bare keep-alive socket loop, most of it in the general client (its request
 * object and queue, llhttp's callbacks, header arrays, timers); this reader does only what a
 * probe needs (docs/design.md, "Probes on their own client"). Connection timeouts are undici's
 * (10 s to connect); a probe's own timeout is Probe's timer, as before.
 */
import net from 'node:net';
import tls from 'node:tls';
import { sniFor, type NamedDispatch } from '../tls-name.js';
import { ResponseReader, badResponse, type ResponseSink } from './probe-response.js';
import { DrProxyError } from '../errors.js';

/** What Probe (probe.ts) implements: undici's dispatch handler, the calls a probe uses. */
export interface ProbeHandler {
  onConnect(abort: (err?: Error) => void): void;
  onRequestSent?(): void;
  onHeaders(statusCode: number, ...rest: never[]): boolean;
  onData(chunk: Buffer): boolean;
  /** false: the body's bytes are not wanted, and onData is not called (Probe without expect_body or data_age). */
  readonly wantsBody?: boolean;
  onComplete(...rest: never[]): void;
  onError(err: Error): void;
}

/** What ActiveCheck sends probes through: this client, or (tests) an undici dispatcher. */
export interface ProbeDispatcher {
  dispatch(options: NamedDispatch, handler: ProbeHandler): unknown;
}

export interface ProbeClientOptions {
  /** A site's mTLS material for https backends (clientTlsOptions). */
  tls?: { ca?: string; cert?: string; key?: string };
  /** Connections per origin at most; more probes wait for one (undici's Agent had 64). */
  connections?: number;
  /** An idle connection is closed after this long unused, give or take half of it. */
  keepAliveTimeout?: number;
  /** A connect not done within this fails its probe (undici's default, 10 s). */
  connectTimeout?: number;
}

/** Header names and values a request may carry (no CR, LF or NUL: no header injection). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[^\x00\r\n]*$/;

/**
 * What a check's dispatch options resolve to, kept on the options object itself (ActiveCheck
 * builds them once per check): its origin's pool and its request's bytes, found at each probe
 * without a Map or WeakMap lookup.
 */
const TARGET = Symbol('drproxy.probeTarget');

interface ProbeTarget {
  readonly client: ProbeClient;
  pool: OriginPool;
  /** The request's bytes (built at the first send: a bad header fails that probe). */
  bytes: Buffer | undefined;
  /** A HEAD request: the answer has no body. */
  readonly noBody: boolean;
}

type Targeted = NamedDispatch & { [TARGET]?: ProbeTarget };

function requestBytes(o: NamedDispatch, host: string): Buffer {
  const path = o.path;
  if (!/^[\x21-\x7e]+$/.test(path)) throw new DrProxyError('DRP_PROBE_RESPONSE', 'probe path has characters a request line cannot carry');
  let head = '';
  const headers = (o.headers ?? {}) as Record<string, string>;
  let hasHost = false;
  for (const [k, v] of Object.entries(headers)) {
    if (!TOKEN.test(k) || !VALUE.test(String(v))) throw new DrProxyError('DRP_PROBE_RESPONSE', `probe header ${JSON.stringify(k)} cannot be sent`);
    if (k.toLowerCase() === 'host') hasHost = true;
    head += `${k}: ${v}\r\n`;
  }
  return Buffer.from(`${o.method} ${path} HTTP/1.1\r\n${hasHost ? '' : `host: ${host}\r\n`}${head}\r\n`, 'latin1');
}

/** Every connection of one origin, and the probes waiting for one. */
class OriginPool {
  readonly idle: ProbeConnection[] = [];
  /** Every open connection, idle or carrying a probe (destroy closes them all). */
  readonly all = new Set<ProbeConnection>();
  open = 0;
  readonly waiting: Array<[NamedDispatch, ProbeHandler]> = [];
  readonly host: string;
  readonly hostname: string;
  readonly port: number;
  readonly secure: boolean;
  /** The last TLS session a backend gave (resumed on the next connect). */
  session: Buffer | undefined;
  /** Forgotten by the client's sweep: targets that still point here look their pool up again. */
  retired = false;

  constructor(
    origin: string,
    readonly client: ProbeClient,
  ) {
    const u = new URL(origin);
    this.secure = u.protocol === 'https:';
    this.host = u.host;
    this.hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.port = u.port === '' ? (this.secure ? 443 : 80) : Number(u.port);
  }

  dispatch(o: NamedDispatch, h: ProbeHandler, fresh: boolean): void {
    const c = fresh ? undefined : this.idle.pop();
    if (c !== undefined) c.send(o, h);
    else if (this.open < this.client.connections) {
      let c: ProbeConnection;
      try {
        c = new ProbeConnection(this, o, h);
      } catch (err) {
        // No socket (TLS material Node refuses): this probe fails, and no connection is counted
        // (one counted here for good would, at the limit, leave every later probe waiting).
        h.onError(err as Error);
        return;
      }
      this.open++;
      this.all.add(c);
    } else this.waiting.push([o, h]);
  }

  /** A connection's answer is complete and it may carry another probe. */
  release(c: ProbeConnection): void {
    const next = this.waiting.shift();
    if (next !== undefined) c.send(next[0], next[1]);
    else this.idle.push(c);
  }

  /** A connection is gone. */
  removed(c: ProbeConnection): void {
    this.open--;
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
    const next = this.waiting.shift();
    if (next !== undefined) this.dispatch(next[0], next[1], false);
  }
}

/** One keep-alive connection to a backend, carrying one probe at a time. */
class ProbeConnection implements ResponseSink {
  private readonly socket: net.Socket;
  private readonly reader = new ResponseReader();
  private handler: ProbeHandler | undefined;
  private options: NamedDispatch;
  private connected = false;
  /** Probes this connection carried (a reused one that closes unanswered is retried once). */
  private uses = 0;
  private done = false;
  private keep = false;
  /** Sweeps of the client this connection stayed idle through (closed at two). */
  idleSweeps = 0;
  private gone = false;

  constructor(
    private readonly pool: OriginPool,
    o: NamedDispatch,
    h: ProbeHandler,
  ) {
    this.handler = h;
    this.options = o;
    const client = pool.client;
    if (pool.secure) {
      this.socket = tls.connect({
        secureContext: client.secureContext(),
        host: pool.hostname,
        port: pool.port,
        servername: sniFor(o.servername ?? pool.hostname),
        session: pool.session,
        ALPNProtocols: ['http/1.1'],
      });
      this.socket.once('secureConnect', this.onOpen);
      this.socket.on('session', (s: Buffer) => (pool.session = s));
    } else {
      this.socket = net.connect(pool.port, pool.hostname);
      this.socket.once('connect', this.onOpen);
    }
    this.socket.setNoDelay(true);
    this.socket.setTimeout(client.connectTimeout, this.onConnectTimeout);
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onEnd);
    this.socket.on('error', this.onSocketError);
    this.socket.on('close', this.onClose);
  }

  get isConnected(): boolean {
    return this.connected && !this.gone;
  }

  private readonly onOpen = (): void => {
    this.connected = true;
    this.socket.setTimeout(0);
    const h = this.handler;
    if (h !== undefined) this.send(this.options, h);
  };

  private readonly onConnectTimeout = (): void => {
    if (this.connected) return;
    this.fail(Object.assign(new Error(`connect timeout after ${this.pool.client.connectTimeout}ms`), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
  };

  /** Carry one probe: undici's order, onConnect (which may abort it), the write, onRequestSent. */
  send(o: NamedDispatch, h: ProbeHandler): void {
    this.handler = h;
    this.options = o;
    this.idleSweeps = 0;
    if (!this.connected) return; // onOpen sends it
    this.uses++;
    this.done = false;
    const t = (o as Targeted)[TARGET];
    this.reader.reset(t !== undefined ? t.noBody : o.method === 'HEAD');
    h.onConnect((err) => {
      if (this.handler === h) this.fail(err ?? new Error('probe aborted'));
    });
    if (this.handler !== h) return; // aborted in onConnect
    let bytes = t?.bytes;
    if (bytes === undefined) {
      try {
        bytes = requestBytes(o, this.pool.host);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      if (t !== undefined) t.bytes = bytes;
    }
    this.socket.write(bytes);
    h.onRequestSent?.();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.handler === undefined) {
      // Bytes no probe asked for: the backend is not speaking HTTP/1.1 as we know it.
      this.close();
      return;
    }
    try {
      this.reader.feed(chunk, this);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.done) this.complete();
  };

  onStatus(status: number): void {
    this.handler?.onHeaders(status);
  }

  onBody(chunk: Buffer, from: number, to: number): void {
    const h = this.handler;
    if (h === undefined || h.wantsBody === false) return;
    h.onData(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
  }

  /** Completed after the whole read has been judged (feed threw on bytes after the end). */
  onDone(keepAlive: boolean): void {
    this.done = true;
    this.keep = keepAlive;
  }

  private complete(): void {
    const h = this.handler!;
    this.handler = undefined;
    if (this.keep && !this.gone) this.pool.release(this);
    else this.close();
    h.onComplete();
  }

  private readonly onEnd = (): void => {
    if (this.handler === undefined || !this.connected) return;
    try {
      this.reader.end(this);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.done) this.complete();
  };

  private readonly onSocketError = (err: Error): void => {
    this.fail(err);
  };

  private readonly onClose = (): void => {
    if (this.handler !== undefined) this.fail(badResponse(this.connected ? 'connection closed before any answer' : 'connection closed while connecting'));
    else this.close();
  };

  /** The probe in flight fails and the connection goes; a reused one closed unanswered retries once. */
  private fail(err: Error): void {
    const h = this.handler;
    const o = this.options;
    this.handler = undefined;
    this.close();
    if (h === undefined) return;
    // A keep-alive connection the backend closed just as the probe went out (its idle timeout):
    // not the backend's answer. The probe goes again on a new connection, once.
    const retry = this.uses > 1 && this.reader.untouched && isClosedUnanswered(err);
    if (retry) this.pool.dispatch(o, h, true);
    else h.onError(err);
  }

  /** Closed by ProbeClient.destroy: a probe in flight fails with `err`; resolves once the socket is closed. */
  destroyWith(err: Error): Promise<void> {
    const closed = this.socket.closed ? Promise.resolve() : new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.uses = 0; // no retry
    this.fail(err);
    return closed;
  }

  close(): void {
    if (this.gone) return;
    this.gone = true;
    this.socket.destroy();
    this.pool.removed(this);
  }
}

/** An error that means the peer closed or reset the connection (not a timeout, not a bad answer). */
function isClosedUnanswered(err: Error): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ECONNRESET' || code === 'EPIPE' || (code === 'DRP_PROBE_RESPONSE' && err.message.includes('before any answer'));
}

const DESTROYED = new DrProxyError('DRP_INTERNAL', 'probe client destroyed');

/** Probes' connections for every origin (one client per distinct TLS material). */
export class ProbeClient implements ProbeDispatcher {
  private readonly pools = new Map<string, OriginPool>();
  readonly connections: number;
  readonly connectTimeout: number;
  readonly tlsOptions: { ca?: string; cert?: string; key?: string };
  /** Made once (at the first https connect): PEMs are parsed once, not at every connect. */
  private context: tls.SecureContext | undefined;
  private readonly sweeper: NodeJS.Timeout;
  private destroyed = false;

  constructor(o: ProbeClientOptions = {}) {
    this.connections = o.connections ?? 64;
    this.connectTimeout = o.connectTimeout ?? 10_000;
    this.tlsOptions = o.tls ?? {};
    // One sweep for every connection, not a timer per socket re-armed by each probe.
    this.sweeper = setInterval(() => this.sweep(), (o.keepAliveTimeout ?? 10_000) / 2);
    this.sweeper.unref();
  }

  dispatch(o: NamedDispatch, h: ProbeHandler): boolean {
    if (this.destroyed) throw DESTROYED;
    const t = (o as Targeted)[TARGET];
    const pool = t !== undefined && t.client === this && !t.pool.retired ? t.pool : this.target(o as Targeted);
    pool.dispatch(o, h, false);
    return true;
  }

  /** The options' pool, looked up (first probe, or its pool was forgotten) and kept on them. */
  private target(o: Targeted): OriginPool {
    let pool = this.pools.get(o.origin as string);
    if (pool === undefined) {
      pool = new OriginPool(o.origin as string, this);
      this.pools.set(o.origin as string, pool);
    }
    const t = o[TARGET];
    if (t !== undefined && t.client === this) t.pool = pool;
    else if (Object.isExtensible(o)) o[TARGET] = { client: this, pool, bytes: undefined, noBody: o.method === 'HEAD' };
    return pool;
  }

  /**
   * Per origin, in the shape of undici's `Agent.stats`: connections open and connected, and
   * probes running or waiting (`size`). For tests, which run against either dispatcher.
   */
  get stats(): Record<string, { connected: number; size: number }> {
    const out: Record<string, { connected: number; size: number }> = {};
    for (const [origin, pool] of this.pools) {
      let connected = 0;
      for (const c of pool.all) if (c.isConnected) connected++;
      out[origin] = { connected, size: pool.open - pool.idle.length + pool.waiting.length };
    }
    return out;
  }

  /** The TLS context of every https connection of this client (a site's CA and client certificate). */
  secureContext(): tls.SecureContext {
    return (this.context ??= tls.createSecureContext(this.tlsOptions));
  }

  /** Idle connections unused for two sweeps are closed; empty origins are forgotten. */
  private sweep(): void {
    for (const [origin, pool] of this.pools) {
      for (const c of [...pool.idle]) if (++c.idleSweeps >= 2) c.close();
      if (pool.open === 0 && pool.waiting.length === 0) {
        pool.retired = true;
        this.pools.delete(origin);
      }
    }
  }

  /** Every connection closed at once (probes in flight fail with their connection). */
  async destroy(): Promise<void> {
    this.destroyed = true;
    clearInterval(this.sweeper);
    // Resolved when every socket has closed, as undici's destroy is (shutdown's next steps
    // may depend on it having taken a turn: the admin API's gzip streams end meanwhile).
    const closing: Array<Promise<void>> = [];
    for (const pool of this.pools.values()) {
      for (const [, h] of pool.waiting.splice(0)) h.onError(DESTROYED);
      for (const c of [...pool.all]) closing.push(c.destroyWith(DESTROYED));
    }
    this.pools.clear();
    await Promise.all(closing);
  }
}

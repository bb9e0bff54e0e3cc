/**
 * Limits on a listener's client connections (issue 16, item 1): what NGINX's
 * keepalive_timeout and worker_connections / limit_conn and HAProxy's maxconn do. It costs per
 * connection, never per request: it sits in front of Node's HTTP connection handler and sees
 * each socket once, at accept.
 *
 * What Node already bounds, and is not redone here: before the first request, Node's parser
 * starts the headers deadline at accept (node_http_parser.cc, Parser::Initialize sets
 * last_message_start_ "to protect from a DoS attack where an attacker establishes the connection
 * without sending any data"), so a silent socket gets 408 and is closed after
 * server.headers_timeout (test/hostile/idle-sockets.test.ts holds Node to it). Between requests
 * Node arms socket.setTimeout(keep_alive_timeout + 1 s) after each answer and clears it at the
 * next request; this guard never sets a socket timeout on a socket it hands to Node, so the two
 * cannot fight. The gap it closes: keep_alive_timeout 0, which Node reads as "idle forever",
 * means no keep-alive here, as in NGINX.
 *
 * - Caps: server.max_connections in all (lowered to what RLIMIT_NOFILE leaves after
 *   server.fd_reserve, see fd-limit.ts) and server.max_connections_per_client per address.
 *   A connection over a cap gets a short raw 503 and is closed before Node's HTTP parser ever
 *   sees it; it is counted and logged at most once per 10 s per reason.
 * - The admin listener has a guard of its own (admin.max_connections, _per_client), without
 *   the descriptor arithmetic: its few connections are part of the data plane's fd_reserve.
 * - Accept errors are counted and logged, never thrown: an `error` event without a listener
 *   would end the process. On EMFILE libuv first closes a spare descriptor, accepts and closes
 *   the pending connections (their clients see a reset: hence the reserve above), and only
 *   when it cannot (no spare, or ENFILE) does Node emit `error` (`accept EMFILE`).
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import type { ServerConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { clientConnectionCap, openFileLimit } from './fd-limit.js';
import { RefusalLog } from './refusal-log.js';
import { peerAddress } from './proxy-header-reader.js';

export type RefusalReason = 'max_connections' | 'fd_limit' | 'max_connections_per_client' | 'accept_error';

export interface ConnectionLimits extends Pick<ServerConfig, 'max_connections' | 'max_connections_per_client'> {
  /**
   * Descriptors kept for the rest of the process: the cap is lowered to what RLIMIT_NOFILE
   * leaves after them. Unset: not lowered (the admin listener, whose cap is inside the reserve).
   */
  fd_reserve?: number;
  /** 0 turns keep-alive off (see noKeepAlive); unset leaves the server's own setting. */
  keep_alive_timeout?: number;
}

export interface GuardOptions {
  /** Names the listener in logs: "data plane", "admin". */
  listener?: string;
  /** RLIMIT_NOFILE, for tests; read from /proc when fd_reserve is set. */
  softLimit?: number | undefined;
  /** How the first server is attached (see attach). */
  tls?: boolean;
  proxyProtocol?: boolean;
}

/** A refused client may try again after this many seconds (idle connections close within headers_timeout). */
const RETRY_AFTER_S = 1;
/**
 * A refused socket is read (and what it sends dropped) for at most this long after its 503, so
 * that closing it with unread bytes does not reset the connection and lose the answer.
 */
const LINGER_MS = 1000;
/**
 * Refused sockets lingering at once, at most: they hold descriptors, taken from fd_reserve (a
 * quarter of it at most). Past it they close as soon as the 503 is sent.
 */
const MAX_LINGERING = 64;
const LOG_WINDOW_MS = 10_000;

export class ConnectionGuard {
  /** Client connections accepted and not yet closed. */
  open = 0;
  /** The effective cap on client connections: max_connections, or lower when RLIMIT_NOFILE is. */
  readonly cap: number;
  readonly refused: Record<RefusalReason, number> = { max_connections: 0, fd_limit: 0, max_connections_per_client: 0, accept_error: 0 };
  private readonly capReason: RefusalReason;
  private readonly perClient: number;
  private readonly byClient = new Map<string, number>();
  private lingering = 0;
  private readonly lingerMax: number;
  private readonly answers: Record<'total' | 'client', Buffer>;
  private readonly report: RefusalLog<RefusalReason>;

  constructor(
    server: http.Server,
    limits: ConnectionLimits,
    log: Logger,
    opts: GuardOptions = {},
  ) {
    const listener = opts.listener ?? 'data plane';
    const reserve = limits.fd_reserve;
    const softLimit = reserve === undefined ? undefined : 'softLimit' in opts ? opts.softLimit : openFileLimit();
    const fdCap = softLimit === undefined || reserve === undefined ? Infinity : clientConnectionCap(softLimit, reserve);
    this.cap = Math.min(limits.max_connections, fdCap);
    this.capReason = fdCap < limits.max_connections ? 'fd_limit' : 'max_connections';
    if (fdCap < limits.max_connections) {
      log.warn(
        { event: 'connection_cap', listener, cap: this.cap, max_connections: limits.max_connections, open_files_limit: softLimit, fd_reserve: reserve },
        `${listener}: at most ${this.cap} client connections, below server.max_connections (${limits.max_connections}): ` +
          `the open-file limit is ${softLimit} (ulimit -n) and server.fd_reserve ${reserve}; raise ulimit -n for more`,
      );
    }
    this.perClient = limits.max_connections_per_client;
    // Lingering sockets hold descriptors: a quarter of the reserve, or of the admin's own cap.
    this.lingerMax = Math.min(MAX_LINGERING, Math.floor((reserve ?? limits.max_connections) / 4));
    this.answers = {
      total: refusedAnswer('the proxy has too many open connections; retry later'),
      client: refusedAnswer('too many open connections from this address; close idle ones or retry later'),
    };
    this.report = new RefusalLog(log, LOG_WINDOW_MS, listener);
    this.noKeepAlive = limits.keep_alive_timeout === 0;
    this.attach(server, { tls: opts.tls === true, proxyProtocol: opts.proxyProtocol === true });
  }

  private readonly noKeepAlive: boolean;

  /**
   * Put the gate in front of a server's HTTP connection handler, and survive accept errors.
   * The data plane attaches every listener (listeners.ts) to one guard: its caps are
   * process-wide, over all listeners together (descriptors are the process's).
   */
  attach(server: http.Server, opts: { tls?: boolean; proxyProtocol?: boolean } = {}): void {
    if (this.noKeepAlive) noKeepAlive(server);
    const plain = opts.tls !== true;
    // Behind a PROXY protocol balancer every TCP peer is the balancer: the per-client cap
    // counts the header's client instead, once it is read (admitClient).
    const perClient = opts.proxyProtocol !== true;
    // A TLS server's 'connection' is the TCP accept (before the handshake): refused sockets never cost one.
    const handlers = server.listeners('connection') as Array<(this: http.Server, socket: Socket) => void>;
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => {
      if (!this.admit(socket, plain, perClient)) return;
      for (const h of handlers) h.call(server, socket);
    });
    server.on('error', (err: NodeJS.ErrnoException) => {
      // Before listening, listen() reports its own failure.
      if (!server.listening) return;
      this.refused.accept_error++;
      this.report.note('accept_error', err.code ?? err.message);
    });
    server.on('close', () => this.report.close());
  }

  private admit(socket: Socket, plain: boolean, perClient: boolean): boolean {
    const client = clientAddress(socket.remoteAddress);
    if (client === undefined) {
      // Reset by the client before we saw it.
      socket.destroy();
      return false;
    }
    let reason: RefusalReason | undefined;
    if (this.open >= this.cap) reason = this.capReason;
    else if (perClient && this.overClientCap(client)) reason = 'max_connections_per_client';
    if (reason !== undefined) {
      this.refuse(socket, reason, client, plain);
      return false;
    }
    this.open++;
    socket.once('close', () => this.open--);
    if (perClient) this.countClient(socket, client);
    return true;
  }

  /**
   * A PROXY protocol listener's connection once its header is read: the per-client cap on the
   * client it names (the TCP peer when the header names none, LOCAL). False: refused and closed.
   */
  admitClient(socket: Socket, plain: boolean): boolean {
    if (this.perClient === 0) return true;
    const client = clientAddress(peerAddress(socket));
    if (client === undefined) {
      socket.destroy();
      return false;
    }
    if (this.overClientCap(client)) {
      this.refuse(socket, 'max_connections_per_client', client, plain);
      return false;
    }
    this.countClient(socket, client);
    return true;
  }

  private overClientCap(client: string): boolean {
    return this.perClient > 0 && (this.byClient.get(client) ?? 0) >= this.perClient;
  }

  private countClient(socket: Socket, client: string): void {
    if (this.perClient === 0) return;
    this.byClient.set(client, (this.byClient.get(client) ?? 0) + 1);
    socket.once('close', () => {
      const n = this.byClient.get(client)! - 1;
      if (n === 0) this.byClient.delete(client);
      else this.byClient.set(client, n);
    });
  }

  private refuse(socket: Socket, reason: RefusalReason, client: string, plain: boolean): void {
    this.refused[reason]++;
    this.report.note(reason, client);
    socket.on('error', () => {});
    // Before a TLS handshake there is no way to send an HTTP answer: the connection is closed.
    if (!plain) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(timer));
    if (this.lingering < this.lingerMax) {
      this.lingering++;
      socket.once('close', () => this.lingering--);
      socket.once('end', () => socket.destroy());
      socket.resume();
    } else {
      socket.once('finish', () => socket.destroy());
    }
    socket.end(reason === 'max_connections_per_client' ? this.answers.client : this.answers.total);
  }
}

/** The client address a per-client cap counts: an IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d. */
export function clientAddress(remote: string | undefined): string | undefined {
  if (remote === undefined || remote === '') return undefined;
  const lower = remote.toLowerCase();
  return lower.startsWith('::ffff:') && lower.includes('.') ? lower.slice(7) : lower;
}

/** The raw 503 of a refused connection, in the style of responses.ts, with a JSON body. */
function refusedAnswer(detail: string): Buffer {
  const body = `${JSON.stringify({ error: 'too_many_connections', detail })}\n`;
  return Buffer.from(
    'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nretry-after: ${RETRY_AFTER_S}\r\n` +
      `x-drproxy-error: too_many_connections\r\nconnection: close\r\n\r\n${body}`,
    'latin1',
  );
}

/**
 * keep_alive_timeout 0: one request per connection, as NGINX's `keepalive_timeout 0`. Node
 * reads keepAliveTimeout 0 as no idle limit at all; maxRequestsPerSocket 1 answers each request
 * with `Connection: close`, and a client that keeps the socket open anyway is closed by Node's
 * keep-alive timer (1 ms, plus Node's 1 s margin) after the answer.
 */
function noKeepAlive(server: http.Server): void {
  server.maxRequestsPerSocket = 1;
  server.keepAliveTimeout = 1;
}

/**
 * HTTP/2 to clients (docs/tls.md, "HTTP/2"): the sessions of every listener that speaks it,
 * with the server limits as for HTTP/1.1. A TLS listener stays one https.Server: its TLS
 * handshake (certificate by SNI, handshakeTimeout) and the connection caps
 * (connection-guard.ts, which counts every TCP connection) are unchanged; after the handshake
 * a connection that chose `h2` by ALPN goes to an unlistened http2 server, any other to Node's
 * HTTP/1.1 handler as before (one branch per connection). h2c (prior knowledge) on plain
 * listeners goes to a second unlistened server (h2c.ts).
 *
 * Per session: GOAWAY after server.max_requests_per_socket streams; GOAWAY when no stream is
 * open for server.keep_alive_timeout, or none came within server.headers_timeout; the
 * rapid-reset defence (h2-resets.ts). At shutdown every session gets GOAWAY and its open
 * streams finish (close); after shutdown_timeout what is left is destroyed (destroyAll).
 */
import http2, { type Http2SecureServer, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServerConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import { guardResets } from './h2-resets.js';
import { H2Request, setConnection } from './h2-request.js';
import { BodyDeadlines } from './h2-body-deadline.js';

/** What the data plane does with a stream (its request and response as compat objects). */
export interface H2Handlers {
  request(req: IncomingMessage, res: ServerResponse, expectsContinue?: boolean): void;
  /** CONNECT (no :path): refused, WebSocket over HTTP/2 (RFC 8441) is not offered. */
  connect(req: IncomingMessage, res: ServerResponse): void;
}

/** Per-session counters, on the session object (no closure per stream). */
interface SessionState {
  /** Streams open now. */
  open: number;
  /** Streams opened so far. */
  total: number;
  /** GOAWAY after this many streams, 0: no cap (max_requests_per_socket; 1 without keep-alive). */
  cap: number;
  startTimer: NodeJS.Timeout | undefined;
}
const kState = Symbol('drproxy.h2.state');
type StatefulSession = ServerHttp2Session & { [kState]: SessionState };
type StatefulStream = ServerHttp2Stream & { [kState]?: SessionState };

export class H2Front {
  /** Sessions open now (drproxy_http2_sessions, shutdown). */
  readonly sessions = new Set<ServerHttp2Session>();
  private readonly options: http2.SecureServerOptions;
  private secure: Http2SecureServer | undefined;
  private plain: Http2Server | undefined;
  /** The socket whose session is being created (set around the synchronous emit). */
  private pending: Socket | undefined;
  private closing = false;
  /** server.request_timeout for request bodies (h2-body-deadline.ts). */
  readonly bodies: BodyDeadlines;

  constructor(
    private readonly s: ServerConfig,
    private readonly handlers: H2Handlers,
    private readonly log: Logger,
  ) {
    this.options = {
      settings: {
        maxConcurrentStreams: s.http2.max_concurrent_streams,
        maxHeaderListSize: s.max_header_size,
        // No extended CONNECT: WebSocket over HTTP/2 (RFC 8441) is not offered.
        enableConnectProtocol: false,
      },
      // max_headers fields plus the four request pseudo-headers.
      maxHeaderListPairs: s.max_headers + 4,
      Http2ServerRequest: H2Request as unknown as typeof http2.Http2ServerRequest,
    };
    this.bodies = new BodyDeadlines(s.request_timeout, Math.min(1000, Math.max(100, Math.floor(s.headers_timeout / 4))));
  }

  /** Offer h2 by ALPN on a TLS listener and send h2 connections to the HTTP/2 server. */
  attachTls(server: https.Server): void {
    const h2 = (this.secure ??= this.server(http2.createSecureServer(this.options)));
    const http1 = server.listeners('secureConnection') as Array<(this: https.Server, socket: TLSSocket) => void>;
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol === 'h2') this.hand(h2, 'secureConnection', socket);
      else for (const h of http1) h.call(server, socket);
    });
  }

  /** The h2c server's entry (h2c.ts): a plain connection that sent the HTTP/2 preface. */
  h2c(socket: Socket): void {
    const h2 = (this.plain ??= this.server(http2.createServer(this.options)));
    this.hand(h2, 'connection', socket);
  }

  private hand(h2: Http2Server | Http2SecureServer, event: string, socket: Socket): void {
    this.pending = socket;
    h2.emit(event, socket);
    this.pending = undefined;
  }

  private server<T extends Http2Server | Http2SecureServer>(h2: T): T {
    (h2 as { timeout?: number }).timeout = 0;
    h2.on('session', (session: ServerHttp2Session) => this.onSession(session));
    // A stream already reset by its client (rapid reset) is not served: nothing would read the answer.
    h2.on('request', (req, res) => req.stream.destroyed || this.serve(req, res, false));
    h2.on('checkContinue', (req, res) => req.stream.destroyed || this.serve(req, res, true));
    h2.on('connect', (req, res) => req.stream.destroyed || this.handlers.connect(req as unknown as IncomingMessage, compat(req, res)));
    // A session's protocol error ends that session only (Node reports it here; nothing to do).
    h2.on('sessionError', () => {});
    return h2;
  }

  private serve(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse, expectsContinue: boolean): void {
    this.bodies.watch(req);
    this.handlers.request(req as unknown as IncomingMessage, compat(req, res), expectsContinue);
  }

  private onSession(session: ServerHttp2Session): void {
    setConnection(session, this.pending!);
    const s = this.s;
    const cap = s.max_requests_per_socket > 0 ? s.max_requests_per_socket : s.keep_alive_timeout === 0 ? 1 : 0;
    const state: SessionState = { open: 0, total: 0, cap, startTimer: undefined };
    (session as StatefulSession)[kState] = state;
    this.sessions.add(session);
    session.once('close', () => {
      this.sessions.delete(session);
      clearTimeout(state.startTimer);
    });
    session.on('error', () => {});
    guardResets(session, s.http2, this.log);
    if (this.closing) {
      session.close();
      return;
    }
    // A client that opens no stream at all is closed as a silent HTTP/1.1 client is.
    if (s.headers_timeout > 0) {
      state.startTimer = setTimeout(() => {
        if (state.total === 0) session.close();
      }, s.headers_timeout);
      state.startTimer.unref();
    }
    if (s.keep_alive_timeout > 0) session.setTimeout(s.keep_alive_timeout, onSessionIdle);
    session.on('stream', onStream);
  }

  /** Shutdown: GOAWAY to every session; their open streams finish. */
  close(): void {
    this.closing = true;
    for (const session of this.sessions) session.close();
  }

  /** shutdown_timeout reached: cut what is left. */
  destroyAll(): void {
    for (const session of this.sessions) session.destroy();
    this.bodies.close();
  }
}

/** Session inactivity (keep_alive_timeout): GOAWAY unless a stream is still open. */
function onSessionIdle(this: StatefulSession): void {
  if (this[kState].open === 0) this.close();
}

function onStream(this: StatefulSession, stream: StatefulStream): void {
  const state = this[kState];
  state.open++;
  state.total++;
  stream[kState] = state;
  stream.once('close', onStreamClose);
  // The last stream allowed on this connection: GOAWAY, it and those before it finish.
  if (state.cap > 0 && state.total >= state.cap) this.close();
}

function onStreamClose(this: StatefulStream): void {
  this[kState]!.open--;
}

/** The compat response as the data plane's ServerResponse: with `req`, which HTTP/1.1's has and the access log reads. */
function compat(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): ServerResponse {
  const r = res as unknown as ServerResponse & { req: IncomingMessage };
  r.req = req as unknown as IncomingMessage;
  return r;
}

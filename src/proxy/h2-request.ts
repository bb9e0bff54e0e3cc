/**
 * HTTP/2 streams as the data plane sees them: node:http2's compatibility objects
 * (Http2ServerRequest/Http2ServerResponse), which the forwarder, the held queues, the drains
 * and the access log use as they use HTTP/1.1's IncomingMessage/ServerResponse (docs/design.md,
 * "HTTP/2 to clients"). What differs is handled here, once per stream.
 *
 * `req.socket` of Node's compat request is a Proxy built per stream that forwards to the
 * session's socket; H2Request answers the real TLS or TCP socket instead (kept on the session
 * when it starts, h2-front.ts), so that peer trust (peer-trust.ts), X-Forwarded-*, the TLS
 * checks and the access log read the connection as for HTTP/1.1, without a Proxy per request.
 */
import http2, { Http2ServerRequest, type ServerHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const kConn = Symbol('drproxy.h2.connection');
type ConnSession = ServerHttp2Session & { [kConn]?: Socket };

/** Remember a session's real socket (called as the session starts). */
export function setConnection(session: ServerHttp2Session, socket: Socket): void {
  (session as ConnSession)[kConn] = socket;
}

export class H2Request extends Http2ServerRequest {
  /** The connection's socket, read once at the stream's start (the stream may outlive its session link). */
  private readonly conn: Socket;

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, options: object, rawHeaders: string[]) {
    super(stream, headers, options, rawHeaders);
    // A stream the client reset at once (rapid reset) may arrive destroyed, its session link
    // gone: never throw here (it would end the process); h2-front.ts drops such a request.
    this.conn = (stream.session as ConnSession | undefined)?.[kConn] as Socket;
  }

  // @ts-expect-error The compat request declares `socket` as a property; a getter overrides it here.
  override get socket(): Socket {
    return this.conn;
  }
}

export type H2Host = string | 'mismatch' | undefined;

/**
 * The request's host: its :authority (RFC 9113 §8.3.1), or its Host field when it sent no
 * :authority. Both present and different: 'mismatch' (refused 400). The host is set as
 * `req.headers.host`, so routing, the Host/SNI check, redirects and HSTS read it as for HTTP/1.1.
 */
export function settleHost(req: IncomingMessage): H2Host {
  const h = req.headers;
  const authority = h[':authority'] as string | undefined;
  const host = h.host;
  if (authority === undefined) return host;
  if (host !== undefined) return host === authority ? host : 'mismatch';
  h.host = authority;
  return authority;
}

/**
 * The header list's size as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 §6.5.2: name and
 * value octets plus 32 per field). nghttp2 applies that setting only once the client has
 * acknowledged it, so a client that never does is held to server.max_header_size here.
 */
export function headerListSize(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) n += raw[i]!.length + raw[i + 1]!.length + 32;
  return n;
}

/** Whether a stream has a request body: HTTP/2 needs no Content-Length, only a HEADERS frame without END_STREAM. */
export function h2HasBody(req: IncomingMessage): boolean {
  const stream = (req as unknown as Http2ServerRequest).stream;
  return !stream.endAfterHeaders && req.headers['content-length'] !== '0';
}

/** Whether a response is an HTTP/2 stream's (responses carry `stream` only then). */
export function isH2(res: ServerResponse): boolean {
  return (res as unknown as { stream?: unknown }).stream !== undefined;
}

/** Cut one stream short (RST_STREAM INTERNAL_ERROR): the connection and its other streams go on. */
export function resetStream(res: ServerResponse): void {
  (res as unknown as { stream: ServerHttp2Stream }).stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
}

/**
 * Response headers Node refuses on an HTTP/2 stream (ERR_HTTP2_INVALID_CONNECTION_HEADERS) that
 * downstreamResponseHeaders (headers.ts) keeps for HTTP/1.1: HTTP2-Settings only, the
 * others are hop-by-hop there too. Changes `headers` in place (rare: a loop over names by length).
 */
export function dropH2ConnectionHeaders(headers: string[]): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const name = headers[i]!;
    if (name.length === 14 && name.toLowerCase() === 'http2-settings') headers.splice(i, 2);
  }
}

/** Forget the fields set on a response that was refused (before drproxy's own answer). */
export function clearHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) res.removeHeader(name);
}

/** An HTTP/2 answer's head: no status text (Node warns), no connection-specific field (Node throws). */
export function writeH2Head(res: ServerResponse, status: number, head: string[]): void {
  dropH2ConnectionHeaders(head);
  res.writeHead(status, head);
}

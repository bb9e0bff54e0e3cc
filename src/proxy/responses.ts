/**
 * drproxy's own answers: short text bodies that say what went wrong, plus an
 * `x-drproxy-error` code for scripts. Never names a backend address to the client.
 */
import type { ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export type ProxyErrorCode =
  | 'unknown_host'
  /** TLS: the Host header names another host than the client's SNI (RFC 9110 §15.5.20). */
  | 'misdirected_request'
  | 'no_route'
  | 'bad_request'
  | 'bad_host'
  | 'method_not_implemented'
  | 'too_many_headers'
  /** HTTP/2: the header list is over server.max_header_size (HTTP/1.1's parser refuses such a request itself). */
  | 'headers_too_large'
  | 'unsupported_transfer_coding'
  | 'http_version_not_supported'
  | 'no_healthy_backend'
  | 'tenant_unavailable'
  | 'hold_timeout'
  | 'hold_full'
  | 'upstream_failed'
  | 'upstream_timeout'
  | 'upstream_reset_after_send'
  /** The upstream's answer broke HTTP/1.1 (status line, framing, headers); nothing of it was sent on. */
  | 'upstream_invalid_response'
  | 'shutting_down'
  /**
   * Clustered: this replica lost its coordinator (etcd) for longer than its lease and stopped
   * serving (coordinator_loss: fail_closed). Spelled as the protocol names it.
   */
  | 'DRP_COORDINATOR_LOST';

const STATUS: Record<ProxyErrorCode, number> = {
  unknown_host: 421,
  misdirected_request: 421,
  no_route: 404,
  bad_request: 400,
  bad_host: 400,
  method_not_implemented: 501,
  too_many_headers: 431,
  headers_too_large: 431,
  unsupported_transfer_coding: 501,
  http_version_not_supported: 505,
  no_healthy_backend: 503,
  tenant_unavailable: 503,
  hold_timeout: 503,
  hold_full: 503,
  upstream_failed: 502,
  upstream_timeout: 504,
  upstream_reset_after_send: 502,
  upstream_invalid_response: 502,
  shutting_down: 503,
  DRP_COORDINATOR_LOST: 503,
};

const TEXT: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  421: 'Misdirected Request',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** Returns the body's length in bytes (0 when the answer had begun: then the connection is cut). */
export function sendError(res: ServerResponse, code: ProxyErrorCode, detail: string, retryAfterSeconds?: number): number {
  if (res.headersSent) {
    res.destroy();
    return 0;
  }
  const status = STATUS[code];
  const body = `${status} ${TEXT[status]}: ${detail}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-drproxy-error': code,
  };
  if (retryAfterSeconds !== undefined) headers['retry-after'] = retryAfterSeconds;
  res.writeHead(status, headers);
  res.end(body);
  return headers['content-length'] as number;
}

/** A 308 to `location` (redirect_https, proxy/edge.ts): no body. Returns the body's length (0). */
export function sendRedirect(res: ServerResponse, location: string): number {
  res.writeHead(308, { location, 'content-length': 0 });
  res.end();
  return 0;
}

/** The 308 of redirect_https on a raw socket (an upgrade request over plain HTTP). */
export function sendSocketRedirect(socket: Duplex, location: string): void {
  if (socket.writable) socket.end(`HTTP/1.1 308 Permanent Redirect\r\nlocation: ${location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
  else socket.destroy();
}

/** The same answer on a raw socket, for upgrade requests that cannot be proxied. */
export function sendSocketError(socket: Duplex, code: ProxyErrorCode, detail: string): void {
  const status = STATUS[code];
  const body = `${status} ${TEXT[status]}: ${detail}\n`;
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${TEXT[status]}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nx-drproxy-error: ${code}\r\nconnection: close\r\n\r\n${body}`,
    );
  } else {
    socket.destroy();
  }
}

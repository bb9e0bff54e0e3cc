/**
 * What went wrong with an upstream attempt, as far as retrying it is concerned: undici's and
 * Node's errors sorted into a few kinds (forwarder.ts, data-plane.ts).
 */
import { isProtocolError } from './upstream-answer.js';
import { UPSTREAM_RESET } from './upstream-socket.js';

/** What went wrong with an attempt, as far as retry safety is concerned. */
export type FailureKind =
  /** The request never reached the upstream (connection refused, unreachable, connect timeout). */
  | 'connect'
  /** The connection broke after the request may have been sent, before any response byte. */
  | 'reset'
  /** No response headers within response_timeout. */
  | 'timeout'
  /** The upstream answered with a status listed in retry_on (the answer was discarded). */
  | 'status'
  /** The call was aborted by drproxy or the client. */
  | 'aborted'
  /** The upstream's answer broke HTTP/1.1 (upstream-answer.ts): never retried. */
  | 'protocol'
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

export function classify(err: Error & { code?: string; syscall?: string }): FailureKind {
  const code = err.code;
  if (code !== undefined && CONNECT_CODES.has(code)) return 'connect';
  // Reset while connecting (a listening socket closed with our connection still queued: a
  // process going away): nothing was sent, so it is a failed connect, retryable for any method.
  if (code === 'ECONNRESET' && err.syscall === 'connect') return 'connect';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code === 'UND_ERR_ABORTED' || err.name === 'AbortError') return 'aborted';
  if (isProtocolError(err)) return 'protocol';
  if (code === 'ECONNRESET' || code === UPSTREAM_RESET || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') return 'reset';
  return 'other';
}

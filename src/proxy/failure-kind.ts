/**
 * What went wrong with an upstream attempt, as far as retrying it is concerned: undici's and
 * Node's errors sorted into a few kinds (forwarder.ts, data-plane.ts), and the answer the
 * client gets for each (failureAnswer).
 */
import { describeInvalid, isProtocolError } from './upstream-answer.js';
import type { ProxyErrorCode } from './responses.js';
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

/** drproxy's own answer for a failed call: its code and the detail for the client. */
export function failureAnswer(err: UpstreamError, site: string): [ProxyErrorCode, string] {
  if (err.kind === 'timeout' || err.code === 'UND_ERR_CONNECT_TIMEOUT') return ['upstream_timeout', `site ${site} did not answer in time`];
  if (err.kind === 'connect') return ['upstream_failed', `could not connect to site ${site}`];
  if (err.kind === 'status') return ['upstream_failed', `site ${site} ${err.message}`];
  if (err.kind === 'protocol') return ['upstream_invalid_response', `site ${site} sent an invalid response: ${describeInvalid(err)}`];
  if (err.kind === 'reset') return ['upstream_reset_after_send', `the connection to site ${site} broke after the request was sent; it was not retried`];
  return ['upstream_failed', `site ${site} failed the request (${err.code ?? err.message})`];
}

/**
 * What the forwarder does with an upstream answer that is not a plain final response: broken
 * HTTP (a protocol error, which becomes drproxy's own 502 while nothing has reached the
 * client), informational 1xx answers, and a body cut short once part of it was sent on.
 * Nothing here runs for an ordinary answer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { util as undiciUtil } from 'undici';
import { isH2, resetStream } from './h2-request.js';

const headerName = undiciUtil.headerNameToString as (b: Buffer | string) => string;

/** Informational answers accepted before the final one, per attempt (a 1xx storm is cut there). */
export const MAX_INFORMATIONAL = 32;

/** The code of drproxy's own "this upstream answer is not valid HTTP" errors. */
export const INVALID_RESPONSE = 'DRP_UPSTREAM_INVALID';

/** An error for an upstream answer drproxy refuses to forward. */
export function invalidResponse(detail: string): Error & { code: string } {
  return Object.assign(new Error(detail), { code: INVALID_RESPONSE });
}

/**
 * Whether undici failed the request because the upstream's answer broke HTTP/1.1 (as opposed
 * to a connection failure or a timeout): resending it would not help, so it is never retried.
 */
export function isProtocolError(err: Error & { code?: string }): boolean {
  // llhttp: status line, header or chunk syntax (undici sets no code for most of them).
  if (err.name === 'HTTPParserError') return true;
  switch (err.code) {
    case INVALID_RESPONSE:
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
    case 'UND_ERR_HEADERS_OVERFLOW':
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return true;
    case 'UND_ERR_SOCKET':
      // An unsolicited 101 with Upgrade headers, or an answer to no request.
      return err.message === 'bad upgrade' || err.message === 'bad response';
    default:
      return false;
  }
}

/** A short description of a protocol error for drproxy's 502 (never an address). */
export function describeInvalid(err: Error & { code?: string }): string {
  switch (err.code) {
    case INVALID_RESPONSE:
      return err.message;
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return 'its body did not match its Content-Length (cut short, or framed twice)';
    case 'UND_ERR_HEADERS_OVERFLOW':
      return 'its response headers are over the size limit';
    case 'UND_ERR_SOCKET':
      return err.message === 'bad upgrade' ? 'it switched protocols (101) on a request that asked for no upgrade' : 'it sent an answer to no request';
    default: {
      // llhttp's reason, e.g. "Response does not match the HTTP/1.1 protocol (Invalid status code)".
      const m = /\(([^()]*)\)\s*$/.exec(err.message);
      return `malformed HTTP (${m?.[1] ?? err.code})`;
    }
  }
}

/** Why a body broke off, for the log (classify()'s kind of the error). */
export function describeCut(kind: string, err: Error & { code?: string }): string {
  if (kind === 'reset') return `the connection broke before the body was complete (${err.code ?? err.message})`;
  if (kind === 'timeout') return 'no body bytes within body_timeout';
  if (kind === 'protocol') return describeInvalid(err);
  return err.code ?? err.message;
}

/**
 * Forward a `103 Early Hints` to an HTTP/1.1 or HTTP/2 client (an HTTP/1.0 client must get no 1xx, RFC
 * 9110 §15.2), with its Link headers only: they are its point, and Node validates them. Other
 * 1xx answers are not forwarded: Node answers a client's `Expect: 100-continue` itself, so an
 * upstream's 100 answers nothing the client is waiting for, and 102 is obsolete.
 */
export function forwardEarlyHints(req: IncomingMessage, res: ServerResponse, raw: readonly Buffer[]): void {
  // HTTP/2: a 103 is a HEADERS frame on the stream (Node's compat writeEarlyHints).
  if ((req.httpVersionMajor !== 1 || req.httpVersionMinor !== 1) && req.httpVersionMajor !== 2) return;
  if (res.headersSent) return;
  let links: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (headerName(raw[i]!) === 'link') (links ??= []).push(raw[i + 1]!.toString('latin1'));
  }
  if (links === undefined) return;
  try {
    res.writeEarlyHints({ link: links });
  } catch {
    // A Link value Node will not send (ERR_INVALID_ARG_VALUE): the hint is dropped.
  }
}

/**
 * Cut the client's answer short: part of it was sent, so no error can follow. A chunked answer
 * shows the cut by its missing last chunk (the connection is closed). Any other is reset: one
 * that ends with the connection (an HTTP/1.0 client, no length) could show the cut no other
 * way, and a reset is never taken for a clean end. TLS has its own close_notify for that.
 */
export function truncate(res: ServerResponse): void {
  // An HTTP/2 stream is reset alone (RST_STREAM INTERNAL_ERROR): the connection's other streams go on.
  if (isH2(res)) {
    resetStream(res);
    return;
  }
  const socket = res.socket;
  if (res.chunkedEncoding || socket === null || (socket as TLSSocket).encrypted) {
    res.destroy();
    return;
  }
  socket.resetAndDestroy();
}

/**
 * Request-line and header checks that Node's parser (llhttp) leaves to the application, run on
 * every request before routing. They read only what Node has already parsed (the version, the
 * raw header count, the joined Transfer-Encoding value): no pass over the headers and no
 * allocation on a request that passes. Host syntax is checked by the route table, once per
 * distinct value (host-header.ts).
 *
 * llhttp already refuses (400, before any of this runs): Content-Length with Transfer-Encoding,
 * duplicate or malformed Content-Length, a Transfer-Encoding whose last coding is not chunked
 * ("xchunked", "chunked, identity"), bad chunk sizes, bare CR/LF, obs-fold, whitespace before
 * a header colon and control characters in header values.
 */
import type { IncomingMessage } from 'node:http';
import type { ProxyErrorCode } from './responses.js';

export interface Refusal {
  readonly code: ProxyErrorCode;
  readonly detail: string;
}

const VERSION: Refusal = Object.freeze({ code: 'http_version_not_supported', detail: 'only HTTP/1.0 and HTTP/1.1 are accepted on this listener' });
const TE_ON_HTTP10: Refusal = Object.freeze({ code: 'bad_request', detail: 'Transfer-Encoding is not allowed in an HTTP/1.0 request' });
const TE_CODING: Refusal = Object.freeze({ code: 'unsupported_transfer_coding', detail: 'the only transfer coding accepted is "chunked"' });

const NOT_ORIGIN_FORM: Refusal = Object.freeze({ code: 'bad_request', detail: 'only origin-form request targets ("/path") are accepted' });
const FRAGMENT: Refusal = Object.freeze({ code: 'bad_request', detail: 'a request target must not carry a fragment ("#")' });

/**
 * The request target must be origin-form (RFC 9112 §3.2.1): absolute-form would route by a
 * second authority (drproxy is never an open proxy), asterisk-form has nothing to route. A
 * fragment is not part of any request target and would route "/api#x" by the "/" prefix while
 * a backend reads "/api" (llhttp lets "#" through).
 */
export function targetRefusal(url: string): Refusal | undefined {
  if (url.charCodeAt(0) !== 47 /* / */) return NOT_ORIGIN_FORM;
  return url.includes('#') ? FRAGMENT : undefined;
}

export class RequestChecks {
  /** rawHeaders entries (name and value) allowed at most. */
  private readonly maxEntries: number;
  private readonly tooMany: Refusal;

  constructor(maxHeaders: number) {
    this.maxEntries = maxHeaders * 2;
    this.tooMany = Object.freeze({ code: 'too_many_headers', detail: `more than ${maxHeaders} request header fields` });
  }

  /**
   * Node's server.maxHeadersCount for this limit: one more than allowed, so that a request over
   * the limit is seen as such instead of being silently cut to the limit (Node 20 keeps the
   * first maxHeadersCount headers and drops the rest; Node 26 answers 431 itself).
   */
  get nodeMaxHeadersCount(): number {
    return this.maxEntries / 2 + 1;
  }

  /** Why the request must be refused, or undefined (the common case). */
  check(req: IncomingMessage): Refusal | undefined {
    if (req.httpVersionMajor !== 1) return VERSION;
    // Node keeps at least maxHeadersCount headers of a request that has more (see above).
    if (req.rawHeaders.length > this.maxEntries) return this.tooMany;
    // Node joins repeated Transfer-Encoding lines with ", ": one value to look at.
    const te = req.headers['transfer-encoding'];
    if (te !== undefined) {
      // RFC 9112 §6.1: HTTP/1.0 has no chunked framing; a server must treat it as faulty.
      if (req.httpVersionMinor === 0) return TE_ON_HTTP10;
      // Anything but chunked alone would be re-framed upstream, not forwarded: refuse (NGINX: 501).
      if (te !== 'chunked' && !(te.length === 7 && te.toLowerCase() === 'chunked')) return TE_CODING;
    }
    return undefined;
  }
}

/**
 * Header rewriting on the hot path. Works on Node's and undici's flat raw header arrays
 * ([name, value, name, value, …]) so that no header object is built per request, and checks
 * names by length before lower-casing, so that most headers cost one switch.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { util as undiciUtil } from 'undici';
import { policyOf } from './peer-trust.js';
import { peerAddress } from './proxy-header-reader.js';

/** undici's trie of known header names: lower-case interned strings, no allocation. */
const headerName = undiciUtil.headerNameToString as (b: Buffer | string) => string;

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones undici will not take from a caller. */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
      return name.toLowerCase() === 'te';
    case 6:
      return name.toLowerCase() === 'expect';
    case 7: {
      const l = name.toLowerCase();
      return l === 'upgrade' || l === 'trailer';
    }
    case 10: {
      const l = name.toLowerCase();
      return l === 'connection' || l === 'keep-alive';
    }
    case 16:
      return name.toLowerCase() === 'proxy-connection';
    case 17:
      return name.toLowerCase() === 'transfer-encoding';
    default:
      return false;
  }
}

/** Extra header names dropped from a list when a `Connection: a, b` header names them. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let tokens: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      for (const t of raw[i + 1]!.split(',')) {
        const token = t.trim().toLowerCase();
        if (token !== '' && token !== 'close' && token !== 'keep-alive') (tokens ??= new Set()).add(token);
      }
    }
  }
  return tokens;
}

/**
 * The upstream request's headers: the client's, without hop-by-hop headers, without any DR
 * header the client sent (in any spelling), without header names that contain "_" unless the
 * listener allows them, with X-Forwarded-For/-Proto/-Host set by us and the epoch/site stamp
 * appended. From a trusted proxy (server.trusted_proxies) X-Forwarded-For and Forwarded are
 * kept and appended to and X-Forwarded-Proto/-Host kept as sent; from anyone else all four are
 * replaced (Forwarded removed: drproxy does not generate it).
 */
export function upstreamRequestHeaders(
  req: IncomingMessage,
  /** Lower-case names of the epoch and site headers: client copies are dropped. */
  epochName: string,
  siteName: string,
  /** Host header to send instead of the client's, or undefined to keep the client's. */
  hostOverride: string | undefined,
  /** Header name/value pairs appended last (the route's epoch and site stamp). */
  stamp: readonly string[],
): string[] {
  return forwardedHeaders(req, req.rawHeaders, epochName, siteName, hostOverride, stamp);
}

/**
 * The same for an HTTP/2 stream (h2-request.ts): its pseudo-headers are not sent, its Host is
 * its :authority (set as `host` by the data plane), and its cookie fields, which HTTP/2 sends
 * one per crumb, are joined with "; " (RFC 9113 §8.2.3) as an HTTP/1.1 upstream expects.
 */
export function upstreamRequestHeadersH2(
  req: IncomingMessage,
  epochName: string,
  siteName: string,
  hostOverride: string | undefined,
  stamp: readonly string[],
): string[] {
  const raw = req.rawHeaders;
  const plain: string[] = [];
  let cookie: string | undefined;
  let host = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.charCodeAt(0) === 58 /* : */) continue;
    if (name.length === 6 && name.toLowerCase() === 'cookie') {
      cookie = cookie === undefined ? raw[i + 1]! : `${cookie}; ${raw[i + 1]!}`;
      continue;
    }
    if (name.length === 4 && name.toLowerCase() === 'host') host = true;
    plain.push(name, raw[i + 1]!);
  }
  if (cookie !== undefined) plain.push('cookie', cookie);
  if (!host && req.headers.host !== undefined) plain.push('host', req.headers.host);
  return forwardedHeaders(req, plain, epochName, siteName, hostOverride, stamp);
}

function forwardedHeaders(
  req: IncomingMessage,
  raw: readonly string[],
  epochName: string,
  siteName: string,
  hostOverride: string | undefined,
  stamp: readonly string[],
): string[] {
  const policy = policyOf(req.socket);
  const trusted = policy.trusted;
  const conn = req.headers.connection;
  // Only a Connection header naming other headers needs a second look (rare).
  const tokens = conn !== undefined && conn !== 'keep-alive' && conn !== 'close' ? connectionTokens(raw) : undefined;
  const out: string[] = [];
  // The forwarding headers a trusted proxy sent (never set for an untrusted peer).
  let xff: string | undefined;
  let xfProto: string | undefined;
  let xfHost: string | undefined;
  let forwarded: string | undefined;
  let host: string | undefined;
  const eLen = epochName.length;
  const sLen = siteName.length;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const len = name.length;
    if (isHopByHop(name)) continue;
    if (len === 4 && name.toLowerCase() === 'host') {
      host ??= value;
      continue;
    }
    if (len === 9 && name.toLowerCase() === 'forwarded') {
      if (trusted) forwarded = forwarded === undefined ? value : `${forwarded}, ${value}`;
      continue;
    }
    if (len >= 15 && len <= 17) {
      const l = name.toLowerCase();
      if (l === 'x-forwarded-for') {
        if (trusted) xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      }
      if (l === 'x-forwarded-proto') {
        if (trusted) xfProto ??= value;
        continue;
      }
      if (l === 'x-forwarded-host') {
        if (trusted) xfHost ??= value;
        continue;
      }
    }
    if ((len === eLen || len === sLen) && isDrHeader(name, epochName, siteName)) continue;
    // CGI, WSGI and PHP read "X_Foo" and "X-Foo" as one variable (NGINX drops them too).
    if (name.includes('_') && (!policy.underscores || isForwardingSpelling(name))) continue;
    if (tokens !== undefined && tokens.has(name.toLowerCase())) continue;
    out.push(name, value);
  }
  const sendHost = hostOverride ?? host;
  if (sendHost !== undefined) out.push('host', sendHost);
  pushForwarding(out, req, xff, xfProto, xfHost ?? host, forwarded);
  for (let i = 0; i < stamp.length; i++) out.push(stamp[i]!);
  return out;
}

/** X-Forwarded-*: a trusted proxy's values (undefined otherwise) extended or kept, else ours. */
function pushForwarding(
  out: string[],
  req: IncomingMessage,
  xff: string | undefined,
  xfProto: string | undefined,
  xfHost: string | undefined,
  forwarded: string | undefined,
): void {
  const clientIp = clientAddress(req);
  out.push('x-forwarded-for', xff === undefined ? clientIp : `${xff}, ${clientIp}`);
  out.push('x-forwarded-proto', xfProto ?? ((req.socket as TLSSocket).encrypted ? 'https' : 'http'));
  if (xfHost !== undefined) out.push('x-forwarded-host', xfHost);
  if (forwarded !== undefined) out.push('forwarded', `${forwarded}, for=${forwardedNode(clientIp)}`);
}

/** An epoch or site header in any case, "_" or "-" (both spellings are one CGI variable). */
function isDrHeader(name: string, epochName: string, siteName: string): boolean {
  const l = name.toLowerCase();
  if (l === epochName || l === siteName) return true;
  if (!l.includes('_') && !epochName.includes('_') && !siteName.includes('_')) return false;
  const d = dashed(l);
  return d === dashed(epochName) || d === dashed(siteName);
}

/** "X_Forwarded_For" and the like (checked only for names that contain "_"). */
function isForwardingSpelling(name: string): boolean {
  const len = name.length;
  if (len < 15 || len > 17) return false;
  const d = dashed(name.toLowerCase());
  return d === 'x-forwarded-for' || d === 'x-forwarded-proto' || d === 'x-forwarded-host';
}

function dashed(name: string): string {
  return name.replaceAll('_', '-');
}

/** RFC 7239 node: an IPv6 address is bracketed and quoted. */
function forwardedNode(ip: string): string {
  return ip.includes(':') ? `"[${ip}]"` : ip;
}

/**
 * The same headers as an object for an Upgrade request proxied by http-proxy-3 (not the hot
 * path), with the Connection/Upgrade pair the upstream needs put back.
 */
export function upgradeRequestHeaders(
  req: IncomingMessage,
  epochName: string,
  siteName: string,
  hostOverride: string | undefined,
  stamp: readonly string[],
): Record<string, string> {
  const flat = upstreamRequestHeaders(req, epochName, siteName, hostOverride, stamp);
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase();
    const prev = headers[name];
    headers[name] = prev === undefined ? flat[i + 1]! : `${prev}${name === 'cookie' ? '; ' : ', '}${flat[i + 1]!}`;
  }
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade ?? '';
  return headers;
}

/** The client's address: a PROXY protocol header's (proxy-header-reader.ts), else the TCP peer's. */
export function clientAddress(req: IncomingMessage): string {
  const a = peerAddress(req.socket) ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/**
 * The client response's headers from undici's raw response headers, hop-by-hop removed.
 * Node adds its own Connection and Transfer-Encoding as the client connection needs them.
 *
 * Returns null for an answer that cannot be forwarded faithfully: a Transfer-Encoding other
 * than exactly one `chunked` (undici removes the chunked framing; any other coding, such as
 * `gzip, chunked`, would reach the client unannounced), as NGINX refuses it ("upstream sent
 * unknown Transfer-Encoding"). A 204's Content-Length is dropped: a server MUST NOT send one
 * (RFC 9110 §8.6); a 304's is kept (it describes the selected representation). An upstream's
 * `x-drproxy-error` is dropped: it marks drproxy's own error answers (responses.ts), and
 * clients and log pipelines must be able to trust that it came from drproxy.
 */
export function downstreamResponseHeaders(raw: readonly Buffer[] | readonly string[], status: number): string[] | null {
  const out: string[] = [];
  let tokens: Set<string> | undefined;
  let codings = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = headerName(raw[i]!);
    const len = name.length;
    if (isHopByHop(name)) {
      if (len === 10 && name.toLowerCase() === 'connection') {
        tokens = connectionTokens([name, raw[i + 1]!.toString('latin1')]);
      } else if (len === 17 && name.toLowerCase() === 'transfer-encoding') {
        if (++codings > 1 || !isChunked(raw[i + 1]!.toString('latin1'))) return null;
      }
      continue;
    }
    if (len === 14 && status === 204 && name.toLowerCase() === 'content-length') continue;
    if (len === 15 && name.toLowerCase() === OWN_ERROR_HEADER) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (tokens === undefined) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!tokens.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

/** drproxy's own error marker (responses.ts), which only drproxy may send to a client. */
export const OWN_ERROR_HEADER = 'x-drproxy-error';

function isChunked(value: string): boolean {
  return value.length === 7 ? value.toLowerCase() === 'chunked' : value.trim().toLowerCase() === 'chunked';
}

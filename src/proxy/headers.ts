/**
 * Header rewriting on the hot path. Works on Node's and undici's flat raw header arrays
 * ([name, value, name, value, …]) so that no header object is built per request, and checks
 * names by length before lower-casing, so that most headers cost one switch.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { util as undiciUtil } from 'undici';

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
 * The upstream request's headers: the client's, without hop-by-hop headers, without any
 * X-Forwarded-* or DR header the client sent, with X-Forwarded-For/-Proto/-Host set by us and
 * the epoch/site stamp appended.
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
  const raw = req.rawHeaders;
  const conn = req.headers.connection;
  // Only a Connection header naming other headers needs a second look (rare).
  const tokens = conn !== undefined && conn !== 'keep-alive' && conn !== 'close' ? connectionTokens(raw) : undefined;
  const out: string[] = [];
  let xff: string | undefined;
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
    if (len >= 15 && len <= 17) {
      const l = name.toLowerCase();
      if (l === 'x-forwarded-for') {
        xff = xff === undefined ? value : `${xff}, ${value}`;
        continue;
      }
      if (l === 'x-forwarded-proto' || l === 'x-forwarded-host') continue;
    }
    if ((len === eLen || len === sLen) && isDrHeader(name, epochName, siteName)) continue;
    if (tokens !== undefined && tokens.has(name.toLowerCase())) continue;
    out.push(name, value);
  }
  const clientIp = clientAddress(req);
  const proto = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const sendHost = hostOverride ?? host;
  if (sendHost !== undefined) out.push('host', sendHost);
  out.push('x-forwarded-for', xff === undefined ? clientIp : `${xff}, ${clientIp}`, 'x-forwarded-proto', proto);
  if (host !== undefined) out.push('x-forwarded-host', host);
  for (let i = 0; i < stamp.length; i++) out.push(stamp[i]!);
  return out;
}

function isDrHeader(name: string, epochName: string, siteName: string): boolean {
  const l = name.toLowerCase();
  return l === epochName || l === siteName;
}

export function clientAddress(req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '';
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
 * (RFC 9110 §8.6); a 304's is kept (it describes the selected representation).
 */
export function downstreamResponseHeaders(raw: readonly Buffer[] | readonly string[], status: number): string[] | null {
  const out: string[] = [];
  let tokens: Set<string> | undefined;
  let codings = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = headerName(raw[i]!);
    if (isHopByHop(name)) {
      const len = name.length;
      if (len === 10 && name.toLowerCase() === 'connection') {
        tokens = connectionTokens([name, raw[i + 1]!.toString('latin1')]);
      } else if (len === 17 && name.toLowerCase() === 'transfer-encoding') {
        if (++codings > 1 || !isChunked(raw[i + 1]!.toString('latin1'))) return null;
      }
      continue;
    }
    if (status === 204 && name.length === 14 && name.toLowerCase() === 'content-length') continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (tokens === undefined) return out;
  const kept: string[] = [];
  for (let i = 0; i < out.length; i += 2) {
    if (!tokens.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
  }
  return kept;
}

function isChunked(value: string): boolean {
  return value.length === 7 ? value.toLowerCase() === 'chunked' : value.trim().toLowerCase() === 'chunked';
}

/**
 * The head of a probe's answer (status line and header lines), read in one pass over its bytes
 * (probe-response.ts): what it accepts is what the strict reader promises (docs/design.md,
 * "Probes on their own client"), and its cost is linear in the head's length whatever a backend
 * sends. Regular expressions did this before: one per line on a latin1 copy of the head, and the
 * header line's (a lazy value between runs of blanks) backtracked on a long run of blanks ended
 * by a control character, ~0.3 s of blocked event loop for 1,000 blanks and ~20 s for 4,000,
 * within the 16 KiB a head may have (test/hostile/probe-responses.test.ts, `blank-run`).
 */
import { DrProxyError } from '../errors.js';

/** The most headers accepted in one head. */
const MAX_HEADERS = 100;

/** A malformed or oversized answer: the probe fails with this message, the connection is closed. */
export function badResponse(why: string): DrProxyError {
  return new DrProxyError('DRP_PROBE_RESPONSE', `bad response: ${why}`);
}

/** What a head says about its answer (one per reader, filled by scanHead). */
export class HeadFields {
  status = 0;
  /** HTTP/1.0: the connection is not kept, chunked is refused. */
  http10 = false;
  /** Content-Length, or -1 without one. */
  length = -1;
  chunked = false;
  /** `Connection: close`. */
  close = false;
}

/** Bytes of a header name (RFC 9110 token). */
const TOKEN = new Uint8Array(256);
/** Bytes of a header value or reason phrase: HTAB, SP, visible ASCII, obs-text; no other control. */
const TEXT = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN[c.charCodeAt(0)] = 1;
TEXT[9] = 1;
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) TEXT[c] = 1;

const CONTENT_LENGTH = bytes('content-length');
const TRANSFER_ENCODING = bytes('transfer-encoding');
const CONNECTION = bytes('connection');
const CHUNKED = bytes('chunked');
const KEEP_ALIVE = bytes('keep-alive');
const HTTP_1 = bytes('HTTP/1.');
const CLOSE_TOKEN = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;

function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** Whether buf[at, at + lower.length) is `lower` in any letter case (`lower`: lowercase letters and '-'). */
function sameName(buf: Buffer, at: number, len: number, lower: Uint8Array): boolean {
  if (len !== lower.length) return false;
  // | 0x20 lowers a letter; the only other byte it maps onto '-' is CR, not a token byte.
  for (let i = 0; i < len; i++) if ((buf[at + i]! | 0x20) !== lower[i]) return false;
  return true;
}

/** Read the head buf[from, end) (its blank line excluded) into `out`; throws badResponse. */
export function scanHead(buf: Buffer, from: number, end: number, out: HeadFields): void {
  let p = statusLine(buf, from, end, out);
  out.length = -1;
  out.chunked = false;
  out.close = false;
  let count = 0;
  while (p < end) {
    const name = p;
    while (p < end && TOKEN[buf[p]!] === 1) p++;
    if (p === name || p === end || buf[p] !== 0x3a) throw badResponse('malformed header line');
    const nameLen = p - name;
    p++;
    while (p < end && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
    const value = p;
    let valueEnd = p; // after its last byte that is not a blank
    for (let c = buf[p]!; p < end && TEXT[c] === 1; c = buf[++p]!) if (c !== 0x20 && c !== 0x09) valueEnd = p + 1;
    // A line ends at CRLF or at the head's end; anything else (a bare CR or LF, NUL, a control) is malformed.
    if (p < end && (buf[p] !== 0x0d || buf[p + 1] !== 0x0a)) throw badResponse('malformed header line');
    if (++count > MAX_HEADERS) throw badResponse(`over ${MAX_HEADERS} headers`);
    header(buf, name, nameLen, value, valueEnd, out);
    p += 2;
  }
}

/** The status line at buf[from]: `HTTP/1.x NNN[ reason]`; returns where the next line begins. */
function statusLine(buf: Buffer, from: number, end: number, out: HeadFields): number {
  if (end - from < 12) throw badResponse('malformed status line');
  let ok = true;
  for (let i = 0; ok && i < 7; i++) ok = buf[from + i] === HTTP_1[i];
  const minor = buf[from + 7]!;
  const d0 = buf[from + 9]! - 0x30;
  const d1 = buf[from + 10]! - 0x30;
  const d2 = buf[from + 11]! - 0x30;
  ok = ok && (minor === 0x30 || minor === 0x31) && buf[from + 8] === 0x20 && d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9;
  let p = from + 12;
  if (ok && p < end && buf[p] !== 0x0d) {
    ok = buf[p] === 0x20;
    for (p++; ok && p < end && TEXT[buf[p]!] === 1; p++);
  }
  if (!ok || (p < end && (buf[p] !== 0x0d || buf[p + 1] !== 0x0a))) throw badResponse('malformed status line');
  out.status = d0 * 100 + d1 * 10 + d2;
  out.http10 = minor === 0x30;
  return p + 2;
}

/** One header line: only the framing headers matter to a probe. */
function header(buf: Buffer, name: number, nameLen: number, value: number, valueEnd: number, out: HeadFields): void {
  if (sameName(buf, name, nameLen, CONTENT_LENGTH)) {
    if (out.length !== -1) throw badResponse('Content-Length twice');
    let n = 0;
    for (let i = value; i < valueEnd; i++) {
      const d = buf[i]! - 0x30;
      if (d < 0 || d > 9) throw badResponse('malformed Content-Length');
      n = n * 10 + d;
    }
    if (valueEnd === value || valueEnd - value > 15) throw badResponse('malformed Content-Length');
    out.length = n;
  } else if (sameName(buf, name, nameLen, TRANSFER_ENCODING)) {
    if (out.chunked || !sameName(buf, value, valueEnd - value, CHUNKED) || out.http10) {
      throw badResponse(`Transfer-Encoding not accepted: ${buf.toString('latin1', value, Math.min(valueEnd, value + 40))}`);
    }
    out.chunked = true;
  } else if (sameName(buf, name, nameLen, CONNECTION)) {
    // Node's servers say `Connection: keep-alive` on every answer: that one needs no string.
    if (!sameName(buf, value, valueEnd - value, KEEP_ALIVE) && CLOSE_TOKEN.test(buf.toString('latin1', value, valueEnd))) out.close = true;
  }
}

/**
 * Host header syntax (RFC 9110 §7.2: uri-host [":" port]), checked once per distinct value (the
 * route table caches the answer). Stricter than RFC 3986's reg-name on purpose: a name is
 * letters, digits, "-", "_" and "." with no empty label (one trailing dot allowed), or an IPv4
 * address, or a bracketed IPv6 address; the port, when present, is digits up to 65535. So
 * userinfo ("user@host"), spaces, a second Host joined in ("a, b"), percent-encoding and
 * non-numeric ports are refused with 400 instead of being looked up or sent upstream.
 */
import { isIPv6 } from 'node:net';

export function isValidHost(value: string): boolean {
  const len = value.length;
  let end: number;
  if (value.charCodeAt(0) === 91 /* [ */) {
    const close = value.indexOf(']');
    if (close === -1 || !isIPv6(value.slice(1, close))) return false;
    end = close + 1;
  } else {
    const colon = value.indexOf(':');
    end = colon === -1 ? len : colon;
    if (!isName(value, end)) return false;
  }
  if (end === len) return true;
  return value.charCodeAt(end) === 58 /* : */ && isPort(value, end + 1);
}

/** value[0, end) is a host name: labels of [A-Za-z0-9_-], no empty label but a trailing one. */
function isName(value: string, end: number): boolean {
  if (end === 0) return false;
  let labelStart = 0;
  for (let i = 0; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c === 46 /* . */) {
      if (i === labelStart) return false;
      labelStart = i + 1;
    } else if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95)) {
      return false;
    }
  }
  return true;
}

/** value[start..] is a port: empty (RFC 3986 allows "host:") or up to 5 digits, at most 65535. */
function isPort(value: string, start: number): boolean {
  const digits = value.length - start;
  if (digits > 5) return false;
  let port = 0;
  for (let i = start; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    port = port * 10 + (c - 48);
  }
  return port <= 65535;
}

/**
 * The admin listener's Host allow-list, against DNS rebinding: a page on attacker.example
 * that re-points its own name at the admin address can make a browser send requests there,
 * but they carry `Host: attacker.example`, so they are refused and the page reads nothing.
 *
 * Always allowed: IP literals (rebinding needs a DNS name; Kubernetes probes and Prometheus
 * address pods by IP), `localhost` (browsers resolve it to loopback themselves), the host of
 * admin.listen, and a request without Host (HTTP/1.0: no browser sends that). Besides those,
 * the names of admin.allowed_hosts: exact, `*.suffix`, or `*` for any host.
 */
import { isIP } from 'node:net';

export class HostCheck {
  private readonly exact = new Set<string>(['localhost']);
  private readonly suffixes: string[] = [];
  private readonly any: boolean;

  constructor(allowed: readonly string[], listenHost: string) {
    const own = listenHost.toLowerCase().replace(/\.$/, '');
    if (isIP(own) === 0) this.exact.add(own);
    for (const h of allowed) {
      if (h.startsWith('*.')) this.suffixes.push(h.slice(1));
      else this.exact.add(h);
    }
    this.any = allowed.includes('*');
  }

  /** Whether a request with this Host header may be answered. */
  allows(host: string | undefined): boolean {
    if (this.any || host === undefined || host === '') return true;
    const name = hostname(host);
    if (name === undefined) return false;
    if (isIP(name) !== 0 || this.exact.has(name)) return true;
    return this.suffixes.some((s) => name.endsWith(s) && name.length > s.length);
  }
}

/** The host part of a Host header, lower case, without port or trailing dot; undefined if malformed. */
function hostname(header: string): string | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::\d*)?$/i.exec(header.trim());
  if (!m) return undefined;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? m[1] : undefined;
  return m[2]!.toLowerCase().replace(/\.$/, '');
}

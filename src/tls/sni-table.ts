/**
 * Names → TLS contexts, matched as the router matches hosts (router.ts): exact names first,
 * then wildcards ("*.example.com" covers one or more labels before ".example.com", the longest
 * suffix winning), case-insensitively, without a trailing dot. The first source to claim a name
 * keeps it: tenant certificates come before a listener's cert_dir.
 */
import type { SecureContext } from 'node:tls';
import { normalizeHost } from '../proxy/router.js';

export class SniTable {
  private readonly exact = new Map<string, SecureContext>();
  private readonly wildcard = new Map<string, SecureContext>();

  add(name: string, context: SecureContext): void {
    const n = name.toLowerCase();
    const map = n.startsWith('*.') ? this.wildcard : this.exact;
    const key = n.startsWith('*.') ? n.slice(1) : n;
    if (!map.has(key)) map.set(key, context);
  }

  /** The context for a client's SNI name, or undefined (the listener's default certificate). */
  find(servername: string): SecureContext | undefined {
    const host = normalizeHost(servername);
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const hit = this.wildcard.get(host.slice(dot));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}

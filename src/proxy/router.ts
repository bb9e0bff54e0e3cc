/**
 * Host and path routing. Hosts match exactly first, then by wildcard ("*.example.com" matches
 * any name ending in ".example.com", the longest suffix winning), case-insensitively and
 * ignoring the port. Within a host, the longest path prefix wins; a prefix matches on a segment
 * boundary ("/api" matches "/api", "/api/x" and "/api?q", not "/apix").
 */
import type { TenantSlot } from './route.js';
import { isValidHost } from './host-header.js';

export interface PathEntry {
  prefix: string;
  slot: TenantSlot;
}

export interface RouteSpec {
  hosts: readonly string[];
  paths: readonly string[];
  slot: TenantSlot;
}

export const NO_HOST = 1;
export const NO_PATH = 2;
/** The Host header is not a valid host[:port] (host-header.ts): 400, not 421. */
export const BAD_HOST = 3;
export type RouteMiss = typeof NO_HOST | typeof NO_PATH | typeof BAD_HOST;

/** Raw Host header values looked up before, so that the common case is one Map read. */
const HOST_CACHE_MAX = 4096;
/** Cached for a Host value that is not valid syntax (compared by identity). */
const INVALID: PathEntry[] = [];

export class RouteTable {
  private readonly exact = new Map<string, PathEntry[]>();
  private readonly wildcard = new Map<string, PathEntry[]>();
  private readonly hostCache = new Map<string, PathEntry[] | null>();
  readonly slots: ReadonlyMap<string, TenantSlot>;

  constructor(specs: readonly RouteSpec[]) {
    const slots = new Map<string, TenantSlot>();
    for (const spec of specs) {
      slots.set(spec.slot.tenant, spec.slot);
      for (const host of spec.hosts) {
        const map = host.startsWith('*.') ? this.wildcard : this.exact;
        const key = host.startsWith('*.') ? host.slice(1) : host;
        let entries = map.get(key);
        if (!entries) map.set(key, (entries = []));
        for (const prefix of spec.paths) entries.push({ prefix, slot: spec.slot });
      }
    }
    for (const entries of [...this.exact.values(), ...this.wildcard.values()]) {
      entries.sort((a, b) => b.prefix.length - a.prefix.length);
    }
    this.slots = slots;
  }

  /** The tenant slot for a request, or why there is none. */
  find(hostHeader: string | undefined, url: string): TenantSlot | RouteMiss {
    if (hostHeader === undefined) return NO_HOST;
    let entries = this.hostCache.get(hostHeader);
    if (entries === undefined) {
      entries = isValidHost(hostHeader) ? this.lookupHost(normalizeHost(hostHeader)) : INVALID;
      if (this.hostCache.size >= HOST_CACHE_MAX) this.hostCache.clear();
      this.hostCache.set(hostHeader, entries);
    }
    if (entries === null) return NO_HOST;
    if (entries === INVALID) return BAD_HOST;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (prefixMatches(e.prefix, url)) return e.slot;
    }
    return NO_PATH;
  }

  private lookupHost(host: string): PathEntry[] | null {
    if (host === '') return null;
    const exact = this.exact.get(host);
    if (exact) return exact;
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const hit = this.wildcard.get(host.slice(dot));
      if (hit) return hit;
    }
    return null;
  }
}

/** Lower-case, without port and trailing dot. "[::1]:8080" → "[::1]". */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? '' : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  if (colon !== -1) h = h.slice(0, colon);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}

export function prefixMatches(prefix: string, url: string): boolean {
  if (prefix === '/') return true;
  if (!url.startsWith(prefix)) return false;
  if (url.length === prefix.length || prefix.endsWith('/')) return true;
  const c = url.charCodeAt(prefix.length);
  return c === 47 /* / */ || c === 63 /* ? */;
}

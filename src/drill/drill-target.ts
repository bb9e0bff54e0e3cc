/**
 * Where a drill sends its synthetic requests: the first plain listener that listens, else the
 * first TLS one (then over HTTPS, SNI = the tenant's host). A plain listener is preferred: it
 * needs no handshake and no certificate, and it is what drills used before TLS listeners.
 */
import type { AddressInfo } from 'node:net';
import type { Listener } from '../proxy/listeners.js';

export interface DrillTarget {
  address: string;
  port: number;
  /** The listener terminates TLS: verify over HTTPS (docs/drills.md, "Through a TLS listener"). */
  tls?: boolean;
}

export function drillTarget(listeners: readonly Listener[]): DrillTarget | undefined {
  const up = listeners.filter((l) => l.server.listening);
  const l = up.find((x) => x.certs === undefined) ?? up[0];
  if (l === undefined) return undefined;
  const a = l.server.address() as AddressInfo;
  return { address: a.address, port: a.port, ...(l.certs !== undefined && { tls: true }) };
}

/**
 * On a TLS listener the Host of each request must name the host the client's SNI named: the
 * certificate was chosen for that name, and a request for another host on the same connection
 * is misdirected (421, RFC 9110 §15.5.20), as NGINX and Envoy answer. Without SNI (an IP
 * address, an old client) any Host is routed as on a plain listener. Only TLS listeners run
 * this (data-plane.ts): the plain path is unchanged.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { normalizeHost } from './router.js';

/** Why this request is refused (421), or undefined. */
export function sniRefusal(req: IncomingMessage): string | undefined {
  const sni = (req.socket as TLSSocket).servername;
  if (typeof sni !== 'string' || sni === '') return undefined;
  const host = req.headers.host;
  if (host === undefined) return undefined; // Node answers 400 without Host (requireHostHeader).
  return normalizeHost(host) === normalizeHost(sni) ? undefined : 'the Host header names another host than the TLS server name (SNI) of this connection';
}

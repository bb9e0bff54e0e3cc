/**
 * The TLS name drproxy uses with a backend: the backend's own host, never the client's Host.
 *
 * undici takes a request's TLS name (SNI and the certificate check) from its Host header unless
 * the request carries `servername`; with preserve_host that header is the client's, so an https
 * backend whose certificate names only itself would fail the check, a probe with a `host`
 * setting would check another name than the traffic does, and every new Host of a wildcard
 * tenant would make undici close the connection and open another ("servername changed").
 * NGINX checks `proxy_ssl_name`, the upstream's own name, by default; so does drproxy.
 */
import { isIP } from 'node:net';
import { buildConnector, type Dispatcher } from 'undici';
import type { SiteTlsConfig } from './config/types.js';

/** undici's dispatch options with `servername`, which its Request takes but its typings omit. */
export type NamedDispatch = Dispatcher.DispatchOptions & { servername: string };

/** The name to send as `servername` with every request to `origin`: its host (an IP as is). */
export function originServername(origin: string): string {
  const host = new URL(origin).hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

/**
 * The SNI to send for a TLS name: the name itself, or none for an IP address (RFC 6066 forbids
 * it, and Node warns); without SNI the certificate's IP addresses are checked.
 */
export function sniFor(servername: string): string | undefined {
  return isIP(servername) ? undefined : servername;
}

/** A site's `tls` (mTLS to its backends) as Node's TLS options: CA, client certificate and key. */
export function clientTlsOptions(tls: SiteTlsConfig | undefined): { ca?: string; cert?: string; key?: string } {
  if (tls === undefined) return {};
  return { ...(tls.ca !== undefined && { ca: tls.ca }), ...(tls.cert !== undefined && { cert: tls.cert, key: tls.key }) };
}

/** undici's own connector, with the SNI rule above. */
export function tlsConnector(opts: buildConnector.BuildOptions = {}): buildConnector.connector {
  const base = buildConnector(opts);
  return (o, cb) => base(o.servername !== undefined && sniFor(o.servername) === undefined ? { ...o, servername: undefined } : o, cb);
}

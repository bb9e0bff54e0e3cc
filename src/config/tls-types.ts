/** The types of `listen` entries and TLS settings (src/config/listeners-section.ts, docs/tls.md). */
import type { ListenAddress } from './types.js';

/** One data-plane listener: plain HTTP, or HTTP over TLS when `tls` is set. */
export interface ListenerConfig {
  address: ListenAddress;
  /** TLS termination on this listener; absent: plain HTTP. */
  tls?: ListenerTlsConfig;
  /**
   * A PROXY protocol v1/v2 header comes first on every connection, and is taken only from a
   * peer in server.trusted_proxies (src/proxy/proxy-protocol.ts). Default false.
   */
  proxy_protocol: boolean;
  /** TLS listeners: HTTP/2 offered by ALPN (h2, then http/1.1). Default true. */
  http2: boolean;
  /** Plain listeners: HTTP/2 with prior knowledge (h2c) beside HTTP/1.1. Default false. */
  h2c: boolean;
}

/** A TLS listener's certificates and protocol settings. */
export interface ListenerTlsConfig {
  /** The default certificate (no SNI, or a name no certificate has); absolute paths. */
  cert_file?: string;
  key_file?: string;
  /** A directory of PEM pairs (`name.crt`/`name.pem` + `name.key`), names read from each certificate's SAN. */
  cert_dir?: string;
  /** Lowest TLS version offered. */
  min_version: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list (TLS 1.3 suites are the `TLS_*` entries). */
  ciphers: string;
  /** Session ticket keys are replaced this often (ms); 0: never (one key for the process's life). */
  ticket_rotation: number;
}

/** `tenants.X.tls`: the certificate served for the tenant's hosts. */
export interface TenantTlsConfig {
  cert_file: string;
  key_file: string;
}

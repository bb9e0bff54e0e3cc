/**
 * `listen`: one address ("0.0.0.0:8080", as before) or a list of listeners, each an address or
 * `{ address, tls? }`; and `tenants.X.tls`. Certificate files are read and checked here (the
 * key matches, not expired), so that check-config, start-up and reload name the bad file.
 * An entry may also set `proxy_protocol`, `http2` (TLS listeners) and `h2c` (plain listeners).
 */
import path from 'node:path';
import type { ListenAddress } from './types.js';
import type { ListenerConfig, ListenerTlsConfig, TenantTlsConfig } from './tls-types.js';
import * as D from './defaults.js';
import { Fields, type Problems, text, oneOf, anyDuration, show, bool } from './fields.js';
import { listenAddress } from './values.js';
import { readPair, dirPairs } from '../tls/cert-pair.js';

export function readListeners(raw: unknown, baseDir: string, out: Problems): ListenerConfig[] {
  if (raw === undefined) return [plainListener({ ...D.DEFAULT_LISTEN })];
  if (!Array.isArray(raw)) {
    const address = listenAddress(raw, 'listen', out);
    return [plainListener(address ?? { ...D.DEFAULT_LISTEN })];
  }
  if (raw.length === 0) {
    out.error('listen', 'must list at least one listener');
    return [plainListener({ ...D.DEFAULT_LISTEN })];
  }
  const listeners: ListenerConfig[] = [];
  const seen = new Map<string, string>();
  raw.forEach((entry: unknown, i) => {
    const at = `listen[${i}]`;
    const l = readListener(entry, at, baseDir, out);
    if (l === undefined) return;
    const key = `${l.address.host}:${l.address.port}`;
    const first = seen.get(key);
    if (first !== undefined && l.address.port !== 0) out.error(at, `duplicate listen address ${show(key)} (first at ${first})`);
    else seen.set(key, at);
    listeners.push(l);
  });
  return listeners.length > 0 ? listeners : [plainListener({ ...D.DEFAULT_LISTEN })];
}

/** A listener written as a bare address: plain HTTP/1.1, every option at its default. */
export function plainListener(address: ListenAddress): ListenerConfig {
  return { address, proxy_protocol: false, http2: D.DEFAULT_LISTENER_HTTP2, h2c: false };
}

function readListener(entry: unknown, at: string, baseDir: string, out: Problems): ListenerConfig | undefined {
  if (typeof entry === 'string') {
    const address = listenAddress(entry, at, out);
    return address && plainListener(address);
  }
  const f = Fields.of(entry, at, out);
  if (f === undefined) return undefined;
  const address: ListenAddress | undefined = f.req('address', listenAddress);
  const tlsFields = f.sub('tls');
  const tls = tlsFields && readListenerTls(tlsFields, baseDir, out);
  const proxyProtocol = f.get('proxy_protocol', bool) ?? false;
  const http2 = f.get('http2', bool);
  const h2c = f.get('h2c', bool) ?? false;
  f.end();
  if (http2 !== undefined && tlsFields === undefined) out.error(f.path('http2'), 'http2 is offered by ALPN on TLS listeners only; a plain listener takes HTTP/2 with h2c: true');
  if (h2c && tlsFields !== undefined) out.error(f.path('h2c'), 'h2c is HTTP/2 without TLS: on a TLS listener HTTP/2 is http2: true');
  if (address === undefined) return undefined;
  const l: ListenerConfig = { ...plainListener(address), proxy_protocol: proxyProtocol, http2: http2 ?? D.DEFAULT_LISTENER_HTTP2, h2c };
  if (tls) l.tls = tls;
  return l;
}

function readListenerTls(f: Fields, baseDir: string, out: Problems): ListenerTlsConfig | undefined {
  const certFile = f.get('cert_file', text);
  const keyFile = f.get('key_file', text);
  const certDir = f.get('cert_dir', text);
  const minVersion = f.get('min_version', oneOf(['TLSv1.2', 'TLSv1.3'] as const));
  const ciphers = f.get('ciphers', text);
  const rotation = f.get('ticket_rotation', anyDuration);
  f.end();
  const tls: ListenerTlsConfig = {
    min_version: minVersion ?? (D.DEFAULT_TLS_MIN_VERSION as ListenerTlsConfig['min_version']),
    ciphers: ciphers ?? D.DEFAULT_TLS_CIPHERS,
    ticket_rotation: rotation ?? D.DEFAULT_TLS_TICKET_ROTATION,
  };
  const pair = readPairFields(f, certFile, keyFile, baseDir, out);
  if (pair) Object.assign(tls, pair);
  if (certDir !== undefined) {
    tls.cert_dir = path.resolve(baseDir, certDir);
    const pairs = dirPairs(tls.cert_dir);
    if (typeof pairs === 'string') out.error(f.path('cert_dir'), pairs);
    else for (const p of pairs) checkPair(p.certFile, p.keyFile, f.path('cert_dir'), f.path('cert_dir'), out);
  }
  if (tls.cert_file === undefined && tls.cert_dir === undefined && certFile === undefined) {
    out.error(f.at, 'a TLS listener needs a default certificate (cert_file and key_file) or a cert_dir');
  } else if (certFile === undefined) {
    out.warn(f.at, 'no default certificate (cert_file, key_file): clients without SNI, or naming a host no certificate has, fail the handshake');
  }
  if (ciphers !== undefined && !ciphers.includes('TLS_') && tls.min_version === 'TLSv1.3') {
    out.error(f.path('ciphers'), 'min_version TLSv1.3 needs TLS 1.3 suites (TLS_*) in the list');
  }
  return tls;
}

/** `tenants.X.tls: { cert_file, key_file }`. */
export function readTenantTls(f: Fields | undefined, baseDir: string, out: Problems): TenantTlsConfig | undefined {
  if (f === undefined) return undefined;
  const certFile = f.req('cert_file', text);
  const keyFile = f.req('key_file', text);
  f.end();
  return readPairFields(f, certFile, keyFile, baseDir, out);
}

function readPairFields(f: Fields, certFile: string | undefined, keyFile: string | undefined, baseDir: string, out: Problems): TenantTlsConfig | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    out.error(f.path(certFile === undefined ? 'cert_file' : 'key_file'), 'cert_file and key_file go together');
    return undefined;
  }
  const pair = { cert_file: path.resolve(baseDir, certFile), key_file: path.resolve(baseDir, keyFile) };
  checkPair(pair.cert_file, pair.key_file, f.path('cert_file'), f.path('key_file'), out);
  return pair;
}

function checkPair(certFile: string, keyFile: string, certAt: string, keyAt: string, out: Problems): void {
  const r = readPair(certFile, keyFile);
  if ('problem' in r) out.error(r.problem.file === 'cert_file' ? certAt : keyAt, r.problem.message);
  else if (r.warning !== undefined) out.warn(certAt, r.warning);
}

/** A tenant certificate is served only by a TLS listener: say so when there is none. */
export function checkTenantTls(listeners: ListenerConfig[], tenants: Array<{ name: string; tls?: TenantTlsConfig }>, out: Problems): void {
  if (listeners.some((l) => l.tls !== undefined)) return;
  for (const t of tenants) if (t.tls) out.warn(`tenants.${t.name}.tls`, 'no listener has tls: this certificate is not served');
}

/**
 * A PROXY protocol listener believes the header only from server.trusted_proxies: with none,
 * every connection would be refused, which is a mistake to say at load, not at the first client.
 */
export function checkProxyProtocol(listeners: readonly ListenerConfig[], trustedProxies: readonly string[], out: Problems): void {
  if (trustedProxies.length > 0) return;
  listeners.forEach((l, i) => {
    if (l.proxy_protocol) out.error(`listen[${i}].proxy_protocol`, 'needs server.trusted_proxies: the PROXY header is accepted only from the load balancers listed there (e.g. [10.0.0.0/8])');
  });
}

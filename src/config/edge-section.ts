/**
 * The edge settings of a tenant (redirect_https, https_port, hsts; also allowed in `defaults`)
 * and a site's client TLS to its backends (`tls`: mTLS). PEM files are read here, at load, so
 * that a changed file changes the site's config, which a reload turns into new pools and probes
 * like any other backend change; a bad file refuses the whole config and changes nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { BackendConfig, HstsConfig, SiteTlsConfig, TenantEdgeConfig } from './types.js';
import { DEFAULT_TENANT_EDGE } from './defaults.js';
import { Fields, Problems, bool, compact, duration, int, text } from './fields.js';

/** hstspreload.org: a preloaded domain needs max-age of at least one year (31536000 s). */
const PRELOAD_MIN_SECONDS = 31_536_000;

type EdgeLayer = Partial<Omit<TenantEdgeConfig, 'hsts'>> & { hsts?: HstsConfig };

/** One layer of the edge settings (defaults or a tenant): what it wrote, checked. */
export function readEdgeLayer(f: Fields | undefined): EdgeLayer {
  if (f === undefined) return {};
  const hsts = f.get('hsts', readHsts);
  return compact<EdgeLayer>({
    redirect_https: f.get('redirect_https', bool),
    https_port: f.get('https_port', int(1, 65_535)),
    hsts,
  });
}

/** The tenant's edge settings: its own layer over defaults' over the built-in ones. */
export function mergeEdge(defaults: EdgeLayer, tenant: EdgeLayer): TenantEdgeConfig {
  return { ...DEFAULT_TENANT_EDGE, ...defaults, ...tenant };
}

const readHsts = (value: unknown, at: string, out: Problems): HstsConfig | undefined => {
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  // Not a timer: a year is longer than a Node timer can wait, and nothing waits on it.
  const maxAge = f.req('max_age', duration({ timer: false }));
  const includeSubdomains = f.get('include_subdomains', bool) ?? false;
  const preload = f.get('preload', bool) ?? false;
  f.end();
  if (maxAge === undefined) return undefined;
  const seconds = Math.floor(maxAge / 1000);
  if (preload && seconds < PRELOAD_MIN_SECONDS) {
    return out.error(f.path('preload'), `preload needs max_age of at least 1 year (hstspreload.org), got ${seconds}s`);
  }
  if (preload && !includeSubdomains) {
    return out.error(f.path('preload'), 'preload needs include_subdomains: true (hstspreload.org)');
  }
  return { max_age: seconds, include_subdomains: includeSubdomains, preload };
};

/** The Strict-Transport-Security value of a tenant, built once per config (route.ts reads it). */
export function hstsHeader(h: HstsConfig): string {
  return `max-age=${h.max_age}${h.include_subdomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`;
}

/**
 * A site's `tls`: CA, client certificate and key read from disk (relative to the config's
 * directory) and checked: each parses, the key matches the certificate, cert and key come
 * together. A site whose backends are all http:// gets a warning (the block does nothing).
 */
export function readSiteTls(f: Fields | undefined, baseDir: string, backends: readonly BackendConfig[], out: Problems): SiteTlsConfig | undefined {
  if (f === undefined) return undefined;
  const file = (key: string): { file: string; pem: string } | undefined => {
    const name = f.get(key, text);
    if (name === undefined) return undefined;
    const abs = path.resolve(baseDir, name);
    try {
      return { file: abs, pem: readFileSync(abs, 'utf8') };
    } catch (err) {
      return out.error(f.path(key), `cannot read ${abs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const ca = file('ca_file');
  const cert = file('cert_file');
  const key = file('key_file');
  const servername = f.get('servername', text);
  f.end();
  if (ca !== undefined && !parses(() => new X509Certificate(ca.pem))) out.error(f.path('ca_file'), `${ca.file}: not a PEM certificate`);
  if (f.has('cert_file') !== f.has('key_file')) {
    out.error(f.path(f.has('cert_file') ? 'key_file' : 'cert_file'), 'cert_file and key_file go together (a client certificate needs its key)');
  }
  if (cert !== undefined && key !== undefined) checkPair(cert, key, f, out);
  if (backends.length > 0 && !backends.some((b) => b.origin.startsWith('https:'))) {
    out.warn(f.at, 'every backend of this site is http://: the tls block is not used');
  }
  return compact<SiteTlsConfig>({ ca: ca?.pem, cert: cert?.pem, key: key?.pem, servername }) as SiteTlsConfig;
}

function checkPair(cert: { file: string; pem: string }, key: { file: string; pem: string }, f: Fields, out: Problems): void {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert.pem);
  } catch {
    out.error(f.path('cert_file'), `${cert.file}: not a PEM certificate`);
    return;
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key.pem))) out.error(f.path('key_file'), `${key.file}: this key does not belong to the certificate ${cert.file}`);
  } catch {
    out.error(f.path('key_file'), `${key.file}: not a PEM private key (an encrypted key is not supported)`);
  }
}

function parses(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch {
    return false;
  }
}

/**
 * One TLS listener's certificates: the default pair, the tenants' pairs (served for the
 * tenant's hosts) and a cert_dir's pairs (served for the names in their SAN), each behind its
 * own SecureContext, looked up by SNI (sni-table.ts).
 *
 * Hot reload (docs/tls.md): `refresh()` re-reads every file; a pair whose leaf changed gets a
 * new context, built into a new table that replaces the old one in one assignment, so only new
 * handshakes see it and established connections keep theirs. A pair that fails its checks
 * (cert-pair.ts) is refused with a problem naming the file, and the pair loaded before stays.
 */
import tls, { type SecureContext } from 'node:tls';
import type { ListenerTlsConfig, TenantTlsConfig } from '../config/tls-types.js';
import { readPair, dirPairs, type CertPair } from './cert-pair.js';
import { SniTable } from './sni-table.js';
import { DrProxyError } from '../errors.js';

/** Where a pair comes from: `tenant` is the tenant, or "default" for the listener's own. */
export interface CertSource {
  tenant: string;
  certFile: string;
  keyFile: string;
  /** The tenant's host patterns; undefined: the certificate's own names (cert_dir, default). */
  hosts?: readonly string[];
  isDefault?: boolean;
}

export interface TenantCerts {
  name: string;
  hosts: readonly string[];
  tls?: TenantTlsConfig;
}

export interface LoadedCert {
  source: CertSource;
  pair: CertPair;
  context: SecureContext;
}

export interface CertProblem {
  file: string;
  message: string;
}

export class CertStore {
  private table = new SniTable();
  private loaded = new Map<string, LoadedCert>();
  private tenants: readonly TenantCerts[];
  /** Pairs that replaced an older one since the caller last emptied this (logged by listeners.ts). */
  replaced: LoadedCert[] = [];
  /** The default pair: passed to the server's own context (clients without SNI). */
  defaultCert: LoadedCert | undefined;

  constructor(
    readonly cfg: ListenerTlsConfig,
    tenants: readonly TenantCerts[],
  ) {
    this.tenants = tenants;
    const problems = this.refresh();
    if (problems.length > 0) throw new DrProxyError('DRP_CONFIG_INVALID', `TLS: ${problems.map((p) => p.message).join('; ')}`);
  }

  /** Options of a context built with this listener's protocol settings. */
  contextOptions(pair: Pick<CertPair, 'certPem' | 'keyPem'>): tls.SecureContextOptions {
    return { cert: pair.certPem, key: pair.keyPem, minVersion: this.cfg.min_version, ciphers: this.cfg.ciphers };
  }

  /** SNICallback: the context for a name, or the default one (undefined). */
  find(servername: string): SecureContext | undefined {
    return this.table.find(servername);
  }

  /** Every certificate in use (metrics). */
  certs(): Iterable<LoadedCert> {
    return this.loaded.values();
  }

  /** Tenants changed (config reload): their pairs are read again. */
  setTenants(tenants: readonly TenantCerts[]): CertProblem[] {
    this.tenants = tenants;
    return this.refresh();
  }

  /** Re-read every file; swap in a new table. Refused pairs keep their previous context. */
  refresh(now = Date.now()): CertProblem[] {
    const problems: CertProblem[] = [];
    const next = new Map<string, LoadedCert>();
    const table = new SniTable();
    for (const source of this.sources(problems)) {
      const key = `${source.tenant}\0${source.certFile}\0${source.keyFile}`;
      const old = this.loaded.get(key);
      const r = readPair(source.certFile, source.keyFile, now);
      let cert: LoadedCert | undefined = old;
      if ('problem' in r) {
        problems.push({ file: r.problem.file === 'cert_file' ? source.certFile : source.keyFile, message: `${r.problem.message}${old ? '; the certificate loaded before is still served' : ''}` });
      } else if (old === undefined || old.pair.fingerprint !== r.pair.fingerprint || !old.pair.keyPem.equals(r.pair.keyPem)) {
        cert = { source, pair: r.pair, context: tls.createSecureContext(this.contextOptions(r.pair)) };
        if (old !== undefined) this.replaced.push(cert);
      }
      if (cert === undefined) continue;
      next.set(key, cert);
      if (source.isDefault) continue;
      for (const name of source.hosts ?? cert.pair.names) table.add(name, cert.context);
    }
    this.loaded = next;
    this.table = table;
    this.defaultCert = [...next.values()].find((c) => c.source.isDefault);
    return problems;
  }

  /** Every file a change of which matters (watched). */
  files(): string[] {
    const out = new Set<string>();
    for (const c of this.sources([])) out.add(c.certFile).add(c.keyFile);
    return [...out];
  }

  private sources(problems: CertProblem[]): CertSource[] {
    const list: CertSource[] = [];
    for (const t of this.tenants) {
      if (t.tls) list.push({ tenant: t.name, certFile: t.tls.cert_file, keyFile: t.tls.key_file, hosts: t.hosts });
    }
    if (this.cfg.cert_dir !== undefined) {
      const pairs = dirPairs(this.cfg.cert_dir);
      if (typeof pairs === 'string') problems.push({ file: this.cfg.cert_dir, message: pairs });
      else for (const p of pairs) list.push({ tenant: 'default', ...p });
    }
    if (this.cfg.cert_file !== undefined && this.cfg.key_file !== undefined) {
      list.push({ tenant: 'default', certFile: this.cfg.cert_file, keyFile: this.cfg.key_file, isDefault: true });
    }
    return list;
  }
}

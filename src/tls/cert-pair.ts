/**
 * One certificate and its key, read from PEM files and checked before anything serves it: the
 * key must be the certificate's (X509Certificate.checkPrivateKey), and an expired or not yet
 * valid certificate is reported. Used by config validation (so that check-config, start-up and
 * reload name the file) and by the hot reload of changed files (src/tls/cert-store.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';

export interface CertPair {
  certFile: string;
  keyFile: string;
  /** The whole cert_file (leaf and chain) and the key, as read. */
  certPem: Buffer;
  keyPem: Buffer;
  /** Lower-case DNS names of the leaf (SAN; the CN only when there is no SAN). */
  names: string[];
  /** The first name, for metrics and logs. */
  name: string;
  notAfter: number;
  /** sha256 fingerprint of the leaf: a file rewritten with the same certificate is not a change. */
  fingerprint: string;
}

export interface PairProblem {
  /** Which of the two files is at fault. */
  file: 'cert_file' | 'key_file';
  message: string;
}

export type PairResult = { pair: CertPair; warning?: string } | { problem: PairProblem };

/** Read and check a pair; never throws. */
export function readPair(certFile: string, keyFile: string, now = Date.now()): PairResult {
  let certPem: Buffer;
  let keyPem: Buffer;
  let cert: X509Certificate;
  try {
    certPem = readFileSync(certFile);
  } catch (err) {
    return { problem: { file: 'cert_file', message: `cannot read ${certFile}: ${(err as Error).message}` } };
  }
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    return { problem: { file: 'cert_file', message: `${certFile} is not a PEM certificate: ${(err as Error).message}` } };
  }
  try {
    keyPem = readFileSync(keyFile);
  } catch (err) {
    return { problem: { file: 'key_file', message: `cannot read ${keyFile}: ${(err as Error).message}` } };
  }
  let matches: boolean;
  try {
    matches = cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch (err) {
    return { problem: { file: 'key_file', message: `${keyFile} is not an unencrypted PEM private key: ${(err as Error).message}` } };
  }
  if (!matches) return { problem: { file: 'key_file', message: `${keyFile} is not the key of the certificate in ${certFile} (their public keys differ)` } };
  const names = certNames(cert);
  const notAfter = Date.parse(cert.validTo);
  const pair: CertPair = { certFile, keyFile, certPem, keyPem, names, name: names[0] ?? cert.subject, notAfter, fingerprint: cert.fingerprint256 };
  if (notAfter <= now) return { pair, warning: `${certFile} expired on ${cert.validTo}: clients will refuse it` };
  if (Date.parse(cert.validFrom) > now) return { pair, warning: `${certFile} is not valid before ${cert.validFrom}: clients will refuse it` };
  return { pair };
}

/** DNS names from subjectAltName ("DNS:a.example.com, DNS:*.b.example.com"), else the CN. */
export function certNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san !== undefined) {
    const dns = san.split(/,\s*/).filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4).toLowerCase());
    if (dns.length > 0) return dns;
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject);
  return cn ? [cn[1]!.toLowerCase()] : [];
}

/** The pairs of a cert_dir: `x.crt` or `x.pem` with `x.key`, sorted by name. */
export function dirPairs(dir: string): Array<{ certFile: string; keyFile: string }> | string {
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch (err) {
    return `cannot read directory ${dir}: ${(err as Error).message}`;
  }
  const have = new Set(files);
  const pairs: Array<{ certFile: string; keyFile: string }> = [];
  for (const f of files) {
    const m = /^(.*)\.(crt|pem)$/.exec(f);
    if (m && have.has(`${m[1]}.key`)) pairs.push({ certFile: join(dir, f), keyFile: join(dir, `${m[1]}.key`) });
  }
  return pairs;
}

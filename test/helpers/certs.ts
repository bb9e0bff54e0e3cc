/**
 * Certificates for TLS tests, made by Debian's openssl into a temp dir (nothing committed that
 * expires): self-signed P-256 leaves with the given DNS names, valid for `days`.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';

export interface TestCert {
  cert: string;
  key: string;
  /** The leaf's sha256 fingerprint (to tell which certificate a handshake got). */
  fingerprint: string;
}

/** Write `<base>.crt` and `<base>.key` in dir for these DNS names (the first is the CN). */
export function makeCert(dir: string, base: string, names: string[], days = 2): TestCert {
  const cert = join(dir, `${base}.crt`);
  const key = join(dir, `${base}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days),
    '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    '-keyout', key, '-out', cert,
  ], { stdio: 'pipe' });
  return { cert, key, fingerprint: new X509Certificate(execFileSync('cat', [cert])).fingerprint256 };
}

export interface Peer {
  /** The served leaf's CN and fingerprint, the protocol agreed. */
  cn: string;
  fingerprint: string;
  protocol: string | null;
}

/** Handshake with 127.0.0.1:port (SNI `servername` unless undefined) and report the peer certificate. */
export function handshake(port: number, servername: string | undefined, opts: tls.ConnectionOptions = {}): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername !== undefined && { servername }), ...opts }, () => {
      const c = s.getPeerCertificate();
      const peer = { cn: String(c.subject?.CN ?? ''), fingerprint: c.fingerprint256, protocol: s.getProtocol() };
      s.end();
      resolve(peer);
    });
    s.once('error', reject);
  });
}

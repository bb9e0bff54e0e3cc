/**
 * The drill-report signing key (drills.signing_key_file): an Ed25519 private key, PKCS#8 PEM,
 * as `openssl genpkey -algorithm ed25519 -out drills.pem` writes it. A key that cannot be used
 * stops start-up (DRP_SIGNING_KEY, naming the path): reports silently left unsigned would be
 * worse evidence than a proxy that says why it did not start. `drproxy check-config` reports
 * the same problems.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { DrProxyError } from '../errors.js';
import { keyIdOf, type SigningKey } from './signature.js';

const AT = 'drills.signing_key_file';

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable (permission denied)' : code === 'EISDIR' ? 'is a directory' : `cannot be read (${code ?? (err as Error).message})`;
    throw new DrProxyError('DRP_SIGNING_KEY', `${AT}: ${file} ${why}`, { cause: err });
  }
}

/** Loads and checks the signing key (throws DrProxyError DRP_SIGNING_KEY). */
export function loadSigningKey(file: string): SigningKey {
  const pem = readKeyFile(file);
  if (/-----BEGIN PUBLIC KEY-----/.test(pem) && !/PRIVATE KEY-----/.test(pem)) {
    throw new DrProxyError('DRP_SIGNING_KEY', `${AT}: ${file} holds a public key; drproxy needs the private key (PKCS#8 PEM, "BEGIN PRIVATE KEY"); give auditors the public key`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    const encrypted = /ENCRYPTED/.test(pem);
    const why = encrypted ? 'is an encrypted key; drproxy needs it unencrypted (readable only by drproxy)' : `is not a PEM private key (${(err as Error).message})`;
    throw new DrProxyError('DRP_SIGNING_KEY', `${AT}: ${file} ${why}`, { cause: err });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new DrProxyError('DRP_SIGNING_KEY', `${AT}: ${file} is a ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519 (make one with: openssl genpkey -algorithm ed25519 -out ${file})`);
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

/** A public key to check against (`verify-report --key`): a public key PEM, or a private one (its public half). */
export function loadPublicKey(file: string): KeyObject {
  const pem = readFileSync(file, 'utf8');
  const key = createPublicKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file} is a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`);
  return key;
}

/** For check-config: the error that would stop start-up, and a warning when the key is readable by others. */
export function signingKeyProblems(file: string | undefined): { path: string; message: string; severity: 'error' | 'warning' }[] {
  if (file === undefined) return [];
  try {
    loadSigningKey(file);
  } catch (err) {
    return [{ path: AT, message: (err as Error).message.slice(AT.length + 2), severity: 'error' }];
  }
  const mode = statSync(file).mode & 0o777;
  // Others may not touch it, and its group may at most read it (root:drproxy 0640 is fine).
  if (mode & 0o027) {
    return [{ path: AT, message: `${file} is open to others (mode ${mode.toString(8).padStart(4, '0')}): make it readable only by drproxy (chmod 600, or 640 with drproxy's group)`, severity: 'warning' }];
  }
  return [];
}

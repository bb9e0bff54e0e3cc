/**
 * Ed25519 signatures of drill reports (docs/security.md, "Tamper-evident evidence"), with
 * node:crypto only. What is signed is the canonical JSON of the report without its `signature`
 * member: object keys sorted (by UTF-16 code unit, as RFC 8785), no whitespace, members whose
 * value is undefined left out, strings and numbers as JSON.stringify writes them. A report can
 * thus be stored pretty-printed or with its keys in any order and still be checked; a changed
 * value, added or removed member is not the signed report any more.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { AnyDrillReport, AuditRef, ReportSignature } from '../drill/types.js';

/** The canonical JSON of a value (see above). */
export function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return canonicalJson((value as { toJSON(): unknown }).toJSON());
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined || typeof v === 'function') continue;
      members.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
    }
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A loaded Ed25519 key pair (keys.ts loads it from drills.signing_key_file). */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

/** Which key: the first 16 hex digits of the SHA-256 of the public key's DER (SPKI). */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** The bytes a report's signature covers. */
export function signedBytes(report: object): Buffer {
  const { signature: _omitted, ...rest } = report as { signature?: unknown };
  return Buffer.from(canonicalJson(rest), 'utf8');
}

/** Signs bytes with the key: the ReportSignature that names it. */
export function signatureOver(data: Buffer, key: SigningKey): ReportSignature {
  return { alg: 'Ed25519', key_id: key.keyId, public_key: publicKeyPem(key.publicKey), value: sign(null, data, key.privateKey).toString('base64') };
}

/** A copy of the report with its `signature` set (any previous one replaced). */
export function signReport<T extends AnyDrillReport>(report: T, key: SigningKey): T {
  return { ...report, signature: signatureOver(signedBytes(report), key) };
}

export type SignatureProblem = 'missing' | 'malformed' | 'bad_key' | 'key_id_mismatch' | 'untrusted_key' | 'bad_signature' | 'layout';

export interface SignatureCheck {
  valid: boolean;
  /** The key the signature names (and, when valid, was made with). */
  key_id?: string;
  problem?: SignatureProblem;
  message: string;
}

/**
 * Checks a signature over `data`. The public key comes from the signature itself; with
 * `trusted`, it must be that key (otherwise anyone could re-sign an edited report with a key of
 * their own). The key id must be the embedded key's.
 */
export function checkSignature(data: Buffer, sig: unknown, trusted?: KeyObject): SignatureCheck {
  if (sig === undefined || sig === null) return { valid: false, problem: 'missing', message: 'not signed: the report has no signature' };
  const s = sig as Partial<ReportSignature>;
  if (s.alg !== 'Ed25519' || typeof s.public_key !== 'string' || typeof s.value !== 'string' || typeof s.key_id !== 'string') {
    return { valid: false, problem: 'malformed', message: 'the signature is malformed (alg must be Ed25519, with key_id, public_key and value)' };
  }
  let key: KeyObject;
  try {
    key = createPublicKey(s.public_key);
  } catch (err) {
    return { valid: false, key_id: s.key_id, problem: 'bad_key', message: `the signature's public key cannot be read (${(err as Error).message})` };
  }
  if (key.asymmetricKeyType !== 'ed25519') return { valid: false, key_id: s.key_id, problem: 'bad_key', message: `the signature's public key is ${key.asymmetricKeyType}, not Ed25519` };
  // Strict encodings: base64 decoders ignore stray characters and unused trailing bits, so an
  // edited byte there could still decode to the signed key or signature.
  if (publicKeyPem(key) !== s.public_key) return { valid: false, key_id: s.key_id, problem: 'malformed', message: "the signature's public key is not in the form drproxy writes (SPKI PEM): it was edited" };
  const value = Buffer.from(s.value, 'base64');
  if (value.toString('base64') !== s.value) return { valid: false, key_id: s.key_id, problem: 'malformed', message: "the signature's value is not canonical base64: it was edited" };
  const id = keyIdOf(key);
  if (id !== s.key_id) return { valid: false, key_id: s.key_id, problem: 'key_id_mismatch', message: `the signature names key ${s.key_id} but carries key ${id}` };
  if (trusted && !trusted.equals(key)) return { valid: false, key_id: id, problem: 'untrusted_key', message: `signed by key ${id}, not by the expected key ${keyIdOf(trusted)}` };
  const ok = verify(null, data, key, value);
  return ok
    ? { valid: true, key_id: id, message: `valid Ed25519 signature by key ${id}${trusted ? ' (the expected key)' : ''}` }
    : { valid: false, key_id: id, problem: 'bad_signature', message: `the signature does not match the content: the report was changed after key ${id} signed it` };
}

/** Checks a parsed report's signature (see checkSignature). */
export function verifyReport(report: object, trustedPublicKey?: KeyObject): SignatureCheck {
  return checkSignature(signedBytes(report), (report as { signature?: unknown }).signature, trustedPublicKey);
}

/**
 * Is `text` the report as drproxy writes it: JSON.stringify compact or with a 2-space indent,
 * a trailing newline or none? The signature covers the content; this covers the bytes, so that
 * an edit that leaves the content alone (whitespace, an escape written another way) is seen too.
 */
export function isDrproxyLayout(text: string, parsed: unknown): boolean {
  const forms = [JSON.stringify(parsed, null, 2), JSON.stringify(parsed)];
  return forms.some((f) => text === f || text === `${f}\n`);
}

/**
 * What the drill engine calls once a report is final: names the audit chain's head in it, then
 * signs it when a key is configured. Returns a new report; the one given is not changed.
 */
export function finishReport<T extends AnyDrillReport>(report: T, opts: { key?: SigningKey | undefined; auditHead?: AuditRef | undefined } = {}): T {
  // A signature from an earlier close would not match the report any more.
  const { signature: _stale, ...unsigned } = report;
  const done = (opts.auditHead ? { ...unsigned, audit: { ...report.audit, chain_head: { ...opts.auditHead } } } : unsigned) as T;
  return opts.key ? signReport(done, opts.key) : done;
}

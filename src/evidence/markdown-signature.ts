/**
 * A signed Markdown report: the document's bytes, then a signature block that ends the file:
 *
 *   <the Markdown document, UTF-8, ending with "\n">
 *   <!-- drproxy-signature
 *   alg: Ed25519
 *   key_id: <16 hex>
 *   public_key: <base64 of the public key's DER (SPKI)>
 *   value: <base64 of the Ed25519 signature>
 *   -->
 *
 * The signature covers every byte before the line `<!-- drproxy-signature` (its newline
 * included), exactly as stored: no normalisation of line ends or whitespace. The block is an
 * HTML comment, so that the document renders as before; nothing but one newline may follow
 * `-->`. verifyMarkdown finds the last such block and refuses anything after it.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { ReportSignature } from '../drill/types.js';
import { checkSignature, signatureOver, type SignatureCheck, type SigningKey } from './signature.js';

const OPEN = '<!-- drproxy-signature\n';
const BLOCK = /^<!-- drproxy-signature\nalg: (\S+)\nkey_id: (\S+)\npublic_key: ([A-Za-z0-9+/=]+)\nvalue: ([A-Za-z0-9+/=]+)\n-->\n?$/;

/** `markdown` followed by its signature block (a newline is added first if it does not end with one). */
export function signMarkdown(markdown: string, key: SigningKey): string {
  const body = markdown.endsWith('\n') ? markdown : `${markdown}\n`;
  const sig = signatureOver(Buffer.from(body, 'utf8'), key);
  const der = key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return `${body}${OPEN}alg: ${sig.alg}\nkey_id: ${sig.key_id}\npublic_key: ${der}\nvalue: ${sig.value}\n-->\n`;
}

/** Checks a signed Markdown document (its bytes as stored). */
export function verifyMarkdown(doc: Buffer, trusted?: KeyObject): SignatureCheck {
  const at = doc.lastIndexOf(`\n${OPEN}`);
  if (at < 0) return { valid: false, problem: 'missing', message: 'not signed: no "<!-- drproxy-signature" block at the end of the document' };
  const body = doc.subarray(0, at + 1);
  const m = BLOCK.exec(doc.subarray(at + 1).toString('utf8'));
  if (!m) return { valid: false, problem: 'malformed', message: 'the signature block is malformed, or something follows it (the block must end the file)' };
  const der = Buffer.from(m[3]!, 'base64');
  if (der.toString('base64') !== m[3]) return { valid: false, key_id: m[2]!, problem: 'malformed', message: "the signature's public key is not canonical base64: it was edited" };
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (err) {
    return { valid: false, key_id: m[2]!, problem: 'bad_key', message: `the signature's public key cannot be read (${(err as Error).message})` };
  }
  // The DER parser ignores bytes after the key: they must not be there.
  if (!key.export({ type: 'spki', format: 'der' }).equals(der)) return { valid: false, key_id: m[2]!, problem: 'malformed', message: "the signature's public key has bytes that are not the key's: it was edited" };
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  const sig: ReportSignature = { alg: m[1] as 'Ed25519', key_id: m[2]!, public_key: pem, value: m[4]! };
  return checkSignature(body, sig, trusted);
}

/**
 * Ed25519 signatures of drill reports (src/evidence/signature.ts, markdown-signature.ts) with a
 * key made by crypto.generateKeyPairSync('ed25519') and written to a file as drproxy reads it:
 * finishReport names the chain head and signs; the signed JSON and Markdown verify; editing any
 * one byte of either is caught (in-process for every byte, and through the built
 * `drproxy verify-report` for samples); a wrong --key, a missing signature exit 1.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkReportBytes } from '../src/cli-evidence.js';
import { evidenceHooks } from '../src/evidence/drill-hooks.js';
import { loadSigningKey } from '../src/evidence/keys.js';
import { signMarkdown, verifyMarkdown } from '../src/evidence/markdown-signature.js';
import { canonicalJson, finishReport, verifyReport, type SigningKey } from '../src/evidence/signature.js';
import { renderReportMarkdown } from '../src/drill/report-markdown.js';
import type { DrillReport } from '../src/drill/types.js';
import { runCli } from './helpers/cli.js';
import { sampleDrillReport, sampleRegionReport } from './helpers/drill-report.js';
import { tempDir } from './helpers/proxy.js';

let dir: string;
let key: SigningKey;
let publicPem: string;
let otherPublicPem: string;
let signed: DrillReport;
let jsonFile: string;
let mdFile: string;
let jsonText: string;
let mdText: string;

function keyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

beforeAll(async () => {
  dir = await tempDir('drproxy-sign-');
  const pair = keyPair();
  publicPem = pair.publicPem;
  await writeFile(join(dir, 'drills.pem'), pair.privatePem, { mode: 0o600 });
  await writeFile(join(dir, 'drills.pub'), publicPem);
  otherPublicPem = keyPair().publicPem;
  await writeFile(join(dir, 'other.pub'), otherPublicPem);
  key = loadSigningKey(join(dir, 'drills.pem'));
  signed = finishReport(sampleDrillReport(), { key, auditHead: { seq: 77, hash: 'f'.repeat(64) } });
  jsonFile = join(dir, `${signed.id}.json`);
  jsonText = `${JSON.stringify(signed, null, 2)}\n`; // as the drill store writes it
  await writeFile(jsonFile, jsonText);
  mdFile = join(dir, `${signed.id}.md`);
  mdText = evidenceHooks({ key: () => key, auditHead: () => undefined }).markdown(signed);
  await writeFile(mdFile, mdText);
});

/** `text` with its byte at `i` replaced by another one. */
function edited(text: string, i: number): Buffer {
  const b = Buffer.from(text);
  b[i] = b[i] === 0x30 ? 0x31 : 0x30;
  return b;
}

describe('report signatures', () => {
  it('finishReport names the chain head, then signs: Ed25519, the key id, the public key', () => {
    const der = key.publicKey.export({ type: 'spki', format: 'der' });
    expect(signed.audit.chain_head).toEqual({ seq: 77, hash: 'f'.repeat(64) });
    expect(signed.signature).toMatchObject({ alg: 'Ed25519', key_id: createHash('sha256').update(der).digest('hex').slice(0, 16), public_key: publicPem });
    expect(verifyReport(signed)).toMatchObject({ valid: true, key_id: key.keyId });
    // Canonical JSON: key order and whitespace are not content.
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(signed).reverse()))) as object;
    expect(verifyReport(reordered)).toMatchObject({ valid: true });
    expect(canonicalJson({ b: 1, a: [1, { d: undefined, c: 'x' }] })).toBe('{"a":[1,{"c":"x"}],"b":1}');
    // Region reports too.
    expect(verifyReport(finishReport(sampleRegionReport(), { key }))).toMatchObject({ valid: true });
  });

  it('verify-report: the signed JSON and Markdown are valid, naming the key; --key with the right key too', async () => {
    for (const file of [jsonFile, mdFile]) {
      const r = await runCli(['verify-report', file, '--key', join(dir, 'drills.pub')]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`valid: valid Ed25519 signature by key ${key.keyId} (the expected key)`);
    }
    const json = await runCli(['verify-report', jsonFile, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ format: 'json', valid: true, key_id: key.keyId, report: { id: signed.id, status: 'passed', chain_head: { seq: 77 } } });
  });

  it('every single byte edited in the signed JSON is caught', () => {
    expect(checkReportBytes(Buffer.from(jsonText)).check.valid).toBe(true);
    for (let i = 0; i < jsonText.length; i++) {
      const r = checkReportBytes(edited(jsonText, i));
      expect(r.check.valid, `byte ${i} (${JSON.stringify(jsonText.slice(Math.max(0, i - 10), i + 10))})`).toBe(false);
    }
  });

  it('every single byte edited in the signed Markdown is caught', () => {
    expect(verifyMarkdown(Buffer.from(mdText))).toMatchObject({ valid: true, key_id: key.keyId });
    for (let i = 0; i < Buffer.byteLength(mdText); i++) {
      expect(verifyMarkdown(edited(mdText, i)).valid, `byte ${i} (${JSON.stringify(Buffer.from(mdText).subarray(Math.max(0, i - 20), i + 10).toString())})`).toBe(false);
    }
    expect(verifyMarkdown(Buffer.from(`${mdText}more text\n`))).toMatchObject({ valid: false, problem: 'malformed' });
  });

  it('verify-report exits 1 on an edited byte of the JSON or the Markdown, naming the problem', async () => {
    await writeFile(join(dir, 'edited.json'), jsonText.replace('"measured_rto_ms": 1234', '"measured_rto_ms": 1235'));
    const j = await runCli(['verify-report', join(dir, 'edited.json')]);
    expect(j.code).toBe(1);
    expect(j.stderr).toMatch(/INVALID: the signature does not match the content: the report was changed after key [0-9a-f]{16} signed it/);

    await writeFile(join(dir, 'spaced.json'), jsonText.replace('\n  "tenant"', '\n   "tenant"'));
    const s = await runCli(['verify-report', join(dir, 'spaced.json')]);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/not as drproxy writes them/);
    expect((await runCli(['verify-report', join(dir, 'spaced.json'), '--content-only'])).code).toBe(0);

    await writeFile(join(dir, 'edited.md'), mdText.replace('1234 ms', '1235 ms'));
    const m = await runCli(['verify-report', join(dir, 'edited.md')]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/edited\.md: INVALID: the signature does not match the content/);
  });

  it('verify-report exits 1 with another key, or without a signature', async () => {
    for (const file of [jsonFile, mdFile]) {
      const r = await runCli(['verify-report', file, '--key', join(dir, 'other.pub')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`INVALID: signed by key ${key.keyId}, not by the expected key [0-9a-f]{16}`));
    }
    await writeFile(join(dir, 'unsigned.json'), `${JSON.stringify(sampleDrillReport(), null, 2)}\n`);
    await writeFile(join(dir, 'unsigned.md'), renderReportMarkdown(sampleDrillReport()));
    for (const file of ['unsigned.json', 'unsigned.md']) {
      const r = await runCli(['verify-report', join(dir, file)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/INVALID: not signed/);
    }
  });

  it('a report re-signed with another key passes alone but not with --key: the embedded key is not trusted by itself', async () => {
    const { privatePem } = keyPair();
    await writeFile(join(dir, 'mallory.pem'), privatePem, { mode: 0o600 });
    const forged = finishReport({ ...signed, measured_rto_ms: 1 }, { key: loadSigningKey(join(dir, 'mallory.pem')) });
    await writeFile(join(dir, 'forged.json'), `${JSON.stringify(forged, null, 2)}\n`);
    expect((await runCli(['verify-report', join(dir, 'forged.json')])).code).toBe(0);
    expect((await runCli(['verify-report', join(dir, 'forged.json'), '--key', join(dir, 'drills.pub')])).code).toBe(1);
  });

  it('the Markdown hook signs only final reports; a report without a key stays unsigned', () => {
    const hooks = evidenceHooks({ key: () => key, auditHead: () => ({ seq: 3, hash: '1'.repeat(64) }) });
    expect(hooks.markdown(sampleDrillReport({ status: 'running' }))).not.toContain('drproxy-signature');
    const md = signMarkdown(renderReportMarkdown(signed), key);
    expect(md).toBe(mdText);
    const unsigned = evidenceHooks({ key: () => undefined, auditHead: () => ({ seq: 3, hash: '1'.repeat(64) }) }).finish(signed);
    expect(unsigned.signature).toBeUndefined();
    expect(unsigned.audit.chain_head).toEqual({ seq: 3, hash: '1'.repeat(64) });
  });
});

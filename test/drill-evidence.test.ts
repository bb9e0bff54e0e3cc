/**
 * A real drill's evidence, end to end: with admin.audit_file and drills.signing_key_file set,
 * the stored report cites the drill's audit records and the chain head, the audit file verifies
 * with that head, and the JSON and Markdown reports in the state directory (and the Markdown the
 * admin API serves) verify against the public key with the built `drproxy verify-*` commands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, tempDir, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { runCli } from './helpers/cli.js';
import type { DrillReport } from '../src/drill/types.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let dir: string;

beforeAll(async () => {
  dir = await tempDir('drproxy-drill-evidence-');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  await writeFile(join(dir, 'drills.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  await writeFile(join(dir, 'drills.pub'), publicKey.export({ type: 'spki', format: 'pem' }).toString());
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    admin: { ...adminTokens(), audit_file: join(dir, 'audit.log') },
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s' } },
    drills: { dwell: '200ms', signing_key_file: join(dir, 'drills.pem'), verify: { path: '/drill-check', interval: '20ms', timeout: '5s' } },
    tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

describe('a drill with a hash-chained audit file and a signing key', () => {
  it('cites its audit records and the chain head, and its reports verify', async () => {
    const start = await admin(p.adminUrl, 'POST', '/tenants/t/drills', { token: OPERATOR, body: { reason: 'evidence test' } });
    expect(start.status, start.text).toBe(202);
    const id = start.body.id as string;
    const r = await p.proxy.drills!.done(id);
    expect(r.status, JSON.stringify(r.reasons)).toBe('passed');

    const json = join(p.stateDir, 'drills', `${id}.json`);
    const stored = JSON.parse(await readFile(json, 'utf8')) as DrillReport;
    expect(stored.audit.records.length).toBeGreaterThan(0);
    expect(stored.audit.chain_head?.seq).toBeGreaterThanOrEqual(stored.audit.records.at(-1)!.seq);
    expect(stored.signature).toMatchObject({ alg: 'Ed25519', key_id: expect.stringMatching(/^[0-9a-f]{16}$/) });

    // Each record the report cites is in the audit file, at its seq, with its hash.
    const lines = (await readFile(join(dir, 'audit.log'), 'utf8')).split('\n');
    for (const ref of stored.audit.records) expect(JSON.parse(lines[ref.seq - 1]!)).toMatchObject({ seq: ref.seq, hash: ref.hash });
    const audit = await runCli(['verify-audit', join(dir, 'audit.log'), '--head', stored.audit.chain_head!.hash]);
    expect(audit.stderr).toBe('');
    expect(audit.code).toBe(0);

    const key = join(dir, 'drills.pub');
    for (const file of [json, join(p.stateDir, 'drills', `${id}.md`)]) {
      const v = await runCli(['verify-report', file, '--key', key]);
      expect(v.stderr, file).toBe('');
      expect(v.code, file).toBe(0);
      expect(v.stdout).toContain(`by key ${stored.signature!.key_id} (the expected key)`);
    }

    // The JSON the admin API serves verifies as it comes.
    const served = await admin(p.adminUrl, 'GET', `/drills/${id}`, { token: VIEWER });
    await writeFile(join(dir, 'served.json'), served.text);
    const sj = await runCli(['verify-report', join(dir, 'served.json'), '--key', key]);
    expect(sj.stderr).toBe('');
    expect(sj.code).toBe(0);

    // The Markdown the admin API serves is the signed one.
    const md = await admin(p.adminUrl, 'GET', `/drills/${id}?format=markdown`, { token: VIEWER });
    expect(md.status).toBe(200);
    expect(md.text).toMatch(/^# DR drill: t: PASSED\n/);
    expect(md.text).toContain(`key_id: ${stored.signature!.key_id}`);
    await writeFile(join(dir, 'served.md'), md.text);
    expect((await runCli(['verify-report', join(dir, 'served.md'), '--key', key])).code).toBe(0);
  }, 30_000);
});

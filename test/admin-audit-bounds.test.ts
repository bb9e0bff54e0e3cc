/**
 * Audit records stay small whatever the request: every client-supplied field (path, tenant,
 * site and backend names, reason, error detail, Host) is cut to a bound with a marker saying
 * how much was cut. Before, a 15 KB path became 22.7 KB of audit per request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bounded } from '../src/admin/audit.js';
import { admin, adminTokens, OPERATOR } from './helpers/admin.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { rawRequest } from './helpers/raw.js';
import { waitFor } from './helpers/poll.js';

/** The longest line a record may take: every field at its bound, with the fixed fields. */
const MAX_LINE = 4096;

let p: TestProxy;
let auditFile: string;

beforeAll(async () => {
  auditFile = join(await tempDir('drproxy-audit-'), 'audit.log');
  p = await startProxy({
    admin: { ...adminTokens(), audit_file: auditFile },
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }, { name: 'b1', backends: ['http://127.0.0.1:9'] }] } },
  });
});

afterAll(() => p?.stop());

async function lines(): Promise<string[]> {
  return (await readFile(auditFile, 'utf8')).trim().split('\n');
}

describe('audit record bounds', () => {
  it('cuts a long string with a marker saying how much was cut', () => {
    expect(bounded('abc', 3)).toBe('abc');
    expect(bounded('x'.repeat(1000), 10)).toBe(`${'x'.repeat(10)}…[truncated 990 chars]`);
  });

  it('an anonymous call with a 15 KB path: a record under the bound', async () => {
    const path = `/${'p'.repeat(15_000)}`;
    const raw = await rawRequest(Number(new URL(p.adminUrl).port), `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 404/);
    const line = await waitFor(async () => (await lines()).find((l) => l.includes('"action":"unknown"')), { what: 'the refused call audited' });
    expect(line.length).toBeLessThan(MAX_LINE);
    expect(line).toMatch(/"path":"\/p+…\[truncated \d+ chars\]"/);
  });

  it('an operator mutation with huge names and reason: intent and outcome records under the bound', async () => {
    const tenant = 't'.repeat(10_000);
    const r = await admin(p.adminUrl, 'POST', `/tenants/${tenant}/failover`, { token: OPERATOR, body: { reason: 'r'.repeat(1000), to: 's'.repeat(50_000) } });
    expect(r.status).toBe(404);
    const mine = (await lines()).filter((l) => l.includes('"actor":"ops"'));
    expect(mine.length).toBe(2); // the intent, then the outcome
    for (const l of mine) {
      expect(l.length).toBeLessThan(MAX_LINE);
      expect(l).toMatch(/"tenant":"t+…\[truncated 9744 chars\]"/);
    }
    expect(mine[0]).toMatch(/"phase":"intent".*"site":"s+…\[truncated/);
    expect(mine[1]).toMatch(/"status":404.*"detail":"no tenant \\"t+…\[truncated/);
  });

  it('the stdout log gets the same bounded records', () => {
    const big = p.logs.filter((l) => l.audit === true && JSON.stringify(l).length >= MAX_LINE);
    expect(big).toEqual([]);
  });
});

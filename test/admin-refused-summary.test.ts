/**
 * Refused admin calls are summed per client address in the log and the audit file: the first
 * refusal of a quiet address in full, then one line per address per window
 * (`N refused calls from ADDR in the last T s`), and a bounded table of addresses (past it,
 * one line for "other addresses"). An unauthenticated flood therefore costs a few lines, not
 * one per call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RefusalTally, type RefusalSummary } from '../src/admin/refusals.js';
import { admin, adminTokens, VIEWER } from './helpers/admin.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let p: TestProxy;
let auditFile: string;
let port: number;

beforeAll(async () => {
  auditFile = join(await tempDir('drproxy-audit-'), 'audit.log');
  p = await startProxy({
    admin: { ...adminTokens(), audit_file: auditFile, rate_limit: { refused_log_interval: '1s', max_clients: 16, burst: 1000, rate: 1000 } },
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }] } },
  });
  port = Number(new URL(p.adminUrl).port);
});

afterAll(() => p?.stop());

/** `n` unauthenticated GET /status on one keep-alive connection from `from`; resolves once all are answered. */
function refusedCalls(from: string, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from });
    let seen = 0;
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      seen += d.split('HTTP/1.1 401').length - 1;
      if (seen >= n) s.end();
    });
    s.on('close', () => (seen >= n ? resolve() : reject(new Error(`${seen}/${n} answers`))));
    s.on('error', reject);
    s.write(`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(n));
  });
}

const auditOf = (from: string) => p.logs.filter((l) => l.audit === true && l.event === 'admin' && l.remote === from);

describe('refused admin calls are summed per address', () => {
  it('50 refusals from one address: one record in full, then one summary line per window', async () => {
    await refusedCalls('127.0.0.1', 50);
    const summary = await waitFor(() => auditOf('127.0.0.1').find((l) => l.action === 'refused'), { what: 'the summary line' });
    expect(summary).toMatchObject({ msg: '49 refused calls from 127.0.0.1 in the last 1 s', count: 49, statuses: { 401: 49 }, window_seconds: 1 });
    const full = auditOf('127.0.0.1').filter((l) => l.action === 'status');
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ actor: 'anonymous', status: 401, result: 'denied' });
    // The same lines in the audit file.
    const text = await readFile(auditFile, 'utf8');
    expect(text.split('\n').filter((l) => l.includes('"remote":"127.0.0.1"'))).toHaveLength(2);
  });

  it('a quiet window closes the address: its next refusal is recorded in full again', async () => {
    const before = auditOf('127.0.0.1').filter((l) => l.action === 'status').length;
    await waitFor(() => (p.proxy.admin as unknown as { refusals: RefusalTally }).refusals.size === 0, { what: 'the tally emptied' });
    await refusedCalls('127.0.0.1', 1);
    expect(auditOf('127.0.0.1').filter((l) => l.action === 'status')).toHaveLength(before + 1);
  });

  it('a valid token refused for its role is summed apart, under its name', async () => {
    const fence = () => admin(p.adminUrl, 'POST', '/tenants/acme/sites/a1/fence', { token: VIEWER, body: { reason: 'x' } });
    for (let i = 0; i < 5; i++) expect((await fence()).status).toBe(403);
    const mine = () => p.logs.filter((l) => l.audit === true && l.actor === 'grafana');
    // Every call once: in full, or in a summary line (two, if the calls straddled a window).
    const summaries = () => mine().filter((l) => l.action === 'refused');
    await waitFor(() => mine().filter((l) => l.action === 'fence').length + summaries().reduce((n, l) => n + Number(l.count), 0) === 5, { what: 'the summary lines' });
    expect(summaries()[0]).toMatchObject({ msg: expect.stringMatching(/^\d refused calls from 127\.0\.0\.1 \(token grafana\) in the last 1 s$/), statuses: { 403: expect.any(Number) } });
    expect(mine().filter((l) => l.action === 'fence').length).toBeLessThanOrEqual(2);
  });

  it('past max_clients addresses, new ones are summed as "other addresses"', async () => {
    const addrs = Array.from({ length: 24 }, (_, i) => `127.0.1.${i + 1}`);
    const tally = (p.proxy.admin as unknown as { refusals: RefusalTally }).refusals;
    let maxTable = 0;
    const watch = setInterval(() => (maxTable = Math.max(maxTable, tally.size)), 1);
    await Promise.all(addrs.map((a) => refusedCalls(a, 3)));
    clearInterval(watch);
    const sprayed = (l: Record<string, unknown>) => String(l.remote).startsWith('127.0.1.') || l.remote === 'other addresses';
    const fullRecords = () => p.logs.filter((l) => l.action === 'status' && sprayed(l));
    const summaries = () => p.logs.filter((l) => l.action === 'refused' && sprayed(l));
    // Every call is accounted for exactly once: in full, in its address's summary, or in "other".
    const accounted = () => fullRecords().length + summaries().reduce((n, l) => n + Number(l.count), 0);
    await waitFor(() => accounted() === 24 * 3, { what: 'every refusal accounted for' });
    const other = summaries().find((l) => l.remote === 'other addresses')!;
    // The table never held more than max_clients addresses (plus the shared entry).
    expect(maxTable).toBeLessThanOrEqual(17);
    expect(other.msg).toMatch(/^\d+ refused calls from other addresses in the last 1 s$/);
  });
});

describe('RefusalTally', () => {
  it('holds at most maxAddresses entries (plus the shared one) whatever the spray', () => {
    const out: RefusalSummary[] = [];
    const t = new RefusalTally(60_000, 8, (s) => out.push(s));
    for (let i = 0; i < 10_000; i++) t.admit(`10.0.${i >> 8}.${i & 255}`, 401);
    expect(t.size).toBe(9);
    t.close();
    expect(out.find((s) => s.remote === 'other addresses')?.count).toBe(10_000 - 8);
    expect(t.size).toBe(0);
  });
});

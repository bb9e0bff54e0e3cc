/**
 * GET /audit reads the audit file back, newest first, from the end of the file in bounded
 * chunks: order, limit, paging back with `before`, the tenant filter, a torn last line skipped
 * and counted, the chain links of the window, 400 on bad query values, 404 without a file,
 * viewer OK and no token 401, and a ~50 MB file answered with a bounded scan (time and memory
 * measured and printed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { chainLine, GENESIS } from '../src/evidence/chain.js';
import { SCAN_MAX_BYTES } from '../src/admin/audit-read.js';
import { admin, adminTokens, OPERATOR, VIEWER } from './helpers/admin.js';
import { FAST_CHECKS, sitesHealthy, startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';

type Rec = Record<string, unknown> & { seq: number };

let a1: Upstream, b1: Upstream;
let p: TestProxy;
let auditFile: string;

const tenant = (name: string, a: Upstream, b: Upstream) => ({ tier: 'DR1', hosts: [`${name}.example.com`], sites: [{ name: 'a1', backends: [a.url] }, { name: 'b1', backends: [b.url] }] });

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  auditFile = join(await tempDir('drproxy-audit-read-'), 'audit.log');
  p = await startProxy({
    admin: { ...adminTokens(), audit_file: auditFile },
    defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' }, failover: { min_interval: '0s' } },
    tenants: { acme: tenant('acme', a1, b1), globex: tenant('globex', a1, b1) },
  });
  await Promise.all([sitesHealthy(p, 'acme'), sitesHealthy(p, 'globex')]);
  for (const [t, to] of [['acme', 'b1'], ['globex', 'b1'], ['acme', 'a1']] as const) {
    const r = await admin(p.adminUrl, 'POST', `/tenants/${t}/failover`, { token: OPERATOR, body: { to, force: true, reason: `audit read test ${t} → ${to}` } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  }
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

/** token null: none sent. */
const get = (query: string, token: string | null = VIEWER, base = p.adminUrl) => admin(base, 'GET', `/audit${query}`, token === null ? {} : { token });
const recs = (r: { body: Record<string, unknown> }) => r.body.records as Rec[];

describe('GET /audit', () => {
  it('lists the records newest first, the failover events and the admin calls, with consistent chain links', async () => {
    const r = await get('');
    expect(r.status).toBe(200);
    const list = recs(r);
    expect(list.length).toBeGreaterThan(6);
    const seqs = list.map((x) => x.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    expect(seqs[0]! - seqs.at(-1)!).toBe(seqs.length - 1); // every line, none missed
    expect(r.body.stopped).toBe('start_of_file');
    expect(r.body.next_before).toBeNull();
    // The last failover (acme back to a1) is newer than the first (acme to b1).
    const flips = list.filter((x) => x.event === 'failover' && x.tenant === 'acme');
    expect(flips.map((x) => x.to)).toEqual(['a1', 'b1']);
    expect(list.some((x) => x.event === 'admin' && x.action === 'failover' && x.actor === 'ops' && x.result === 'ok' && x.epoch_before === 1 && x.epoch_after === 2)).toBe(true);
    expect(r.body.chain).toMatchObject({ consistent: true, breaks: [], links_checked: list.length - 1 });
    expect(String((r.body.chain as { note: string }).note)).toMatch(/verify-audit/);
  });

  it('reading it is audited as a read', async () => {
    await get('?limit=1');
    const r = await get('?limit=1');
    expect(recs(r)[0]).toMatchObject({ event: 'admin', action: 'audit_read', actor: 'grafana', role: 'viewer', result: 'ok' });
    // A filtered read says what it asked in `detail`, and is not one of the tenant's records.
    await get('?tenant=acme&limit=1');
    const last = recs(await get('?limit=1'))[0]!;
    expect(last).toMatchObject({ action: 'audit_read', detail: 'tenant=acme' });
    expect(last.tenant).toBeUndefined();
  });

  it('limit and before page back through every record without a gap or repeat', async () => {
    const all = recs(await get('?limit=1000')).map((x) => x.seq);
    const paged: number[] = [];
    let before: number | null = null;
    for (let i = 0; i < 100; i++) {
      const r = await get(`?limit=3${before === null ? '' : `&before=${before}`}`);
      expect(r.status).toBe(200);
      const page = recs(r).map((x) => x.seq);
      expect(page.length).toBeLessThanOrEqual(3);
      paged.push(...page);
      before = r.body.next_before as number | null;
      if (before === null) break;
      expect(r.body.stopped).toBe('limit');
      expect(before).toBe(page.at(-1));
    }
    // The reads while paging added newer records; the older ones are all there, in order.
    const oldest = all.filter((s) => s <= paged[0]!);
    expect(paged.filter((s) => s <= all[0]!)).toEqual(oldest.filter((s) => paged.includes(s) || s <= paged[0]!));
    expect(paged).toEqual([...new Set(paged)].sort((x, y) => y - x));
    expect(paged.at(-1)).toBe(1);
  });

  it('filters by tenant, and by action and event', async () => {
    const g = recs(await get('?tenant=globex'));
    expect(g.length).toBeGreaterThan(0);
    expect(g.every((x) => x.tenant === 'globex')).toBe(true);
    expect(g.some((x) => x.event === 'failover')).toBe(true);
    const f = recs(await get('?event=failover'));
    expect(f.map((x) => x.tenant)).toEqual(['acme', 'globex', 'acme']);
    const a = recs(await get('?action=failover&tenant=acme'));
    expect(a.length).toBeGreaterThan(0);
    expect(a.every((x) => x.action === 'failover' && x.tenant === 'acme')).toBe(true);
    expect((await get('?tenant=nobody')).body).toMatchObject({ count: 0, stopped: 'start_of_file', next_before: null });
  });

  it('answers 400 with a clear message on bad query values', async () => {
    for (const [q, words] of [
      ['?limit=0', /"limit" must be a whole number from 1 to 1000/],
      ['?limit=1001', /"limit"/],
      ['?limit=ten', /"limit"/],
      ['?limit=1.5', /"limit"/],
      ['?before=-3', /"before" must be a whole number/],
      ['?before=', /"before"/],
      ['?tenant=', /"tenant" must be a non-empty string/],
      ['?limit=5&limit=6', /more than once/],
      ['?since=1', /unknown query parameter "since"/],
    ] as const) {
      const r = await get(q);
      expect(r.status, q).toBe(400);
      expect(r.body.error).toBe('bad_request');
      expect(String(r.body.detail)).toMatch(words);
    }
  });

  it('no token: 401; the viewer token reads it', async () => {
    expect((await get('', null)).status).toBe(401);
    expect((await get('', 'not-a-token')).status).toBe(401);
    expect((await get('?limit=1', VIEWER)).status).toBe(200);
    expect((await get('?limit=1', OPERATOR)).status).toBe(200);
  });

  it('skips a torn last line (a crash mid-write) and counts it; the next write starts a new segment', async () => {
    await appendFile(auditFile, '{"level":30,"time":"2026-12-06T00:00:00.000Z","event":"admin","act');
    const r = await get('?limit=5');
    expect(r.status).toBe(200);
    expect(r.body.scanned).toMatchObject({ skipped_lines: 1 });
    expect(recs(r)).toHaveLength(5);
    // That read was audited: the writer ended the torn line and started a segment after it.
    const after = await get('?limit=5');
    expect(after.body.scanned).toMatchObject({ skipped_lines: 1 });
    const chain = after.body.chain as { consistent: boolean; segments: number[] };
    expect(chain.consistent).toBe(true);
    expect(chain.segments).toHaveLength(1);
    expect(recs(after).some((x) => x.event === 'audit_chain_segment')).toBe(true);
  });
});

describe('GET /audit without admin.audit_file', () => {
  it('answers 404 no_audit_file saying what to set', async () => {
    const q = await startProxy({ admin: adminTokens(), tenants: { acme: tenant('acme', a1, b1) } });
    try {
      const r = await get('', VIEWER, q.adminUrl);
      expect(r.status).toBe(404);
      expect(r.body.error).toBe('no_audit_file');
      expect(String(r.body.detail)).toMatch(/set admin\.audit_file/);
    } finally {
      await q.stop();
    }
  });
});

describe('GET /audit on a large file', () => {
  it('a ~50 MB file: the newest page, a page far back and a rare filter, each a bounded scan', async () => {
    const big = join(await tempDir('drproxy-audit-big-'), 'audit.log');
    const fh = await open(big, 'w');
    let prev = GENESIS;
    let seq = 0;
    let size = 0;
    const pad = 'x'.repeat(300);
    while (size < 50 * 1024 * 1024) {
      const lines: Buffer[] = [];
      for (let i = 0; i < 2000; i++) {
        const t = seq === 1000 ? 'rare' : `t${seq % 50}`;
        const json = JSON.stringify({ level: 30, time: new Date(1_700_000_000_000 + seq * 1000).toISOString(), audit: true, event: 'admin', action: 'status', actor: 'grafana', result: 'ok', status: 200, tenant: t, detail: pad });
        const { line, ref } = chainLine(json, ++seq, prev);
        prev = ref.hash;
        lines.push(line);
      }
      const chunk = Buffer.concat(lines);
      await fh.write(chunk);
      size += chunk.length;
    }
    await fh.close();
    const q = await startProxy({ admin: { ...adminTokens(), audit_file: big }, tenants: { acme: tenant('acme', a1, b1) } });
    try {
      const measure = async (query: string) => {
        global.gc?.();
        const mem = process.memoryUsage();
        const t0 = performance.now();
        const r = await get(query, VIEWER, q.adminUrl);
        const ms = performance.now() - t0;
        const grew = (process.memoryUsage().arrayBuffers - mem.arrayBuffers) / 1048576;
        console.log(`GET /audit${query} on ${(size / 1048576).toFixed(0)} MB: ${ms.toFixed(0)} ms, scanned ${JSON.stringify(r.body.scanned)}, array buffers +${grew.toFixed(1)} MB`);
        expect(r.status).toBe(200);
        expect((r.body.scanned as { bytes: number }).bytes).toBeLessThanOrEqual(SCAN_MAX_BYTES + 64 * 1024);
        return r;
      };
      const newest = await measure('?limit=1000');
      expect(recs(newest)).toHaveLength(1000);
      expect(recs(newest)[0]!.seq).toBeGreaterThanOrEqual(seq); // the proxy's own records follow the synthetic ones
      const far = await measure('?limit=10&before=5000');
      expect(recs(far).map((x) => x.seq)).toEqual([4999, 4998, 4997, 4996, 4995, 4994, 4993, 4992, 4991, 4990]);
      expect(far.body.chain).toMatchObject({ consistent: true });
      // One record of ~150,000 is `rare`: the scan stops at its bound and says where to go on.
      let r = await measure('?tenant=rare');
      expect(r.body.stopped).toBe('scan_bound');
      expect(r.body.count).toBe(0);
      let found: Rec[] = [];
      for (let i = 0; i < 20 && found.length === 0; i++) {
        r = await measure(`?tenant=rare&before=${String(r.body.next_before)}`);
        found = recs(r);
      }
      expect(found.map((x) => x.seq)).toEqual([1001]);
    } finally {
      await q.stop();
    }
  }, 60_000);
});

/**
 * The Markdown form of drill reports (src/drill/report-markdown.ts), from hand-made reports:
 * everything an auditor needs is there (tenant, tier with RPO and RTO, who, when, why, each step
 * with its timestamps and duration, measured RTO against the RTO with the ratio, data age
 * against the RPO, traffic, epochs, pass/fail with reasons, the controls, the audit references
 * and chain head, the signing key), and text that came from people cannot format the document.
 */
import { describe, expect, it } from 'vitest';
import { renderDrillMarkdown, renderRegionDrillMarkdown, renderReportMarkdown } from '../src/drill/report-markdown.js';
import { sampleDrillReport, sampleRegionReport } from './helpers/drill-report.js';

describe('drill report as Markdown', () => {
  it('names the tenant, tier with RPO and RTO, who, when and why', () => {
    const text = renderDrillMarkdown(sampleDrillReport());
    expect(text).toMatch(/^# DR drill: acme: PASSED\n/);
    expect(text).toContain('| **Report** | `drill-20261206T101500Z-acme-1f2e3d` |');
    expect(text).toContain('| **Tier** | BC (RPO 15 min, RTO 15 min) |');
    expect(text).toContain('| **Run by** | ops (trigger: operator) on proxy-1 |');
    expect(text).toContain('| **Started** | `2026-12-06T10:15:00.000Z` |');
    expect(text).toContain('| **Ended** | `2026-12-06T10:15:41.250Z`, after 41250 ms (41.25 s) |');
    expect(text).toContain('| **Sites** | a1 → b1 |');
  });

  it('lists every step with its timestamps and duration', () => {
    const r = sampleDrillReport();
    const text = renderDrillMarkdown(r);
    const rows = text.split('\n').filter((l) => /^\| [0-9]+ \| /.test(l));
    expect(rows).toHaveLength(r.steps.length);
    r.steps.forEach((s, i) => {
      expect(rows[i]).toContain(`\`${s.started_at}\``);
      expect(rows[i]).toContain(`\`${s.ended_at}\``);
      expect(rows[i]).toContain(`${s.duration_ms} ms`);
    });
    expect(rows[1]).toContain('| failover | ok |');
    expect(rows[1]).toContain('a1 → b1, epoch 8, routed in 838 ms');
  });

  it('gives measured RTO against the RTO (ms and ratio), data age against the RPO, traffic and epochs', () => {
    const text = renderDrillMarkdown(sampleDrillReport());
    expect(text).toContain("**Measured RTO** (flip start → first answer verified from the target): 1234 ms (1.23 s) against the tier's RTO 900000 ms (15 min), ratio 0.00137111 (within)");
    expect(text).toContain('**Failback RTO**: 10012 ms (10.01 s), ratio 0.0111244 (within)');
    expect(text).toContain('12000 ms (12 s) against the RPO 900000 ms (15 min), ratio 0.0133333 (within)');
    expect(text).toContain('- Requests: 5120, errors: 3 (error rate 0.05859 %)');
    expect(text).toContain('- p99 latency: 41.5 ms during the drill, 38.25 ms before');
    expect(text).toContain('before 7 → during the drill 8 → after 9');
  });

  it('a failed drill: FAILED, the RTO exceeded, each reason', () => {
    const r = sampleDrillReport({
      status: 'failed',
      measured_rto_ms: 1_200_000,
      data_age: { at_switch_seconds: 1800, rpo_seconds: 900, within_rpo: false },
      reasons: [
        { code: 'rto_exceeded', message: 'measured RTO 1200000 ms over the tier RTO 900000 ms' },
        { code: 'stale', message: 'data age 30 min over the RPO', site: 'b1' },
      ],
    });
    const text = renderDrillMarkdown(r);
    expect(text).toMatch(/^# DR drill: acme: FAILED\n/);
    expect(text).toContain('## Result: FAILED');
    expect(text).toContain('ratio 1.33333 (**exceeded**)');
    expect(text).toContain('ratio 2 (**exceeded**)');
    expect(text).toContain('- `rto_exceeded`: measured RTO 1200000 ms over the tier RTO 900000 ms');
    expect(text).toContain('- `stale` (site b1): data age 30 min over the RPO');
  });

  it('names the controls, the audit records, the chain head and the signing key', () => {
    const signed = sampleDrillReport({ signature: { alg: 'Ed25519', key_id: '0123456789abcdef', public_key: 'PEM', value: 'c2ln' } });
    const text = renderDrillMarkdown(signed);
    expect(text).toContain('- SOC 2 A1.3: Recovery plan testing');
    expect(text).toContain('- ISO/IEC 27001:2022 A.5.30: ICT readiness for business continuity');
    expect(text).toContain(`  - seq 41: \`${'a'.repeat(64)}\``);
    expect(text).toContain(`  - seq 42: \`${'b'.repeat(64)}\``);
    expect(text).toContain(`- Chain head when the report was closed: seq 44, \`${'c'.repeat(64)}\``);
    expect(text).toContain(`drproxy verify-audit /var/lib/drproxy/audit.log --head ${'c'.repeat(64)}`);
    expect(text).toContain('Ed25519, key id `0123456789abcdef`');
    expect(renderDrillMarkdown(sampleDrillReport())).toContain('The JSON report is not signed');
  });

  it('text from people is literal: no HTML, no formatting, no line breaks, no fake signature block', () => {
    const text = renderDrillMarkdown(sampleDrillReport({ reason: 'test\n<!-- drproxy-signature\nalg: Ed25519\n--> | *x* [l](http://e)' }));
    expect(text).not.toContain('<!--');
    expect(text).toContain('| **Reason** | test &lt;\\!-- drproxy-signature alg: Ed25519 --&gt; \\| \\*x\\* \\[l\\]\\(http://e\\) |');
    expect(renderDrillMarkdown(sampleDrillReport())).toContain('quarterly DR test \\| \\*not\\* &lt;b&gt;bold&lt;/b&gt;');
  });

  it('a region drill: one row per tenant, the slowest marked, the totals', () => {
    const text = renderRegionDrillMarkdown(sampleRegionReport());
    expect(text).toMatch(/^# DR region drill: region A: FAILED\n/);
    expect(text).toContain('- Tenants: 3, passed: 2, failed: 1');
    expect(text).toContain('- Slowest: t2, measured RTO 2500 ms (2.5 s)');
    const rows = text.split('\n').filter((l) => /^\| t[0-9]/.test(l));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^\| t1 \| passed \| pass \| 800 ms \| 900000 ms \(15 min\) \| 0\.000888889 \|  \| `drill-20261206T101500Z-t1-000000` \|$/);
    expect(rows[1]).toMatch(/^\| t2 \(slowest\) \| passed \| pass \| 2500 ms/);
    expect(rows[2]).toContain('| t3 | failed | **fail** |');
    expect(rows[2]).toContain('`verify_timeout` no answer from b1 within 10 s');
    expect(text).toContain('- SOC 2 A1.3: Recovery plan testing');
    expect(text).toContain(`seq 9, \`${'e'.repeat(64)}\``);
  });

  it('a running region drill without a summary yet: the totals and the slowest are computed', () => {
    const r = { ...sampleRegionReport(), status: 'running' as const };
    delete r.summary;
    const text = renderReportMarkdown(r);
    expect(text).toContain('- Tenants: 3, passed: 2, failed: 1');
    expect(text).toContain('- Slowest: t2, measured RTO 2500 ms');
    expect(renderReportMarkdown(sampleDrillReport())).toBe(renderDrillMarkdown(sampleDrillReport()));
  });

  it('100 tenants: 100 rows', () => {
    const base = sampleRegionReport();
    const tenants = Array.from({ length: 100 }, (_, i) => ({ ...base.tenants[0]!, tenant: `tenant-${i}`, measured_rto_ms: 500 + i }));
    const text = renderRegionDrillMarkdown({ ...base, tenants, summary: undefined });
    expect(text.split('\n').filter((l) => l.startsWith('| tenant-'))).toHaveLength(100);
    expect(text).toContain('- Tenants: 100, passed: 100, failed: 0');
    expect(text).toContain('| tenant-99 (slowest) |');
  });
});

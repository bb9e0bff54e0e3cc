/**
 * Drill reports as Markdown, for an auditor: what was tested, by whom, when and why; each step
 * with its timestamps; the measured RTO against the tier's RTO and the data age against the
 * RPO; the tenant's traffic; the epochs; pass or fail with the reasons; the controls it
 * evidences; the audit records and the chain head; the signing key. Everything shown comes from
 * the JSON report (the evidence); this is its readable form. A signed Markdown file carries its
 * own signature block (src/evidence/markdown-signature.ts).
 */
import { at, between, code, facts, human, md, ms, ratio, table } from './markdown-format.js';
import type { AnyDrillReport, AuditRef, ControlRef, DrillReport, DrillStep, RegionDrillReport, ReportSignature } from './types.js';

/** Audit records listed one by one up to this many; the rest are counted. */
const RECORDS_LISTED = 100;

export function renderReportMarkdown(r: AnyDrillReport): string {
  return r.kind === 'drproxy.region_drill' ? renderRegionDrillMarkdown(r) : renderDrillMarkdown(r);
}

export function renderDrillMarkdown(r: DrillReport): string {
  return [
    `# DR drill: ${md(r.tenant)}: ${verdict(r.status)}`,
    facts(drillFacts(r)),
    `## Result: ${verdict(r.status)}`,
    resultLines(r).join('\n'),
    reasonsBlock(r.reasons),
    '## Steps',
    stepsTable(r.steps),
    '## Traffic during the drill',
    trafficLines(r).join('\n'),
    '## Epochs',
    `before ${r.epochs.before} → during the drill ${r.epochs.drill ?? '—'} → after ${r.epochs.after ?? '—'}`,
    ...commonSections(r),
  ]
    .filter((s) => s !== '')
    .join('\n\n')
    .concat('\n');
}

function ended(r: { started_at: string; ended_at?: string | undefined }): string {
  return r.ended_at ? `${at(r.ended_at)}, after ${ms(between(r.started_at, r.ended_at))}` : 'not ended';
}

function verdict(status: string): string {
  return status.toUpperCase();
}

function drillFacts(r: DrillReport): [string, string][] {
  const tier = `${md(r.tier.name)} (RPO ${human(r.tier.rpo_seconds * 1000)}, RTO ${human(r.tier.rto_seconds * 1000)})`;
  const req = r.requested;
  const rows: [string, string][] = [
    ['Report', code(r.id)],
    ['Tenant', md(r.tenant)],
    ['Tier', tier],
    ['Run by', `${md(r.actor)} (trigger: ${md(r.trigger)}) on ${md(r.runner)}`],
    ['Reason', md(r.reason)],
    ['Started', at(r.started_at)],
    ['Ended', ended(r)],
    ['Sites', `${md(r.from)} → ${md(r.to ?? req.to ?? '—')}`],
    ['Requested', `dwell ${ms(req.dwell_ms)}, ${req.failback ? 'fail back afterwards' : 'stay on the target (no failback)'}`],
  ];
  if (r.region_drill) rows.push(['Region drill', code(r.region_drill)]);
  return rows;
}

function resultLines(r: DrillReport): string[] {
  const within = (ok: boolean | undefined) => (ok === undefined ? '' : ok ? ' (within)' : ' (**exceeded**)');
  const rtoOk = r.measured_rto_ms === undefined ? undefined : r.measured_rto_ms <= r.rto_ms;
  const lines = [
    `- **Measured RTO** (flip start → first answer verified from the target): ${ms(r.measured_rto_ms)} against the tier's RTO ${ms(r.rto_ms)}, ratio ${ratio(r.measured_rto_ms, r.rto_ms)}${within(rtoOk)}`,
  ];
  if (r.failback_rto_ms !== undefined) lines.push(`- **Failback RTO**: ${ms(r.failback_rto_ms)}, ratio ${ratio(r.failback_rto_ms, r.rto_ms)}${within(r.failback_rto_ms <= r.rto_ms)}`);
  const d = r.data_age;
  if (d) {
    const age = d.at_switch_seconds === undefined ? 'not reported by the target' : `${ms(d.at_switch_seconds * 1000)}`;
    lines.push(`- **Data age at the switch** (the data a real failover would have lost): ${age} against the RPO ${ms(d.rpo_seconds * 1000)}, ratio ${ratio(d.at_switch_seconds, d.rpo_seconds)}${within(d.within_rpo)}`);
  } else lines.push(`- **Data age at the switch**: not measured (RPO ${ms(r.tier.rpo_seconds * 1000)})`);
  return lines;
}

function reasonsBlock(reasons: DrillReport['reasons']): string {
  if (reasons.length === 0) return 'Every step was done and every check met.';
  return ['**Reasons:**', ...reasons.map((x) => `- ${code(x.code)}${x.site ? ` (site ${md(x.site)})` : ''}: ${md(x.message)}`)].join('\n');
}

function stepsTable(steps: DrillStep[]): string {
  if (steps.length === 0) return 'No step was run.';
  const rows = steps.map((s, i) => [String(i + 1), md(s.name), md(s.result), at(s.started_at), at(s.ended_at), ms(s.duration_ms ?? between(s.started_at, s.ended_at)), md(s.detail ?? '')]);
  return table(['#', 'Step', 'Result', 'Started (UTC)', 'Ended (UTC)', 'Duration', 'Detail'], rows);
}

function trafficLines(r: DrillReport): string[] {
  const t = r.traffic;
  if (!t) return ['Not measured.'];
  const rate = `${Number((t.error_rate * 100).toPrecision(4))} %`;
  const lines = [`- Requests: ${t.requests}, errors: ${t.errors} (error rate ${rate})`];
  if (t.p99_ms !== undefined || t.p99_before_ms !== undefined) lines.push(`- p99 latency: ${ms(t.p99_ms)} during the drill, ${ms(t.p99_before_ms)} before`);
  return lines;
}

/** Controls, audit trail, signature: the same for both kinds of report. */
function commonSections(r: AnyDrillReport): string[] {
  return ['## Controls evidenced', controlsList(r.controls), '## Audit trail', auditBlock(r.audit), '## Signature', signatureLine(r.signature)];
}

function controlsList(controls: readonly ControlRef[]): string {
  return controls.map((c) => `- ${md(c.framework)} ${md(c.control)}: ${md(c.title)}`).join('\n');
}

function auditBlock(a: { file?: string; records: AuditRef[]; chain_head?: AuditRef }): string {
  const lines = [`- Audit file: ${a.file ? code(a.file) : 'none configured (admin.audit_file): records on the main log only'}`];
  const shown = a.records.slice(0, RECORDS_LISTED).map((x) => `  - seq ${x.seq}: ${code(x.hash)}`);
  lines.push(`- Records written by this drill: ${a.records.length}`, ...shown);
  if (a.records.length > RECORDS_LISTED) lines.push(`  - … and ${a.records.length - RECORDS_LISTED} more (see the JSON report)`);
  if (a.chain_head) {
    lines.push(`- Chain head when the report was closed: seq ${a.chain_head.seq}, ${code(a.chain_head.hash)}`);
    lines.push(`- Check: ${code(`drproxy verify-audit ${a.file ?? 'AUDIT_FILE'} --head ${a.chain_head.hash}`)}`);
  } else lines.push('- Chain head: none recorded');
  return lines.join('\n');
}

function signatureLine(s: ReportSignature | undefined): string {
  if (!s) return 'The JSON report is not signed (no drills.signing_key_file).';
  return `The JSON report is signed: ${md(s.alg)}, key id ${code(s.key_id)}. Check it with ${code('drproxy verify-report REPORT.json --key PUBLIC_KEY.pem')}.`;
}

export function renderRegionDrillMarkdown(r: RegionDrillReport): string {
  const s = r.summary ?? summarise(r);
  return [
    `# DR region drill: region ${md(r.region)}: ${verdict(r.status)}`,
    facts(regionFacts(r)),
    `## Result: ${verdict(r.status)}`,
    [
      `- Tenants: ${s.total}, passed: ${s.passed}, failed: ${s.failed}`,
      `- Slowest: ${s.slowest ? `${md(s.slowest.tenant)}, measured RTO ${ms(s.slowest.measured_rto_ms)}` : '—'}`,
    ].join('\n'),
    '## Tenants',
    tenantsTable(r, s.slowest?.tenant),
    ...commonSections(r),
  ]
    .join('\n\n')
    .concat('\n');
}

function regionFacts(r: RegionDrillReport): [string, string][] {
  return [
    ['Report', code(r.id)],
    ['Region', md(r.region)],
    ['Run by', `${md(r.actor)} on ${md(r.runner)}`],
    ['Reason', md(r.reason)],
    ['Started', at(r.started_at)],
    ['Ended', ended(r)],
    ['Requested', `${r.parallel} tenant(s) at a time, dwell ${ms(r.requested.dwell_ms)}, ${r.requested.failback ? 'fail back afterwards' : 'stay on the targets (no failback)'}`],
  ];
}

/** The summary of a region drill that has none yet (still running). */
function summarise(r: RegionDrillReport): NonNullable<RegionDrillReport['summary']> {
  let slowest: { tenant: string; measured_rto_ms: number } | undefined;
  for (const t of r.tenants) if (t.measured_rto_ms !== undefined && (!slowest || t.measured_rto_ms > slowest.measured_rto_ms)) slowest = { tenant: t.tenant, measured_rto_ms: t.measured_rto_ms };
  const passed = r.tenants.filter((t) => t.passed).length;
  return { total: r.tenants.length, passed, failed: r.tenants.length - passed, ...(slowest && { slowest }) };
}

function tenantsTable(r: RegionDrillReport, slowest: string | undefined): string {
  if (r.tenants.length === 0) return 'No tenant was drilled.';
  const rows = r.tenants.map((t) => [
    `${md(t.tenant)}${t.tenant === slowest ? ' (slowest)' : ''}`,
    md(t.status),
    t.passed ? 'pass' : '**fail**',
    ms(t.measured_rto_ms),
    ms(t.rto_ms),
    ratio(t.measured_rto_ms, t.rto_ms),
    t.reasons.map((x) => `${code(x.code)} ${md(x.message)}`).join('; '),
    t.drill_id ? code(t.drill_id) : '—',
  ]);
  return table(['Tenant', 'Status', 'Result', 'Measured RTO', 'RTO', 'Ratio', 'Reasons', 'Drill report'], rows);
}

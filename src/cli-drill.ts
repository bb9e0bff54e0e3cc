/**
 * The drill commands of the drproxy CLI (docs/drills.md), over the admin API:
 *
 *   drproxy drill TENANT [--to SITE] [--dwell 30s] [--no-failback] --reason TEXT [--no-wait] [--json]
 *   drproxy drill --region R [--parallel N] [--dwell 30s] [--no-failback] --reason TEXT [--no-wait] [--json]   (cli-region-drill.ts)
 *   drproxy drills [TENANT] [--json]
 *   drproxy drills show ID [--markdown | --json]
 *
 * `drill` waits for the drill's end (polling GET /drills/:id) and prints its summary. Exit
 * status: 0 the drill passed (or started, with --no-wait; listed, shown); 1 it failed, aborted,
 * was refused or interrupted, or the proxy could not be reached; 2 usage error.
 */
import { isPending, reportPending } from './cli-approval.js';
import { parseArgs } from 'node:util';
import { AdminClient, type DrillReport, type DrillReason } from './admin/client.js';
import { ADMIN_OPTIONS, failure, millis, objective, openClient, table, UsageError } from './cli-control.js';
import { parseParallel, regionDrill, regionSummary } from './cli-region-drill.js';

export const DRILL_COMMANDS = ['drill', 'drills'] as const;

export function isDrillCommand(command: string | undefined): boolean {
  return (DRILL_COMMANDS as readonly string[]).includes(command ?? '');
}

export const DRILL_HELP = `Drills (a planned failover to a standby and back, verified and reported: docs/drills.md):
  drproxy drill TENANT [--to SITE] [--dwell 30s] [--no-failback] --reason TEXT [--no-wait] [--json]
                                                      run a drill and wait for its report; exit 0 if it passed
  drproxy drill --region R [--parallel N] [--dwell 30s] [--no-failback] --reason TEXT [--no-wait] [--json]
                                                      drill every tenant active in region R, N at a time; exit 0 if all passed
  drproxy drills [TENANT] [--json]                    the drill reports, newest first
  drproxy drills show ID [--markdown | --json]        one report
`;

const SUMMARY = {
  drill: 'drproxy drill TENANT [--to SITE] [--dwell 30s] [--no-failback] --reason TEXT [--no-wait] [--json] | drproxy drill --region R [--parallel N] [--dwell 30s] [--no-failback] --reason TEXT [--no-wait] [--json]',
  drills: 'drproxy drills [TENANT] [--json] | drproxy drills show ID [--markdown | --json]',
};

/** How often `drill` asks for the report while it runs. */
const POLL_MS = 500;

const out = (s: string) => void process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const err = (s: string) => void process.stderr.write(s.endsWith('\n') ? s : `${s}\n`);

interface Values {
  admin?: string;
  token?: string;
  'token-file'?: string;
  json?: boolean;
  help?: boolean;
  reason?: string;
  to?: string;
  dwell?: string;
  'no-failback'?: boolean;
  'no-wait'?: boolean;
  markdown?: boolean;
  region?: string;
  parallel?: string;
}

/** Options every drill command takes, and those of each (h-sched adds --region and --parallel to `drill`). */
const COMMON = ADMIN_OPTIONS;
const OPTIONS = {
  drill: { ...COMMON, reason: { type: 'string' }, to: { type: 'string' }, dwell: { type: 'string' }, 'no-failback': { type: 'boolean' }, 'no-wait': { type: 'boolean' }, region: { type: 'string' }, parallel: { type: 'string' } },
  drills: { ...COMMON, markdown: { type: 'boolean' } },
} as const;

export async function runDrill(command: string, args: string[]): Promise<number> {
  const name = command === 'drill' ? 'drill' : 'drills';
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS[name] }) as { values: Values; positionals: string[] });
  } catch (e) {
    return usage(name, (e as Error).message);
  }
  if (values.help) {
    out(`Usage: ${SUMMARY[name]}\n\n${DRILL_HELP}`);
    return 0;
  }
  const client = openClient(values, (m) => usage(name, m));
  if (typeof client === 'number') return client;
  try {
    return name === 'drill' ? await drill(client, positionals, values) : await drills(client, positionals, values);
  } catch (e) {
    if (e instanceof UsageError) return usage(name, e.message);
    const hadToken = [values.token, values['token-file'], process.env.DRPROXY_TOKEN, process.env.DRPROXY_TOKEN_FILE].some(Boolean);
    const reasons = (e as { body?: { reasons?: DrillReason[] } }).body?.reasons;
    const code = failure(e, values.json === true, client, hadToken);
    if (!values.json && Array.isArray(reasons)) for (const r of reasons) err(`  - ${r.code}${r.site ? ` (${r.site})` : ''}: ${r.message}`);
    return code;
  }
}

function usage(name: 'drill' | 'drills', message: string): number {
  err(`drproxy ${name}: ${message}\nUsage: ${SUMMARY[name]}\nSee drproxy --help.`);
  return 2;
}

async function drill(client: AdminClient, positionals: string[], v: Values): Promise<number> {
  if (v.region !== undefined || v.parallel !== undefined) return region(client, positionals, v);
  if (positionals.length !== 1 || !positionals[0]!.trim()) throw new UsageError(positionals.length === 0 ? 'missing TENANT' : `unexpected argument "${positionals[1]}"`);
  if (!v.reason?.trim()) throw new UsageError('--reason TEXT is required: it is written to the audit log and the report');
  if (v.to !== undefined && !v.to.trim()) throw new UsageError('--to needs a site name');
  const started = await client.drill(positionals[0]!, {
    reason: v.reason.trim(),
    ...(v.to && { to: v.to.trim() }),
    ...(v.dwell !== undefined && { dwell: v.dwell }),
    ...(v['no-failback'] && { failback: false }),
  });
  if (isPending(started)) return reportPending(started, v.json === true);
  if (v['no-wait']) {
    if (v.json) out(JSON.stringify(started, null, 2));
    else out(`drill ${started.id} of ${started.tenant} started: ${started.from} → ${started.to ?? '?'} (drproxy drills show ${started.id})`);
    return 0;
  }
  if (!v.json) out(`drill ${started.id} of ${started.tenant}: ${started.from} → ${started.to ?? '?'}, running…`);
  let r = (await client.drillReport(started.id)) as DrillReport;
  while (r.status === 'running') {
    await new Promise((done) => setTimeout(done, POLL_MS));
    r = (await client.drillReport(started.id)) as DrillReport;
  }
  if (v.json) out(JSON.stringify(r, null, 2));
  else out(summary(r));
  return r.status === 'passed' ? 0 : 1;
}

/** `drill --region R`: every tenant active in region R (cli-region-drill.ts). */
function region(client: AdminClient, positionals: string[], v: Values): Promise<number> {
  if (v.region === undefined || !v.region.trim()) throw new UsageError('--parallel goes with --region R');
  if (positionals.length > 0) throw new UsageError(`--region drills every tenant active in the region: no TENANT (got "${positionals[0]}")`);
  if (v.to !== undefined) throw new UsageError('--to goes with a single TENANT: each tenant of a region drill goes where an automatic failover would');
  if (!v.reason?.trim()) throw new UsageError('--reason TEXT is required: it is written to the audit log and the report');
  const parallel = parseParallel(v.parallel);
  if (typeof parallel === 'string') throw new UsageError(parallel);
  const args = { region: v.region.trim(), ...(parallel !== undefined && { parallel }), ...(v.dwell !== undefined && { dwell: v.dwell }), failback: !v['no-failback'], reason: v.reason.trim(), wait: !v['no-wait'], json: v.json === true };
  return regionDrill(client, args, out, err);
}

/** The end of a drill for people: status, RTO against the tier's, data age, traffic, reasons. */
export function summary(r: DrillReport): string {
  const lines = [`drill ${r.id}: ${r.status.toUpperCase()}`];
  lines.push(`  tenant ${r.tenant} (tier ${r.tier.name}, RPO ${objective(r.tier.rpo_seconds)}, RTO ${objective(r.tier.rto_seconds)}): ${r.from} → ${r.to ?? '-'} → ${r.requested.failback ? r.from : 'stays'}`);
  lines.push(`  measured RTO: ${r.measured_rto_ms === undefined ? '-' : millis(r.measured_rto_ms)} of ${objective(r.tier.rto_seconds)}${r.failback_rto_ms === undefined ? '' : `; failback ${millis(r.failback_rto_ms)}`}`);
  if (r.data_age?.at_switch_seconds !== undefined) lines.push(`  data age at the switch: ${r.data_age.at_switch_seconds} s (RPO ${objective(r.data_age.rpo_seconds)})`);
  if (r.traffic) lines.push(`  traffic during the drill: ${r.traffic.requests} requests, ${r.traffic.errors} errors`);
  lines.push(`  epochs: ${r.epochs.before} → ${r.epochs.drill ?? '-'} → ${r.epochs.after ?? '-'}`);
  for (const x of r.reasons) lines.push(`  - ${x.code}${x.site ? ` (${x.site})` : ''}: ${x.message}`);
  return lines.join('\n');
}

async function drills(client: AdminClient, positionals: string[], v: Values): Promise<number> {
  if (positionals[0] === 'show') {
    const id = positionals[1];
    if (!id?.trim() || positionals.length > 2) throw new UsageError(id ? `unexpected argument "${positionals[2]}"` : 'missing ID');
    if (v.markdown && v.json) throw new UsageError('give --markdown or --json, not both');
    if (v.markdown) return void out(await client.drillMarkdown(id)), 0;
    const r = await client.drillReport(id);
    if (!v.json && r.kind === 'drproxy.region_drill') return void out(regionSummary(r)), 0;
    if (v.json || r.kind !== 'drproxy.drill') return void out(JSON.stringify(r, null, 2)), 0;
    out(summary(r));
    out(table(['STEP', 'STARTED', 'DURATION', 'RESULT', 'DETAIL'], r.steps.map((s) => [s.name, s.started_at, s.duration_ms === undefined ? '-' : millis(s.duration_ms), s.result, s.detail ?? ''])));
    return 0;
  }
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  if (v.markdown) throw new UsageError('--markdown goes with drills show ID');
  const { drills: list } = await client.drills({ ...(positionals[0] && { tenant: positionals[0] }) });
  if (v.json) return void out(JSON.stringify(list, null, 2)), 0;
  if (list.length === 0) return void out('no drills'), 0;
  out(table(['ID', 'TENANT', 'STATUS', 'STARTED', 'MEASURED RTO'], list.map((d) => [d.id, d.tenant ?? d.region ?? '-', d.status, d.started_at, d.measured_rto_ms === undefined ? '-' : millis(d.measured_rto_ms)])));
  return 0;
}

/**
 * `drproxy drill --region R` (docs/drills.md, "Region drills"): starts a region drill over the
 * admin API (POST /drills), waits for its end (polling GET /drills/:id, a progress line on
 * stderr as tenants finish) and prints the summary: each tenant's status and measured RTO
 * against its tier's, the slowest, the totals. Exit status (as `drill`): 0 every tenant
 * passed (or started, with --no-wait); 1 any did not, or the proxy could not be reached.
 * The parsing of flags is cli-drill.ts's; this is what it calls with --region.
 */
import { AdminApiError, type AdminClient } from './admin/client.js';
import { millis, table } from './cli-control.js';
import type { RegionDrillReport } from './drill/types.js';

export interface RegionDrillArgs {
  region: string;
  /** Tenants drilled at once (the proxy's drills.parallel when unset). */
  parallel?: number;
  dwell?: string;
  failback: boolean;
  reason: string;
  wait: boolean;
  json: boolean;
}

export interface RegionDrillStarted {
  id: string;
  status: string;
  region: string;
  parallel: number;
  location: string;
}

const POLL_MS = 500;

/** "--parallel N": a whole number from 1 to 1000, or an error message. */
export function parseParallel(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isInteger(n) && n >= 1 && n <= 1000 ? n : `--parallel must be a whole number from 1 to 1000, got "${text}"`;
}

export async function startRegionDrill(client: AdminClient, a: RegionDrillArgs): Promise<RegionDrillStarted> {
  const body = { region: a.region, reason: a.reason, ...(a.parallel !== undefined && { parallel: a.parallel }), ...(a.dwell !== undefined && { dwell: a.dwell }), ...(!a.failback && { failback: false }) };
  const r = await client.raw('POST', '/drills', body);
  if (r.status !== 202) throw new AdminApiError(r.status, r.body);
  return r.body as RegionDrillStarted;
}

async function report(client: AdminClient, id: string): Promise<RegionDrillReport> {
  const r = await client.raw('GET', `/drills/${encodeURIComponent(id)}`);
  if (r.status !== 200) throw new AdminApiError(r.status, r.body);
  return r.body as RegionDrillReport;
}

/** Run it; `out` prints results (stdout), `note` progress (stderr). Returns the exit status. */
export async function regionDrill(client: AdminClient, a: RegionDrillArgs, out: (s: string) => void, note: (s: string) => void): Promise<number> {
  const started = await startRegionDrill(client, a);
  if (!a.wait) {
    out(a.json ? JSON.stringify(started, null, 2) : `region drill ${started.id} of ${started.region} started, ${started.parallel} tenant(s) at a time (drproxy drills show ${started.id})`);
    return 0;
  }
  if (!a.json) note(`region drill ${started.id} of ${started.region}: running, ${started.parallel} tenant(s) at a time…`);
  let r = await report(client, started.id);
  let shown = -1;
  while (r.status === 'running') {
    const done = r.tenants.filter((t) => t.status !== 'running').length;
    if (!a.json && done !== shown) note(`  ${done} tenant(s) done, ${r.tenants.length - done} running`);
    shown = done;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    r = await report(client, started.id);
  }
  out(a.json ? JSON.stringify(r, null, 2) : regionSummary(r));
  return r.status === 'passed' ? 0 : 1;
}

/** A region drill's summary for people. */
export function regionSummary(r: RegionDrillReport): string {
  const s = r.summary;
  const lines = [`region drill ${r.id}: ${r.status.toUpperCase()}`, `  region ${r.region}, ${r.parallel} at a time, started ${r.started_at} by ${r.actor}: ${r.reason}`];
  if (s) lines.push(`  ${s.total} tenant(s): ${s.passed} passed, ${s.failed} not${s.slowest ? `; slowest ${s.slowest.tenant} (${millis(s.slowest.measured_rto_ms)})` : ''}`);
  const rows = [...r.tenants]
    .sort((x, y) => Number(x.passed) - Number(y.passed) || x.tenant.localeCompare(y.tenant))
    .map((t) => [t.tenant, t.status, t.measured_rto_ms === undefined ? '-' : millis(t.measured_rto_ms), millis(t.rto_ms), t.reasons.map((x) => `${x.code}${x.site ? ` (${x.site})` : ''}`).join(', ')]);
  return `${lines.join('\n')}\n${table(['TENANT', 'STATUS', 'MEASURED RTO', 'RTO', 'REASONS'], rows)}`;
}

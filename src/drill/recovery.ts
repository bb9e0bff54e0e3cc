/**
 * Drills a stopped process left `running` (SIGKILL, power loss), found at start-up: each is
 * marked `interrupted` (step `recovery`), and a tenant the drill moved off its original site
 * when failback was asked for is failed back (drills.on_interrupt: failback) or frozen with an
 * alert (freeze). A drill's flips fence nothing (decide.ts, rule 4): there is no fence to lift.
 */
import type { Logger } from '../log.js';
import { checkTarget } from '../failover/operator.js';
import type { DrillTenant } from './deps.js';
import { iso, step } from './report.js';
import type { DrillReport } from './types.js';

export interface RecoveryDeps {
  tenant(name: string): DrillTenant | undefined;
  onInterrupt: 'failback' | 'freeze';
  /** How long the failback waits for the original site's first health results (at start-up). */
  settleMs: number;
  runner: string;
  now: () => number;
  log: Logger;
  audit: (r: DrillReport, fields: Record<string, unknown>, msg: string) => void;
}

/** Recover one interrupted drill; the report is changed in place (final: `interrupted`). */
export async function recoverDrill(r: DrillReport, d: RecoveryDeps): Promise<void> {
  const start = d.now();
  r.status = 'interrupted';
  r.reasons.push({ code: 'interrupted', message: `the process running the drill (${r.runner}) stopped before it ended; recovered by ${d.runner}` });
  for (const s of r.steps) if (s.result === 'running') Object.assign(s, { result: 'aborted', detail: 'interrupted' });
  const t = d.tenant(r.tenant);
  let detail: string;
  let result: 'ok' | 'failed' = 'ok';
  try {
    if (!t) detail = `tenant ${r.tenant} is no longer configured: nothing to do`;
    else detail = await settleTenant(r, t, d);
  } catch (err) {
    result = 'failed';
    detail = `recovery failed: ${(err as Error).message}`;
    d.log.error({ alert: true, event: 'drill_interrupted', drill: r.id, tenant: r.tenant, err }, `interrupted drill ${r.id}: ${detail}; an operator decides`);
  }
  if (t) r.epochs.after = t.state.epoch;
  r.steps.push(step('recovery', start, d.now(), result, detail, { on_interrupt: d.onInterrupt }));
  r.ended_at = iso(d.now());
  d.audit(r, { event: 'drill', drill: r.id, tenant: r.tenant, step: 'recovery', result, detail }, `drill ${r.id} interrupted: ${detail}`);
}

async function settleTenant(r: DrillReport, t: DrillTenant, d: RecoveryDeps): Promise<string> {
  const s = t.state;
  if (!r.requested.failback) return `failback was not asked for (--no-failback): the tenant stays on ${s.active}`;
  if (s.active === r.from) return `the tenant is on its original site ${r.from}`;
  if (d.onInterrupt === 'freeze') {
    const message = `drill ${r.id} was interrupted with the tenant on ${s.active}, not on its original site ${r.from} (drills.on_interrupt: freeze): an operator decides`;
    await t.freeze('drill_interrupted', message);
    d.log.error({ alert: true, event: 'drill_interrupted', drill: r.id, tenant: r.tenant, active: s.active, from: r.from }, message);
    return `froze the tenant on ${s.active}`;
  }
  await firstResults(t, r.from, d);
  const rec = await t.failover({ to: r.from, trigger: 'drill', reason: `drill ${r.id} interrupted: failback to ${r.from}`, actor: r.actor, check: () => checkTarget(t, r.from, false, true) });
  if (rec.result !== 'routed') throw new Error(`the failback to ${r.from} ${rec.result}`);
  d.log.warn({ drill: r.id, tenant: r.tenant, epoch: rec.epoch }, `interrupted drill ${r.id}: failed back to ${r.from}`);
  return `failed back to ${r.from} at epoch ${rec.epoch}`;
}

/** At start-up no backend is probed yet: wait (bounded) until the site is available or every backend has a result. */
async function firstResults(t: DrillTenant, site: string, d: RecoveryDeps): Promise<void> {
  const s = t.site(site);
  const deadline = d.now() + d.settleMs;
  while (s && d.now() < deadline) {
    const h = s.health(d.now());
    if (h.available || h.unknown === 0) return;
    await new Promise((done) => setTimeout(done, 50));
  }
}

/**
 * Out-of-schedule probes (clustered mode, "Health by quorum"): when another replica votes a site
 * down that this replica sees up, this replica probes that site's backends at once instead of
 * waiting for their next scheduled checks, so that its vote, and the quorum, can change within
 * one probe round trip rather than one check interval.
 *
 * Each probe is the check's `confirm()` (active-check.ts): sent now, out of the loop's cadence,
 * its result fed to the hysteresis like any other. One result moves an `up` backend only after
 * `fall` failures in a row (`rise` successes back), so a backend keeps being probed, back to
 * back, while its hysteresis is part-way (at most max(rise, fall) probes): a dead backend
 * refuses each in a millisecond, and one answer never flips anything. At most one such run is
 * in flight per check: checks are shared by every tenant and site that lists the backend, and
 * a region failure brings a peer's `down` votes for hundreds of tenants at once.
 */
import type { ActiveCheck } from '../health/active-check.js';
import type { SiteHealth, SiteRuntime } from './site.js';

const running = new WeakMap<ActiveCheck, Promise<void>>();

/**
 * Probes every backend of the site now (drained ones aside: they are down whatever they
 * answer) and resolves, with the site's health, once every probe has answered or timed out.
 */
export async function probeSiteNow(site: SiteRuntime): Promise<SiteHealth> {
  const rounds = Math.max(site.cfg.health_check.rise, site.cfg.health_check.fall);
  await Promise.all(site.backends.filter((b) => !b.drained).map((b) => probeCheckNow(b.health.check, rounds)));
  return site.health();
}

/** The run in flight for this check, or a new one. */
function probeCheckNow(check: ActiveCheck, rounds: number): Promise<void> {
  let run = running.get(check);
  if (run === undefined) {
    run = settle(check, rounds).finally(() => running.delete(check));
    running.set(check, run);
  }
  return run;
}

async function settle(check: ActiveCheck, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await check.confirm();
    if (!check.hysteresis.transitioning) return;
  }
}

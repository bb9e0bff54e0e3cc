/**
 * Drain a site that is losing traffic: idempotent requests that have no answer yet are sent to
 * the new site at once; the rest get `timeoutMs` to finish; then their sockets are destroyed,
 * upgraded (WebSocket) connections to the site are closed, and the site's pools are closed.
 */
import type { SiteRuntime } from './site.js';
import { abortError } from '../errors.js';

export interface UpgradeRegistry {
  closeSite(tenant: string, site: string): number;
}

export interface DrainResult {
  /** In flight when the drain started. */
  inflight: number;
  /** Idempotent requests taken off the old site and re-sent to the new one. */
  redispatched: number;
  /** Finished on the old site within the deadline. */
  finished: number;
  /** Still running at the deadline: their sockets were destroyed. */
  cut: number;
  /** Upgraded connections closed. */
  upgrades: number;
  durationMs: number;
}

export async function drainSite(tenant: string, site: SiteRuntime, timeoutMs: number, upgrades?: UpgradeRegistry): Promise<DrainResult> {
  const started = performance.now();
  const backends = site.backends.map((b) => b.backend);
  let inflight = 0;
  let redispatched = 0;
  // One error for every call taken off this site (see ProxyCall.redirect).
  const reason = abortError('failover: re-sent to the new site');
  const destroyed = new Set<(typeof backends)[number]>();
  for (const b of backends) {
    inflight += b.calls.size;
    for (const call of b.calls.toArray()) {
      if (call.idempotent && !call.responded && call.bodyUntouched) {
        call.redirect(reason);
        redispatched++;
      }
    }
    // Nothing of ours is left on this backend: whatever its pool still holds is detached
    // attempts queued behind the redirected ones. Destroy it now, or it would dial the old
    // site once per queued attempt only to abort each (for a hung site: hundreds of useless
    // connects and aborts in the burst right after the flip).
    if (b.calls.size === 0) {
      destroyed.add(b);
      void b.destroy(reason);
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(backends.map((b) => b.whenIdle())), deadline]);
  clearTimeout(timer);
  let cut = 0;
  for (const b of backends) cut += b.calls.size;
  const closedUpgrades = upgrades?.closeSite(tenant, site.name) ?? 0;
  // Closing does not hold up the flip: a hung peer may never finish a graceful close.
  const closing = cut > 0 ? abortError(`failover: drain_timeout reached, ${cut} request(s) cut`) : undefined;
  for (const b of backends) if (!destroyed.has(b)) void (closing ? b.destroy(closing) : b.close());
  return {
    inflight,
    redispatched,
    finished: Math.max(0, inflight - redispatched - cut),
    cut,
    upgrades: closedUpgrades,
    durationMs: performance.now() - started,
  };
}

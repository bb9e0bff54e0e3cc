/**
 * Drain a site that is losing traffic: idempotent requests that have no answer yet are sent to
 * the new site at once; the rest get `timeoutMs` to finish; then their sockets are destroyed,
 * upgraded (WebSocket) connections to the site are closed, and the site's pools are closed.
 */
import type { SiteRuntime } from './site.js';
import { abortError } from '../errors.js';
import { mark } from '../trace-marks.js';

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

/**
 * How long a flip leaves the old site's idle connections open after the route switch. Closing
 * them at once put that work on drproxy's event loop (and on the old site's) right when the
 * new site's first requests are dispatched and answered: in bench/failover.js's 503 case the
 * first answer from the new site came 10.7 ms (mean of 5) after its first dispatch with the
 * close at once, 7.0 ms with it 200 ms later. Nothing is sent on them meanwhile: the route has
 * moved, and a flip back gets fresh pools.
 */
export const RETIRED_POOL_GRACE_MS = 250;

/**
 * One error for every call taken off any site (see ProxyCall.redirect): an Error per drain cost
 * its stack capture a thousand times over when a region failed (profiled: a third of a flip's
 * drain step), and the stack says nothing about the call anyway.
 */
const REDISPATCHED = abortError('failover: re-sent to the new site');

/**
 * `later`, when given, receives the work that can wait until the new route is out: destroying
 * the pools of backends whose every call was re-sent (tens of ms for hundreds of connections to
 * a hung site, which would otherwise delay the route switch). Without it, that work is done at
 * once.
 */
export async function drainSite(tenant: string, site: SiteRuntime, timeoutMs: number, upgrades?: UpgradeRegistry, later?: Array<() => void>): Promise<DrainResult> {
  const started = performance.now();
  const backends = site.backends.map((b) => b.backend);
  let inflight = 0;
  let redispatched = 0;
  const reason = REDISPATCHED;
  const destroyed = new Set<(typeof backends)[number]>();
  for (const b of backends) {
    const calls = b.calls.toArray();
    inflight += calls.length;
    const movable = (c: (typeof calls)[number]) => c.idempotent && !c.responded && c.bodyUntouched;
    // Every call can move: detach them all and destroy the pool (all its connections at once)
    // instead of cutting each call's connection. Otherwise the movable calls are cut one by one
    // and the rest get drain_timeout.
    const all = calls.every(movable);
    for (const call of calls) {
      if (movable(call)) {
        call.redirect(all ? undefined : reason);
        redispatched++;
      }
    }
    // Nothing of ours is left on this backend: whatever its pool still holds is detached
    // attempts (in flight, or queued inside undici behind them). Destroy it rather than close
    // it gracefully, which would dial the old site once per queued attempt only to abort it
    // (for a hung site: hundreds of useless connects and aborts in the burst after the flip).
    if (b.calls.size === 0) {
      destroyed.add(b);
      // A pool with nothing queued or running holds only idle connections: closing them is no
      // hurry, and it would compete with the new site's first requests (see RETIRED_POOL_GRACE_MS).
      const idle = b.poolIdle;
      const retired = b.retire(reason);
      const destroy = (): void => {
        mark('old-pool-destroy', idle ? 'idle' : 'busy');
        void retired();
        mark('old-pool-destroyed');
      };
      if (!later) destroy();
      else if (idle) later.push(() => setTimeout(destroy, RETIRED_POOL_GRACE_MS).unref());
      else later.push(destroy);
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

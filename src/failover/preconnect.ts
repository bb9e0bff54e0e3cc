/**
 * A flip's pre-connect: while the new epoch is being persisted (a write and an fdatasync on the
 * state writer's thread, 1.5–3 ms), the event loop is free, and the requests held for the flip
 * will each need a connection to the target site the moment the route is out. Opening a few
 * now, in parallel with the persist, takes a connect off the first answer from the new site
 * (bench/kill-gap.js). Nothing is sent on them before the route: fencing is untouched, the
 * epoch is still durable before any request reaches the target.
 *
 * At most PRECONNECT_PER_FLIP connections per flip, spread over the target's backends (at least
 * one each): a region failing over a thousand tenants at once dials about what their held
 * requests would have dialled a few ms later anyway. Unused ones close at keep_alive_timeout.
 * None with `proxy.standby_connections` set: the target is kept warm already, by the number the
 * operator chose.
 */
import type { SiteRuntime } from './site.js';

export const PRECONNECT_PER_FLIP = 4;

export function preconnectTarget(site: SiteRuntime | undefined, standbyConnections: number): void {
  if (site === undefined || standbyConnections > 0) return;
  const backends = site.routable();
  if (backends.length === 0) return;
  const each = Math.max(1, Math.floor(PRECONNECT_PER_FLIP / backends.length));
  for (const b of backends) b.backend.preconnect(each);
}

/**
 * The change feed's sweep (src/console/change-feed.ts): a tenant whose sites' availability
 * changes with no hook telling (an ejection running out) still reaches open streams, within
 * one sweep, by a slice of the fleet per tick. The feed is served by a plain Node server here
 * and read over a real socket; its tenants are minimal stand-ins whose site health the test sets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChangeFeed } from '../src/console/change-feed.js';
import { fleetSnapshot } from '../src/console/summary.js';
import type { TenantController } from '../src/failover/tenant-controller.js';
import type { TenantsChanged } from '../src/console/contract.js';
import { openEvents } from './helpers/sse.js';

/** A tenant as the feed reads it: state, config, sites with a settable availability. */
function standIn(name: string) {
  const up = [true, true];
  const sites = up.map((_, i) => ({ name: `s${i}`, cfg: { name: `s${i}` }, health: () => ({ available: up[i]! }) }));
  const c = { name, sites, state: { phase: 'active', epoch: 1, active: 's0', fenced: [], reason: '', updated_at: '' }, config: { tier: { name: 'BC' }, sites: [{ name: 's0' }, { name: 's1' }] } };
  return { c: c as unknown as TenantController, up };
}

const tenants = Array.from({ length: 200 }, (_, i) => standIn(`t${i}`));
const byName = new Map(tenants.map((t) => [t.c.name, t.c]));
const feed = new ChangeFeed(
  { tenants: () => byName.values(), tenant: (n) => byName.get(n), snapshot: (now) => fleetSnapshot(byName.values(), { version: 'test', automatic: { enabled: true } }, now), now: Date.now },
  { tickMs: 50, sweepMs: 1000 },
);
const server = http.createServer((_req, res) => feed.attach(res));
let url: string;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  feed.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('change feed sweep', () => {
  it('a site that became unavailable with no hook reaches the stream within a sweep', async () => {
    const s = await openEvents(url, undefined, '/');
    try {
      await s.next((e) => e.event === 'snapshot');
      const from = s.events.length;
      const changedAt = Date.now();
      tenants[137]!.up[1] = false;
      const e = await s.next((x) => x.event === 'tenants', { from, timeout: 3000, what: 'a tenants event' });
      expect(e.at - changedAt).toBeLessThan(1000 + 300);
      expect((e.data as TenantsChanged).tenants.map((t) => [t.name, t.sites_available])).toEqual([['t137', 1]]);
      // Nothing else changed: no further tenants event over a whole sweep (an absence takes a
      // bounded wait; it ends early if an event comes).
      const after = s.events.length;
      const quietUntil = Date.now() + 1200;
      await new Promise<void>((r) => {
        const poll = setInterval(() => {
          if (Date.now() >= quietUntil || s.events.length > after) {
            clearInterval(poll);
            r();
          }
        }, 20);
      });
      expect(s.events.slice(after).filter((x) => x.event === 'tenants')).toEqual([]);
    } finally {
      s.close();
    }
  });
});

/**
 * Refused client connections are counted by reason (drproxy_connections_refused_total), and the
 * open ones and the effective cap are gauges (drproxy_connections_open, _limit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, twoSiteTenant, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { admin } from './helpers/admin.js';
import { parseExposition, value } from './helpers/prom.js';
import { destroyAll, openMany, type Tracked } from './helpers/sockets.js';
import { waitFor } from './helpers/poll.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;
const held: Tracked[] = [];

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    server: { headers_timeout: '30s', max_connections: 6, max_connections_per_client: 2 },
    defaults: { health_check: FAST_CHECKS },
    tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
  });
});

afterAll(async () => {
  destroyAll(held);
  await p?.stop();
  await stopAll(a1, b1);
});

async function scrape(): Promise<ReturnType<typeof parseExposition>> {
  return parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text);
}

describe('connection metrics', () => {
  it('start at zero for every reason, with the effective cap', async () => {
    const e = await scrape();
    expect(e.types.get('drproxy_connections_refused_total')).toBe('counter');
    expect(e.types.get('drproxy_connections_open')).toBe('gauge');
    for (const reason of ['max_connections', 'fd_limit', 'max_connections_per_client', 'accept_error']) {
      expect(value(e, 'drproxy_connections_refused_total', { reason })).toBe(0);
    }
    expect(value(e, 'drproxy_connections_open', {})).toBe(0);
    expect(value(e, 'drproxy_connections_limit', {})).toBe(6);
  });

  it('count refusals by reason and the connections open', async () => {
    // 127.0.0.2: 2 admitted, 3 refused (per client); 127.0.0.3 and .4: 2 each admitted, then
    // the total (6) is reached and 127.0.0.5 is refused.
    const two = await openMany(p.port, 5, { localAddress: '127.0.0.2' });
    held.push(...two);
    await waitFor(() => two.filter((t) => t.closedAt !== undefined).length === 3, { what: '3 refused from 127.0.0.2' });
    held.push(...(await openMany(p.port, 2, { localAddress: '127.0.0.3' })), ...(await openMany(p.port, 2, { localAddress: '127.0.0.4' })));
    const five = await openMany(p.port, 1, { localAddress: '127.0.0.5' });
    held.push(...five);
    await five[0]!.closed;
    await waitFor(async () => {
      const e = await scrape();
      return value(e, 'drproxy_connections_refused_total', { reason: 'max_connections_per_client' }) === 3 &&
        value(e, 'drproxy_connections_refused_total', { reason: 'max_connections' }) === 1 &&
        value(e, 'drproxy_connections_open', {}) === 6;
    }, { what: 'the counts in /metrics' });
    // Closing them brings the gauge back down; the counters stay.
    destroyAll(held);
    await waitFor(async () => value(await scrape(), 'drproxy_connections_open', {}) === 0, { what: 'open back to 0' });
    expect(value(await scrape(), 'drproxy_connections_refused_total', { reason: 'max_connections_per_client' })).toBe(3);
  });
});

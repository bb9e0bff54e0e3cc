import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const RISE = 3;
const FALL = 4;

let up: Upstream;
let other: Upstream;
let p: TestProxy;
/** Every probe result and state change of the watched backend, in order. */
const events: string[] = [];

beforeAll(async () => {
  up = await startUpstream('a1');
  other = await startUpstream('b1');
  p = await startProxy(
    {
      defaults: {
        health_check: { interval: '50ms', timeout: '2s', rise: RISE, fall: FALL, jitter: 0 },
        failover: { mode: 'manual' },
      },
      tenants: {
        t: twoSiteTenant('t.example.com', up, other),
      },
    },
    {
      controllerHooks: {
        onCheck: (_t, site, _b, r) => void (site === 'a1' && events.push(r.ok ? 'ok' : 'fail')),
        onBackendState: (_t, site, _b, state) => void (site === 'a1' && events.push(state.toUpperCase())),
      },
    },
  );
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up, other);
});

/** The probe results that came in a row just before the first `state` event at or after `from`. */
function runBefore(state: string, from = 0): string[] {
  const tail = events.slice(from);
  const at = tail.indexOf(state);
  const results = tail.slice(0, at).filter((e) => e === 'ok' || e === 'fail');
  const last = results.at(-1);
  let n = 0;
  while (n < results.length && results[results.length - 1 - n] === last) n++;
  return results.slice(results.length - n);
}

describe('active health hysteresis', () => {
  it('decides a new backend on its first result', async () => {
    await waitFor(() => events.includes('UP'), { what: 'backend up' });
    expect(events.slice(0, 2)).toEqual(['ok', 'UP']);
  });

  it(`goes down after exactly ${FALL} consecutive failures`, async () => {
    await up.setHealth(503);
    await waitFor(() => events.includes('DOWN'), { what: 'backend down' });
    expect(runBefore('DOWN')).toEqual(Array(FALL).fill('fail'));
  });

  it(`comes back up after exactly ${RISE} consecutive successes`, async () => {
    const from = events.length;
    await up.setHealth(200);
    await waitFor(() => events.slice(from).includes('UP'), { what: 'backend up again' });
    expect(runBefore('UP', from)).toEqual(Array(RISE).fill('ok'));
  });

  it('does not go down on fewer than fall failures in a row', async () => {
    // A status outside expect_status for a moment, then healthy again: no DOWN may follow.
    const from = events.length;
    await up.setHealth(500);
    await waitFor(() => events.slice(from).filter((e) => e === 'fail').length >= 1, { what: 'a failure' });
    await up.setHealth(200);
    await waitFor(() => events.slice(from).filter((e) => e === 'ok').length >= 3, { what: 'three successes' });
    const tail = events.slice(from);
    // The precondition is asserted, not assumed: fewer than FALL failures in a row happened.
    expect(tail.filter((e) => e === 'fail').length).toBeLessThan(FALL);
    expect(tail).not.toContain('DOWN');
  });

  it('logs a state change once, not on every check', async () => {
    const downs = p.logs.filter((l) => l.msg === 'backend down' && l.site === 'a1');
    expect(downs.length).toBe(events.filter((e) => e === 'DOWN').length);
  });
});

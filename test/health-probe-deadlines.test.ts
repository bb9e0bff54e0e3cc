/**
 * Probe timeouts on one shared timer (src/health/probe-deadlines.ts) instead of a Node timer per
 * probe: an answered probe leaves nothing behind, an unanswered one times out after its own
 * timeout (never before it, and soon after it), probes of different timeouts
 * each keep theirs, and the timer is not armed once no probe is in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { ActiveCheck } from '../src/health/active-check.js';
import { ProbeClient } from '../src/health/probe-client.js';
import { probeDeadlines } from '../src/health/probe-deadlines.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { waitFor } from './helpers/poll.js';

let server: net.Server;
let origin: string;
const client = new ProbeClient();

beforeAll(async () => {
  // /ok is answered at once; /hang never.
  server = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', (d) => {
      if (d.toString('latin1').startsWith('GET /ok ')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  await client.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function check(path: string, timeout: number): ActiveCheck {
  return new ActiveCheck(origin, healthCheckConfig({ path, timeout: `${timeout}ms` }), client, { onResult() {} });
}

describe('probe deadlines on one timer', () => {
  it('an answered probe leaves no deadline behind', async () => {
    const c = check('/ok', 1000);
    for (let i = 0; i < 20; i++) {
      expect(await c.probe()).toMatchObject({ ok: true, status: 200 });
      expect(probeDeadlines.size).toBe(0);
    }
  });

  it('unanswered probes of two timeouts each time out after their own, not before', async () => {
    const results = await Promise.all([check('/hang', 300).probe(), check('/hang', 150).probe(), check('/hang', 300).probe(), check('/ok', 150).probe()]);
    expect(results.map((r) => r?.error ?? 'ok')).toEqual(['timeout after 300ms', 'timeout after 150ms', 'timeout after 300ms', 'ok']);
    for (const [i, timeout] of [300, 150, 300].entries()) {
      expect(results[i]!.durationMs).toBeGreaterThanOrEqual(timeout);
      // One timer for the earliest deadline; generous for a loaded machine, far below the next timeout's.
      expect(results[i]!.durationMs).toBeLessThan(timeout + 140);
    }
    expect(probeDeadlines.size).toBe(0);
  });

  it('the timer is not armed once no probe is in flight, and is armed again by the next', async () => {
    await check('/ok', 1000).probe();
    await waitFor(() => !probeDeadlines.ticking, { what: 'the timer disarmed', timeout: 5000 });
    const hung = check('/hang', 100).probe();
    expect(probeDeadlines.ticking).toBe(true);
    expect(await hung).toMatchObject({ ok: false, error: 'timeout after 100ms' });
  });
});

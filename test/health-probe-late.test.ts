/**
 * A probe whose own timer fires late (drproxy overloaded) is inconclusive, unless its request
 * was on the wire a whole timeout and nothing had come back even after the late timer (then it
 * is a timeout). An inconclusive probe's request may still finish so that its keep-alive
 * connection is kept. Probes run without undici's header and
 * body timers (the probe's timer bounds them), so that wait has its own bound
 * (inconclusiveWait), then the request is aborted. Without it, a hung backend would hold the
 * connection for good.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setImmediate as turn } from 'node:timers/promises';
import { Agent } from 'undici';
import { ProbeClient } from '../src/health/probe-client.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { waitFor } from './helpers/poll.js';
import { blockEventLoop } from './helpers/overload.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { ActiveCheck, inconclusiveWait, type CheckResult } from '../src/health/active-check.js';
import type { HealthCheckConfig } from '../src/config/types.js';

const TIMEOUT = 100;
let up: Upstream;
/** The dispatcher of the test: undici's Agent (what tests may pass) or drproxy's probe client. */
let agent: Agent | ProbeClient;

beforeAll(async () => {
  up = await startUpstream('s1');
});

afterEach(async () => {
  up.proc.kill('SIGCONT');
  await agent?.destroy();
});

afterAll(async () => {
  await stopAll(up);
});

function cfg(path: string): HealthCheckConfig {
  return healthCheckConfig({ path, interval: '1s', timeout: `${TIMEOUT}ms`, rise: 1, fall: 1, jitter: 0 });
}

/** One probe whose timer fires ~3 timeouts late. */
async function lateProbe(check: ActiveCheck): Promise<CheckResult | undefined> {
  const result = check.probe();
  blockEventLoop(4 * TIMEOUT);
  return result;
}

/**
 * Probes until one is answered: the probes' 100 ms timeout can pass on a busy machine (a test
 * run of two files at a time) when nothing here is late on purpose.
 */
async function answered(check: ActiveCheck): Promise<void> {
  await waitFor(async () => (await check.probe())?.ok === true, { what: 'a probe answered', timeout: 5000, interval: 0 });
}

/** Probe requests not finished: queued in the pool or running on a connection. */
function unfinished(): number {
  return Object.values(agent.stats).reduce((n, s) => n + (s.size ?? 0), 0);
}

function connected(): number {
  // A Pool per origin (an Agent of connections > 1): its connected count is a number.
  return Object.values(agent.stats).reduce((n, s) => n + Number(s.connected), 0);
}

const dispatchers: Array<[string, () => Agent | ProbeClient]> = [
  ['undici Agent', () => new Agent({ connections: 4 })],
  ['probe client', () => new ProbeClient({ connections: 4 })],
];

describe.each(dispatchers)('a probe whose timer fires late (%s)', (_name, dispatcher) => {
  it('against a hung backend, its request on the wire a whole timeout: a timeout all the same', async () => {
    agent = dispatcher();
    const check = new ActiveCheck(up.url, cfg('/healthz'), agent, { onResult() {} });
    await answered(check); // connected and answered once
    up.proc.kill('SIGSTOP');
    // undici writes a request on a reused keep-alive connection in the check phase after its
    // dispatch: let it go out, then hold the event loop past the timeout.
    const probe = check.probe();
    await turn();
    await turn();
    blockEventLoop(4 * TIMEOUT);
    const r = await probe;
    // Every ready socket was read after the late timer, and nothing had come back.
    expect(r?.inconclusive).toBeUndefined();
    expect(r?.ok).toBe(false);
    expect(r?.error).toBe(`timeout after ${TIMEOUT}ms`);
    // The timed-out request keeps its connection, waiting for its answer; the next probe opens
    // nothing new, waits a timeout for that answer, and fails.
    expect(unfinished()).toBe(1);
    const next = await check.probe();
    expect(next).toMatchObject({ ok: false, error: `timeout after ${TIMEOUT}ms (an earlier probe is still waiting for its connection or its answer)` });
    expect(next!.durationMs).toBeGreaterThanOrEqual(TIMEOUT - 1);
    expect(unfinished()).toBe(1);
    // The backend wakes up: the waiting request is answered, and probes go out again.
    up.proc.kill('SIGCONT');
    await waitFor(() => unfinished() === 0, { what: 'the waiting probe request answered' });
    await answered(check);
  });

  it('against a hung backend, its request written late (a new connection, this process busy): inconclusive, and aborted after inconclusiveWait', async () => {
    agent = dispatcher();
    const check = new ActiveCheck(up.url, cfg('/healthz'), agent, { onResult() {} });
    up.proc.kill('SIGSTOP');
    // No connection yet: the busy loop holds the connect, so the request goes out only after
    // the timer was due (the kernel still accepts connections for a stopped process).
    const r = await lateProbe(check);
    expect(r?.inconclusive).toBe(true);
    expect(unfinished()).toBe(1);
    const at = performance.now();
    const wait = inconclusiveWait(TIMEOUT);
    await waitFor(() => unfinished() === 0, { what: 'the abandoned probe request aborted', timeout: wait + 3000 });
    // Measured from after the late timer fired, so a little less than the whole wait.
    expect(performance.now() - at).toBeGreaterThanOrEqual(wait - 4 * TIMEOUT - 50);
  });

  it('against a slow backend: the probe after a timeout waits on the timed-out one, and its late answer counts', async () => {
    agent = dispatcher();
    // Answers after 400 ms, the timeout is 300 ms: the first probe times out; the next, sent at
    // once, waits up to 300 ms more on it, and the answer comes ~100 ms into that wait.
    const slow = new ActiveCheck(up.url, healthCheckConfig({ path: '/slow?ms=400', interval: '1s', timeout: '300ms', rise: 1, fall: 1, jitter: 0 }), agent, { onResult() {} });
    const first = await slow.probe();
    expect(first).toMatchObject({ ok: false, error: 'timeout after 300ms' });
    const second = await slow.probe();
    expect(second).toMatchObject({ ok: true, status: 200 });
    expect(connected()).toBe(1); // no second connection was opened
  });

  it('against a slow but live backend: inconclusive, the answer is read and the connection kept', async () => {
    agent = dispatcher();
    // Two checks of one origin share the agent's connections.
    const fast = new ActiveCheck(up.url, cfg('/healthz'), agent, { onResult() {} });
    const slow = new ActiveCheck(up.url, cfg(`/slow?ms=${2 * TIMEOUT}`), agent, { onResult() {} });
    await answered(fast);
    // The late probe's answer takes 2 timeouts, well within inconclusiveWait: it is read, and
    // no connection is destroyed (an abort would destroy the one it runs on).
    const r = await lateProbe(slow);
    expect(r?.inconclusive).toBe(true);
    let most = connected();
    await waitFor(
      () => {
        most = Math.max(most, connected());
        return unfinished() === 0;
      },
      { what: 'the late probe request finished', timeout: 3000 },
    );
    expect(connected()).toBe(most);
    await answered(fast);
  });
});

/**
 * The acknowledged-routing protocol with real worker threads (src/workers/worker-set.ts and
 * worker-acks.ts): a route step settles once every live worker has acknowledged it; a worker that
 * crashes is no longer waited for and is replaced by one that gets the full route set first; a
 * worker stuck in JavaScript is terminated after the ack timeout and the step settles without it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerSet } from '../src/workers/worker-set.js';
import { waitFor } from './helpers/poll.js';

const SCRIPT = new URL('./fixtures/route-worker.mjs', import.meta.url);
let set: WorkerSet | undefined;
const hung: string[] = [];
const ready: string[] = [];
const acked: string[] = [];

function start(count: number, ackTimeoutMs = 10_000, exitTimeoutMs = 5000): WorkerSet {
  hung.length = 0;
  ready.length = 0;
  acked.length = 0;
  set = new WorkerSet({
    script: SCRIPT,
    count,
    ackTimeoutMs,
    exitTimeoutMs,
    snapshot: () => ({ type: 'routes', routes: [{ tenant: 't', epoch: 1 }] }),
    onMessage: (id, m) => {
      const msg = m as { type?: string; epoch?: number };
      if (msg.type === 'ready') ready.push(id);
      if (msg.type === 'acked') acked.push(`${id}:${msg.epoch}`);
    },
    log: { warn: (obj, msg) => hung.push(`${msg} ${JSON.stringify(obj)}`) },
  });
  set.start();
  return set;
}

afterEach(async () => {
  await set?.close();
  set = undefined;
});

describe('acknowledged routing with worker threads', () => {
  it('a route step settles only once every worker has acknowledged it', async () => {
    const s = start(2);
    await waitFor(() => ready.length === 2, { what: 'both workers applied the route set' });
    expect(s.acknowledged('t', 1, 'routed')).toBeUndefined();
    const wait = s.acknowledged('t', 2, 'routed');
    expect(wait).toBeInstanceOf(Promise);
    let settled = false;
    const done = wait!.then(() => (settled = true));
    s.postTo('w1', { type: 'route', tenant: 't', epoch: 2, stage: 'routed' });
    await waitFor(() => acked.includes('w1:2'), { what: 'w1 acknowledged epoch 2' });
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    s.postTo('w2', { type: 'route', tenant: 't', epoch: 2, stage: 'routed' });
    await done;
    // A later epoch covers an earlier stage: nothing to wait for.
    expect(s.acknowledged('t', 2, 'drained')).toBeUndefined();
  });

  it('a worker that crashes is not waited for, and its replacement gets the route set before anything else', async () => {
    const s = start(2);
    await waitFor(() => ready.length === 2, { what: 'both workers up' });
    s.postTo('w1', { type: 'route', tenant: 't', epoch: 2, stage: 'routed' }); // w2 never gets epoch 2
    const wait = s.acknowledged('t', 2, 'routed');
    expect(wait).toBeInstanceOf(Promise);
    s.post({ type: 'crash', id: 'w2' });
    const t0 = Date.now();
    await wait; // settles through w2's exit, not through the (10 s) ack timeout
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(hung.some((l) => l.includes('did not acknowledge'))).toBe(false);
    expect(s.acks.live()).not.toContain('w2');
    await waitFor(() => ready.includes('w3'), { what: 'a replacement worker applied the route set' });
    expect(s.ids().sort()).toEqual(['w1', 'w3']);
  });

  it('a worker stuck in JavaScript is terminated after the ack timeout, and the step settles without it', async () => {
    const s = start(2, 300);
    await waitFor(() => ready.length === 2, { what: 'both workers up' });
    s.post({ type: 'hang-next', id: 'w1' });
    s.post({ type: 'route', tenant: 't', epoch: 3, stage: 'drained' });
    const t0 = Date.now();
    await s.acknowledged('t', 3, 'drained');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(hung.some((l) => l.includes('did not acknowledge') && l.includes('"worker":"w1"') && l.includes('"ack_timeout_ms":300'))).toBe(true);
    await waitFor(() => ready.includes('w3'), { what: 'the stuck worker replaced' });
  });

  it('a worker stuck in native code after terminate() fails the step with DRP_WORKER_HUNG, and keeps failing it until it exits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'drproxy-fifo-'));
    const fifo = join(dir, 'block');
    execFileSync('mkfifo', [fifo]);
    const s = start(2, 300, 400);
    try {
      await waitFor(() => ready.length === 2, { what: 'both workers up' });
      s.post({ type: 'block-native', id: 'w1', fifo });
      s.post({ type: 'route', tenant: 't', epoch: 4, stage: 'routed' });
      await expect(s.acknowledged('t', 4, 'routed')).rejects.toMatchObject({ code: 'DRP_WORKER_HUNG' });
      expect([...s.stuckIds]).toEqual(['w1']);
      // Still there: a later step fails the same way rather than going past it.
      s.post({ type: 'route', tenant: 't', epoch: 5, stage: 'routed' });
      await expect(s.acknowledged('t', 5, 'routed')).rejects.toMatchObject({ code: 'DRP_WORKER_HUNG' });
    } finally {
      // A writer lets its open(2) return; the terminated worker then exits.
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    }
    await waitFor(() => s.stuckIds.size === 0 && !s.ids().includes('w1'), { what: 'the stuck worker exited' });
    rmSync(dir, { recursive: true, force: true });
  });

  it('without workers there is nothing to wait for', () => {
    const s = start(0);
    expect(s.acknowledged('t', 9, 'routed')).toBeUndefined();
  });
});

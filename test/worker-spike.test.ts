/**
 * The ground the threading model stands on (docs/design.md, "Every core: threads"): two real
 * worker threads, each with its own HTTP server listening on the same port with `reusePort`,
 * both take connections (the kernel spreads new connections across them). Node >= 22.12 only;
 * on older Node the option is ignored and the second listener fails with EADDRINUSE, which is
 * why `workers` is clamped to 1 there (tested too, so that a Node upgrade that changes it shows).
 */
import { Worker } from 'node:worker_threads';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/poll.js';

const SCRIPT = new URL('./fixtures/reuseport-worker.mjs', import.meta.url);
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const REUSE_PORT = major > 22 || (major === 22 && minor >= 12);
const workers: Worker[] = [];

function startWorker(id: string, port: number): Promise<{ type: string; port?: number; code?: string }> {
  const w = new Worker(SCRIPT, { workerData: { id, port } });
  workers.push(w);
  return new Promise((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

describe.runIf(REUSE_PORT)(`reusePort across worker threads (Node ${process.version})`, () => {
  it('two workers listen on one port and both take connections', async () => {
    const first = await startWorker('w1', 0);
    expect(first).toEqual({ type: 'listening', port: expect.any(Number) });
    const second = await startWorker('w2', first.port!);
    expect(second).toEqual({ type: 'listening', port: first.port });
    const seen = new Set<string>();
    // Each request on a new connection (connection: close): the kernel picks a listener per connection.
    await waitFor(
      async () => {
        const r = await request(`http://127.0.0.1:${first.port}/`, { headers: { connection: 'close' }, reset: true });
        seen.add(await r.body.text());
        return seen.size === 2;
      },
      { interval: 1, timeout: 10_000, what: 'connections taken by both workers' },
    );
    expect([...seen].sort()).toEqual(['w1', 'w2']);
  });
});

describe.runIf(!REUSE_PORT)(`Node ${process.version} (< 22.12): reusePort is ignored`, () => {
  it('the second worker cannot listen on the same port (EADDRINUSE): workers must be clamped to 1', async () => {
    const first = await startWorker('w1', 0);
    expect(first.type).toBe('listening');
    const second = await startWorker('w2', first.port!);
    expect(second).toMatchObject({ type: 'error', code: 'EADDRINUSE' });
  });
});

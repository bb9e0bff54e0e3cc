/**
 * Once a flip publishes the new route, the oldest held request goes out before the flip's
 * bookkeeping: its record and metrics, the completion commit ("phase: active"), and its log
 * lines. The epoch itself was durable before the route changed; the completion commit only
 * records the outcome, and the held requests need not wait for it to be serialised and posted.
 * That first request goes out alone in its turn of the event loop; the others follow from the
 * next turn on, oldest first.
 *
 * Order observed in-process: undici's `undici:request:create` diagnostics channel fires
 * synchronously when drproxy dispatches a request, the test's store records when the
 * completion commit is called (it delegates to the real file store), and a setImmediate queued
 * at the first dispatch marks the end of that turn. `undici:client:sendHeaders` fires when the
 * request is written to its connection: the first one is written before the completion commit
 * too, on the connection the flip opened while it persisted its epoch (issue 23, item 3; undici
 * gets such a connection a microtask after the dispatch).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import diagnostics from 'node:diagnostics_channel';
import { request } from 'undici';
import { FileStateStore } from '../src/state/file-store.js';
import type { StateStore, TenantState } from '../src/state/types.js';
import type { Upstream } from './helpers/upstream.js';
import { tempDir, type TestProxy } from './helpers/proxy.js';
import { startHoldingProxy, type HoldingSetup } from './helpers/holding.js';
import { waitFor } from './helpers/poll.js';

const HELD = 3;
const events: string[] = [];

/** The real file store, noting each commit's phase in `events`. */
class RecordingStore implements StateStore {
  readonly kind = 'file' as const;
  constructor(private readonly inner: FileStateStore) {}
  open(): Promise<void> {
    return this.inner.open();
  }
  load(tenant: string): Promise<TenantState | undefined> {
    return this.inner.load(tenant);
  }
  commit(next: TenantState, expectedEpoch: number | undefined): Promise<void> {
    events.push(`commit ${next.phase}`);
    return this.inner.commit(next, expectedEpoch);
  }
  watch(listener: (state: TenantState) => void): () => void {
    return this.inner.watch(listener);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

let setup: HoldingSetup;
let backup: Upstream;
let p: TestProxy;

const onCreate = (msg: unknown): void => {
  const r = (msg as { request: { origin: string; path: string } }).request;
  if (r.origin !== backup?.url || !r.path.startsWith('/held-')) return;
  if (!events.some((e) => e.startsWith('dispatch '))) setImmediate(() => events.push('next turn'));
  events.push(`dispatch ${r.path}`);
};
const onSend = (msg: unknown): void => {
  const r = (msg as { request: { origin: string; path: string } }).request;
  if (r.origin === backup?.url && r.path === '/held-0') events.push('written /held-0');
};

beforeAll(async () => {
  // The promote hook (400 ms) keeps the flip in its hold phase long enough to hold requests.
  const stateDir = await tempDir();
  setup = await startHoldingProxy({
    holdMax: 100,
    holdRequests: '10s',
    promoteDelayMs: 400,
    start: { stateDir, store: new RecordingStore(new FileStateStore(resolve(stateDir))) },
  });
  ({ backup, p } = setup);
  diagnostics.subscribe('undici:request:create', onCreate);
  diagnostics.subscribe('undici:client:sendHeaders', onSend);
});

afterAll(async () => {
  diagnostics.unsubscribe('undici:request:create', onCreate);
  diagnostics.unsubscribe('undici:client:sendHeaders', onSend);
  await setup?.stop();
});

describe('the end of a flip', () => {
  it('dispatches the oldest held request alone, before the completion commit, and the rest from the next turn on', async () => {
    const t = p.proxy.tenant('t')!;
    events.length = 0;
    const flip = t.operatorFailover({ to: 'b1', reason: 'release order', actor: 'test' });
    await waitFor(() => t.slot.route.mode === 'hold', { what: 'the flip holding requests' });
    const answers = Array.from({ length: HELD }, (_, i) =>
      request(`${p.url}/held-${i}`, { headers: { host: 't.example.com' } }).then(async (r) => {
        await r.body.dump();
        return `${r.statusCode} ${String(r.headers['x-site'])}`;
      }),
    );
    await waitFor(() => t.slot.load.inflight === HELD, { what: `${HELD} requests held` });
    expect(t.slot.route.mode).toBe('hold'); // still held when counted: the promote hook waits 400 ms
    expect((await flip).result).toBe('routed');
    expect(await Promise.all(answers)).toEqual(Array(HELD).fill('200 b1'));
    const seen = events.join(', ');
    expect(events[0], seen).toBe('commit failing_over');
    expect(events.filter((e) => e.startsWith('dispatch ')), seen).toEqual(Array.from({ length: HELD }, (_, i) => `dispatch /held-${i}`));
    const at = (e: string) => events.indexOf(e);
    expect(at('dispatch /held-0'), seen).toBeLessThan(at('commit active'));
    expect(at('written /held-0'), seen).toBeGreaterThan(-1);
    expect(at('written /held-0'), seen).toBeLessThan(at('commit active'));
    expect(at('dispatch /held-0'), seen).toBeLessThan(at('next turn'));
    expect(at('next turn'), seen).toBeLessThan(at('dispatch /held-1'));
  });
});

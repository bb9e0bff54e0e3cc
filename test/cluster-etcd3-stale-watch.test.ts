/**
 * etcd3 1.1.2 throws (an unhandled rejection, which ends a Node process) when a watch response
 * names a watcher it already removed; a clean-clone run hit it once, as a watch was re-created
 * after etcd cancelled it. drproxy's etcd module drops such a response instead (etcd.ts).
 */
import { describe, expect, it } from 'vitest';
import { WatchManager } from 'etcd3/lib/watch.js';
import '../src/cluster/etcd.js';

describe('a watch response for a watcher etcd3 no longer has', () => {
  it('is dropped, not thrown', () => {
    const manager = { watchers: [{ id: '1' }], initialBackoff: { next: () => ({}) }, backoff: undefined } as unknown as WatchManager;
    const handle = (WatchManager.prototype as unknown as { handleResponse(this: WatchManager, res: object): void }).handleResponse;
    expect(() => handle.call(manager, { watch_id: '7', canceled: false, events: [] })).not.toThrow();
  });
});

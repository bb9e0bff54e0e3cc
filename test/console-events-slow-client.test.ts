/**
 * GET /events and slow clients (issue 21, item 5): a client that stops reading while the fleet
 * keeps changing never makes drproxy buffer more than a bound for it. Here the bound is 256 KiB
 * and each `tenants` event ~80 KiB (400 tenants whose backup site goes down and up again and
 * again): a client that never reads is dropped once stalled, one that stops reading for a
 * while and then reads again gets a fresh `snapshot` (resync), and a client that keeps reading
 * sees every change meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { adminTokens, VIEWER } from './helpers/admin.js';
import { openEvents } from './helpers/sse.js';
import { waitFor } from './helpers/poll.js';
import type { TenantsChanged } from '../src/console/contract.js';

const N = 400;
const MAX_BUFFERED = 256 * 1024;
let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const tenants: Record<string, unknown> = {};
  for (let i = 0; i < N; i++) tenants[`t${i}`] = { tier: 'BC', hosts: [`t${i}.example.com`], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] };
  p = await startProxy({ admin: adminTokens(), defaults: { health_check: { ...FAST_CHECKS, timeout: '1s' } }, tenants }, { console: { feed: { maxBuffered: MAX_BUFFERED, stallMs: 2500 } } });
  await waitFor(() => [...p.proxy.controllers.values()].every((c) => c.state.active === 'a1' && c.sites.every((s) => s.health().available)), { timeout: 30_000, what: 'every tenant healthy on a1' });
}, 60_000);
afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

/** A raw GET /events whose reading the test controls; counts the snapshots it has read. */
function rawStream(port: number): { socket: net.Socket; snapshots: () => number } {
  const socket = net.connect(port, '127.0.0.1');
  const MARK = 'event: snapshot\n';
  let tail = '';
  let snapshots = 0;
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    // Counted as it streams (megabytes go by); a mark split across two chunks is seen once.
    const text = tail + d;
    snapshots += text.split(MARK).length - 1;
    tail = text.slice(-(MARK.length - 1));
  });
  socket.on('error', () => {});
  socket.write(`GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${VIEWER}\r\n\r\n`);
  return { socket, snapshots: () => snapshots };
}

describe('GET /events: a client that does not keep up', () => {
  it('is resynced or dropped; what is buffered for it stays bounded; a reading client sees every change', async () => {
    const feed = p.proxy.console().feed;
    const port = p.proxy.admin!.address().port;
    const reader = await openEvents(p.adminUrl, VIEWER);
    await reader.next((e) => e.event === 'snapshot');
    // One after the other: feed.stats() lists the streams in the order they opened.
    const never = rawStream(port);
    await waitFor(() => feed.size === 2 && never.snapshots() === 1, { what: 'the second stream open' });
    const later = rawStream(port);
    await waitFor(() => feed.size === 3 && later.snapshots() === 1, { what: 'the third stream open' });
    never.socket.pause();
    later.socket.pause();

    // The backup sites of all tenants go down and up until the paused clients fall behind.
    let flapping = true;
    const flap = (async () => {
      const b1Available = (want: boolean) => [...p.proxy.controllers.values()].every((c) => c.sites[1]!.health().available === want);
      while (flapping) {
        await b1.setHealth(500);
        await waitFor(() => !flapping || b1Available(false), { what: 'b1 down everywhere' });
        await b1.setHealth(200);
        await waitFor(() => !flapping || b1Available(true), { what: 'b1 up everywhere' });
      }
    })();
    // What is waiting for each stream's socket, sampled all along (the dropped one included).
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, ...feed.stats().map((x) => Math.max(x.buffered, x.peak)))), 20);
    try {
      await waitFor(() => feed.stats()[2]?.behind, { timeout: 30_000, what: 'the paused client behind' });
      later.socket.resume();
      await waitFor(() => later.snapshots() >= 2, { timeout: 10_000, what: 'a resync snapshot after reading again' });
      await waitFor(() => feed.counts.dropped >= 1 && feed.size === 2, { timeout: 30_000, what: 'the client that never reads dropped' });
    } finally {
      clearInterval(sampler);
      flapping = false;
      await flap;
    }
    const events = reader.events.filter((e) => e.event === 'tenants');
    const biggest = Math.max(...events.map((e) => JSON.stringify(e.data).length));
    console.log(`slow clients: ${feed.counts.tenants} tenants events of up to ${biggest} bytes; most buffered for a stream ${peak} bytes; dropped ${feed.counts.dropped}`);
    // At most the bound plus what one tick writes (a snapshot or an event, and the flips: none here).
    expect(peak).toBeLessThanOrEqual(MAX_BUFFERED + 2 * biggest);
    // The reading client is still connected and its last event is the fleet as it is.
    expect(feed.size).toBe(2);
    await waitFor(() => {
      const last = reader.events.filter((e) => e.event === 'tenants').at(-1)!.data as TenantsChanged;
      return last.tenants.length === N && last.tenants.every((t) => t.sites_available === 2);
    }, { what: 'the reader\'s last tenants event: every tenant with both sites up' });
    reader.close();
    never.socket.destroy();
    later.socket.destroy();
  }, 90_000);
});

/** drproxy_admin_event_streams: the console event streams open now, read at scrape. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { admin, adminTokens, VIEWER } from './helpers/admin.js';
import { openEvents } from './helpers/sse.js';
import { parseExposition, value } from './helpers/prom.js';
import { waitFor } from './helpers/poll.js';

let a1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  a1 = await startUpstream('a1');
  p = await startProxy({ admin: adminTokens(), defaults: { health_check: FAST_CHECKS }, tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }] } } });
});
afterAll(async () => {
  await p?.stop();
  await stopAll(a1);
});

const open = async (): Promise<number | undefined> => value(parseExposition((await admin(p.adminUrl, 'GET', '/metrics')).text), 'drproxy_admin_event_streams');

describe('drproxy_admin_event_streams', () => {
  it('counts the streams open now', async () => {
    expect(await open()).toBe(0);
    const streams = [await openEvents(p.adminUrl, VIEWER), await openEvents(p.adminUrl, VIEWER)];
    for (const s of streams) await s.next((e) => e.event === 'snapshot');
    expect(await open()).toBe(2);
    streams[0]!.close();
    await waitFor(async () => (await open()) === 1, { what: 'one stream left' });
    streams[1]!.close();
    await waitFor(async () => (await open()) === 0, { what: 'no stream left' });
  });
});

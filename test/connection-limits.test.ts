/**
 * server.max_connections and server.max_connections_per_client (issue 16, item 1): a connection
 * over a cap gets a short raw 503 (Connection: close, Retry-After, JSON body) and is closed
 * cleanly, never reset, and its request never reaches the upstream; the others are served.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { connectionCounts, startProxy, twoSiteTenant, FAST_CHECKS, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { connectTracked, destroyAll, openMany, parseAnswer, type Tracked } from './helpers/sockets.js';
import { waitFor } from './helpers/poll.js';
import { clientAddress } from '../src/proxy/connection-guard.js';

const GET = 'GET /over-cap HTTP/1.1\r\nHost: t.example.com\r\n\r\n';

let a1: Upstream, b1: Upstream;
let p: TestProxy | undefined;
const held: Tracked[] = [];

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});

afterEach(async () => {
  destroyAll(held.splice(0));
  await p?.stop();
  p = undefined;
});

afterAll(async () => {
  await stopAll(a1, b1);
});

async function proxyWith(server: Record<string, unknown>, listen = '127.0.0.1:0'): Promise<TestProxy> {
  const proxy = await startProxy({ listen, server: { headers_timeout: '30s', ...server }, defaults: { health_check: FAST_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } });
  await sitesHealthy(proxy, 't');
  return proxy;
}

/** A connection that sends its request at once and reads the answer until the proxy closes. */
async function refusedAnswer(port: number, localAddress?: string): Promise<Tracked> {
  const t = await connectTracked(port, localAddress ? { localAddress } : {});
  t.socket.write(GET);
  await t.closed;
  return t;
}

function expectClean503(t: Tracked, detail: RegExp): void {
  // A clean close (FIN), not a reset: the client reads the whole answer.
  expect(t.error).toBeUndefined();
  expect(t.ended).toBe(true);
  const a = parseAnswer(t.data);
  expect(a.status).toBe(503);
  expect(a.headers).toMatchObject({ connection: 'close', 'retry-after': '1', 'content-type': 'application/json', 'x-drproxy-error': 'too_many_connections' });
  expect(Number(a.headers['content-length'])).toBe(Buffer.byteLength(a.body));
  const body = JSON.parse(a.body) as { error: string; detail: string };
  expect(body.error).toBe('too_many_connections');
  expect(body.detail).toMatch(detail);
}

describe('server.max_connections', () => {
  it('answers a connection over the cap with a short 503 and closes it; its request never reaches the upstream', async () => {
    p = await proxyWith({ max_connections: 4, max_connections_per_client: 0 });
    held.push(...(await openMany(p.port, 4)));
    await waitFor(async () => (await connectionCounts(p!)).open === 4, { what: '4 connections open' });
    const before = (await a1.stats()).byPath['/over-cap'] ?? 0;
    const t = await refusedAnswer(p.port, '127.0.0.3');
    expectClean503(t, /too many open connections; retry later/);
    expect((await a1.stats()).byPath['/over-cap'] ?? 0).toBe(before);
    // The connections under the cap are untouched and still serve.
    for (const h of held) expect(h.closedAt).toBeUndefined();
    held[0]!.socket.write(GET);
    await waitFor(() => /^HTTP\/1\.1 200 /.test(held[0]!.data), { what: 'an answer on an admitted connection' });
  });

  it('admits a new connection once one closes', async () => {
    p = await proxyWith({ max_connections: 3, max_connections_per_client: 0 });
    held.push(...(await openMany(p.port, 3)));
    await waitFor(async () => (await connectionCounts(p!)).open === 3, { what: '3 connections open' });
    expectClean503(await refusedAnswer(p.port), /retry later/);
    held.pop()!.socket.destroy();
    await waitFor(async () => (await connectionCounts(p!)).open === 2, { what: 'a connection closed' });
    const r = await request(`${p.url}/after`, { headers: { host: 't.example.com' } });
    expect(r.statusCode).toBe(200);
    await r.body.dump();
  });
});

describe('server.max_connections_per_client', () => {
  it('refuses one address past its cap and still admits the others', async () => {
    p = await proxyWith({ max_connections: 100, max_connections_per_client: 3 });
    held.push(...(await openMany(p.port, 3, { localAddress: '127.0.0.2' })));
    const before = (await a1.stats()).byPath['/over-cap'] ?? 0;
    expectClean503(await refusedAnswer(p.port, '127.0.0.2'), /too many open connections from this address/);
    expect((await a1.stats()).byPath['/over-cap'] ?? 0).toBe(before);
    // Another address is served, on as many connections as the cap allows it.
    const others = await openMany(p.port, 3, { localAddress: '127.0.0.3' });
    held.push(...others);
    for (const o of others) o.socket.write(GET);
    await waitFor(() => others.every((o) => /^HTTP\/1\.1 200 /.test(o.data)), { what: '127.0.0.3 served' });
    expect((await a1.stats()).byPath['/over-cap']).toBe(before + 3);
  });

  it('counts an IPv4 client of a dual-stack listener (::ffff:a.b.c.d) by its IPv4 address', async () => {
    expect(clientAddress('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(clientAddress('::FFFF:10.1.2.3')).toBe('10.1.2.3');
    expect(clientAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(clientAddress('::ffff:abcd')).toBe('::ffff:abcd');
    expect(clientAddress(undefined)).toBeUndefined();
    p = await proxyWith({ max_connections_per_client: 2 }, '[::]:0');
    held.push(...(await openMany(p.port, 2, { localAddress: '127.0.0.2' })));
    expectClean503(await refusedAnswer(p.port, '127.0.0.2'), /from this address/);
    const line = await waitFor(() => p!.logs.find((l) => l.event === 'connections_refused'), { what: 'the refusal log line' });
    expect(line).toMatchObject({ reason: 'max_connections_per_client', top: '127.0.0.2' });
  });
});

/**
 * Request limits: header count (server.max_headers → 431, never silently cut), header size
 * (server.max_header_size → 431), headers trickled byte by byte (slowloris, bounded by
 * server.headers_timeout) and a body trickled byte by byte (bounded by server.request_timeout).
 * Idle connections and connection caps are another suite's business.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-client.js';
import { waitFor } from '../helpers/poll.js';
import { HOST, startHostileProxy, type HostileSetup } from '../helpers/hostile-proxy.js';

const HEADERS_TIMEOUT = 600;
const REQUEST_TIMEOUT = 1500;
let h: HostileSetup;
/** Defaults but for a large max_header_size, so that only the header count limits. */
let roomy: HostileSetup;
/** A limit above what Node keeps by default (1,000 pairs). */
let large: HostileSetup;

beforeAll(async () => {
  [h, roomy, large] = await Promise.all([
    startHostileProxy({ max_headers: 20, max_header_size: 4096, headers_timeout: `${HEADERS_TIMEOUT}ms`, request_timeout: `${REQUEST_TIMEOUT}ms` }),
    startHostileProxy({ max_header_size: 262_144 }),
    startHostileProxy({ max_header_size: 262_144, max_headers: 1500 }),
  ]);
});
afterAll(async () => {
  await h?.stop();
  await roomy?.stop();
  await large?.stop();
});
beforeEach(() => {
  h.up.mark();
  roomy.up.mark();
  large.up.mark();
});

/** A GET with Host and `n - 1` other header fields. */
function withHeaders(n: number, path = '/n'): string {
  let lines = '';
  for (let i = 1; i < n; i++) lines += `X-H${i}: v\r\n`;
  return `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n${lines}\r\n`;
}

describe('header count (server.max_headers)', () => {
  it('exactly max_headers fields: proxied with every one of them', async () => {
    const r = await rawExchange(h.p.port, withHeaders(20));
    expect(r.responses[0]?.status).toBe(200);
    expect(h.up.requests).toHaveLength(1);
    expect(Object.keys(h.up.requests[0]!.headers).filter((n) => n.startsWith('x-h'))).toHaveLength(19);
  });

  it('one field more → 431, connection closed, nothing upstream', async () => {
    const r = await rawExchange(h.p.port, withHeaders(21), { waitClose: true });
    expect(r.responses[0]).toMatchObject({ status: 431, headers: { 'x-drproxy-error': 'too_many_headers' } });
    expect(r.responses[0]!.body).toMatch(/more than 20 request header fields/);
    expect(r.closed).toBe(true);
    expect(h.up.bytes()).toBe('');
  });

  it('2,500 fields against the default limit (100) → 431, nothing upstream (Node alone would pass ~1,000 and drop the rest)', async () => {
    const r = await rawExchange(roomy.p.port, withHeaders(2500), { waitClose: true });
    expect(r.responses[0]?.status).toBe(431);
    expect(r.closed).toBe(true);
    expect(roomy.up.bytes()).toBe('');
  });

  it('101 fields against the default limit → 431; 100 pass', async () => {
    const over = await rawExchange(roomy.p.port, withHeaders(101), { waitClose: true });
    expect(over.responses[0]?.status).toBe(431);
    expect(roomy.up.bytes()).toBe('');
    const at = await rawExchange(roomy.p.port, withHeaders(100));
    expect(at.responses[0]?.status).toBe(200);
    expect(roomy.up.requests).toHaveLength(1);
  });

  it('a limit above Node\'s own default (1,000 pairs) holds both ways: 1,500 pass whole, 1,501 → 431', async () => {
    const at = await rawExchange(large.p.port, withHeaders(1500));
    expect(at.responses[0]?.status).toBe(200);
    expect(Object.keys(large.up.requests[0]!.headers).filter((n) => n.startsWith('x-h'))).toHaveLength(1499);
    large.up.mark();
    const over = await rawExchange(large.p.port, withHeaders(1501), { waitClose: true });
    expect(over.responses[0]?.status).toBe(431);
    expect(large.up.bytes()).toBe('');
  });

  it('a WebSocket upgrade over the limit → 431, nothing upstream', async () => {
    // 17 fields + 4 of the upgrade = 21: one over.
    const ws = withHeaders(17, '/ws').replace('\r\n\r\n', '\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    const r = await rawExchange(h.p.port, ws, { waitClose: true });
    expect(r.responses[0]).toMatchObject({ status: 431, headers: { 'x-drproxy-error': 'too_many_headers' } });
    expect(h.up.bytes()).toBe('');
  });
});

describe('header size (server.max_header_size)', () => {
  it('a request line over max_header_size → 431, nothing upstream', async () => {
    const r = await rawExchange(h.p.port, `GET /${'a'.repeat(5000)} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, { waitClose: true });
    expect(r.responses[0]?.status).toBe(431);
    expect(r.closed).toBe(true);
    expect(h.up.bytes()).toBe('');
  });

  it('headers over max_header_size → 431, nothing upstream', async () => {
    const r = await rawExchange(h.p.port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`, { waitClose: true });
    expect(r.responses[0]?.status).toBe(431);
    expect(r.closed).toBe(true);
    expect(h.up.bytes()).toBe('');
  });
});

describe('slow clients', () => {
  it('headers trickled a byte every 100 ms (slowloris) are cut at headers_timeout with 408, nothing upstream', async () => {
    const start = `GET /slow HTTP/1.1\r\nHost: ${HOST}\r\n`;
    const trickle = Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? 'X' : '-'));
    const r = await rawExchange(h.p.port, [start, ...trickle], { gapMs: 100, waitClose: true, timeout: 8000 });
    expect(r.closed).toBe(true);
    expect(r.responses[0]?.status).toBe(408);
    // Node checks every min(1 s, max(100 ms, headers_timeout / 4)): allow two checks and slack.
    expect(r.elapsedMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT - 50);
    expect(r.elapsedMs).toBeLessThan(HEADERS_TIMEOUT + 1500);
    expect(h.up.bytes()).toBe('');
  });

  it('a body trickled a byte every 100 ms is cut at request_timeout; the upstream never gets a complete request', async () => {
    const head = `POST /slowbody HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 100\r\n\r\n`;
    const r = await rawExchange(h.p.port, [head, ...Array<string>(100).fill('b')], { gapMs: 100, waitClose: true, timeout: 8000 });
    expect(r.closed).toBe(true);
    expect(r.elapsedMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT - 50);
    expect(r.elapsedMs).toBeLessThan(REQUEST_TIMEOUT + 1500);
    // Nothing was answered yet, so Node answers 408 itself.
    expect(r.responses[0]?.status).toBe(408);
    // The request streamed upstream as it came and was aborted there when the client was cut.
    await waitFor(() => h.up.requests.length === 1, { what: 'the upstream to see the request end' });
    expect(h.up.requests[0]).toMatchObject({ url: '/slowbody', complete: false });
    expect(h.up.requests[0]!.body.length).toBeLessThan(100);
  });
});

describe('Expect: 100-continue', () => {
  it('a refused request gets its final status, never 100 Continue, so its body is never sent', async () => {
    const text = `POST /expect HTTP/1.1\r\nHost: ${HOST}:abc\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`;
    const r = await rawExchange(h.p.port, text, { waitClose: true });
    expect(r.raw.startsWith('HTTP/1.1 400 ')).toBe(true);
    expect(r.raw).not.toContain('100 Continue');
    expect(h.up.bytes()).toBe('');
  });

  it('an accepted one gets 100 Continue, then its body is proxied', async () => {
    const head = `POST /expect HTTP/1.1\r\nHost: ${HOST}\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n`;
    const r = await rawExchange(h.p.port, [head, 'hello'], { gapMs: 50, responses: 2 });
    expect(r.responses.map((x) => x.status)).toEqual([100, 200]);
    expect(h.up.requests.map((q) => [q.url, q.body, q.headers.expect])).toEqual([['/expect', 'hello', undefined]]);
  });
});

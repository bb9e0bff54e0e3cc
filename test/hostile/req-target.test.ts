/**
 * Request targets and request lines a reverse proxy must not act on: absolute-form (never an
 * open proxy), CONNECT (never a tunnel), asterisk-form, other HTTP versions and the HTTP/2
 * preface on the HTTP/1 listener. Each gets an answer; nothing reaches the upstream.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-client.js';
import { HOST, expectAnsweredAlone, startHostileProxy, type HostileSetup } from '../helpers/hostile-proxy.js';

let h: HostileSetup;

beforeAll(async () => {
  h = await startHostileProxy();
});
afterAll(async () => h?.stop());
beforeEach(() => h.up.mark());

const expectAnswered = (text: string, status: number, code?: string): Promise<void> => expectAnsweredAlone(h, text, status, code);

describe('request targets', () => {
  it('absolute-form for a configured host → 400 (not proxied by its authority)', async () => {
    await expectAnswered(`GET http://${HOST}/x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 400, 'bad_request');
  });

  it('absolute-form naming another host → 400: never an open proxy', async () => {
    await expectAnswered(`GET http://127.0.0.1:${h.up.port}/x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 400, 'bad_request');
  });

  it('authority-form outside CONNECT → 400', async () => {
    await expectAnswered(`GET ${HOST}:80 HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 400);
  });

  it('asterisk-form (OPTIONS *) → 400', async () => {
    await expectAnswered(`OPTIONS * HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 400, 'bad_request');
  });

  it.each([
    ['a fragment', '/t#frag'],
    ['a fragment after a query', '/t?q=1#frag'],
    ['a fragment right after a routed prefix', '/api#/x'],
  ])('%s → 400, nothing upstream', async (_name, target) => {
    await expectAnswered(`GET ${target} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 400, 'bad_request');
  });

  it('a WebSocket upgrade with a fragment → 400', async () => {
    await expectAnswered(`GET /ws#x HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`, 400, 'bad_request');
  });

  it('CONNECT to the upstream → 501 with a body, never a tunnel', async () => {
    const target = `127.0.0.1:${h.up.port}`;
    const r = await rawExchange(h.p.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`, { waitClose: true });
    expect(r.responses).toHaveLength(1);
    expect(r.responses[0]).toMatchObject({ status: 501, headers: { 'x-drproxy-error': 'method_not_implemented' } });
    expect(r.responses[0]!.body).toMatch(/CONNECT is not supported/);
    expect(r.closed).toBe(true);
    expect(h.up.bytes()).toBe('');
  });

  it('CONNECT to a configured host → 501', async () => {
    await expectAnswered(`CONNECT ${HOST}:443 HTTP/1.1\r\nHost: ${HOST}:443\r\n\r\n`, 501, 'method_not_implemented');
  });
});

describe('request lines', () => {
  it('HTTP/2.0 in an HTTP/1 request line → 505', async () => {
    await expectAnswered(`GET / HTTP/2.0\r\nHost: ${HOST}\r\n\r\n`, 505, 'http_version_not_supported');
  });

  it('HTTP/0.9 (no version, no headers) → 505', async () => {
    await expectAnswered('GET /\r\n\r\n', 505, 'http_version_not_supported');
  });

  it('HTTP/1.2 → 400 from the parser', async () => {
    await expectAnswered(`GET / HTTP/1.2\r\nHost: ${HOST}\r\n\r\n`, 400);
  });

  it('the HTTP/2 connection preface → 400, connection closed', async () => {
    await expectAnswered('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400);
  });

  it('a lower-case method → 400', async () => {
    await expectAnswered(`get / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 400);
  });

  it('a space in the target → 400', async () => {
    await expectAnswered(`GET /a b HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 400);
  });

  it('HTTP/1.0 and HTTP/1.1 requests are proxied as themselves', async () => {
    const r = await rawExchange(h.p.port, `GET /v10 HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`, { waitClose: true });
    expect(r.responses[0]?.status).toBe(200);
    expect(h.up.requests.map((q) => q.url)).toEqual(['/v10']);
  });
});

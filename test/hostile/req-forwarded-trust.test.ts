/**
 * X-Forwarded-For/-Proto/-Host and Forwarded (RFC 7239) are believed only from
 * server.trusted_proxies: from those peers X-Forwarded-For and Forwarded are kept and appended
 * to with the peer's address and -Proto/-Host kept as sent (a TLS terminator's "https" reaches
 * the backend); from anyone else all four are replaced (Forwarded removed). Clients connect
 * from different loopback addresses to be trusted or not.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-client.js';
import type { SeenRequest } from '../helpers/capture-upstream.js';
import { HOST, startHostileProxy, type HostileSetup } from '../helpers/hostile-proxy.js';

let h: HostileSetup;

beforeAll(async () => {
  h = await startHostileProxy({ trusted_proxies: ['127.0.0.2', '127.0.0.8/30'] });
});
afterAll(async () => h?.stop());
beforeEach(() => h.up.mark());

const SPOOF = 'X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: public.example\r\nForwarded: for=203.0.113.9;proto=https\r\n';

async function from(localAddress: string, lines: string, n = 1): Promise<SeenRequest[]> {
  const one = `GET /f HTTP/1.1\r\nHost: ${HOST}\r\n${lines}\r\n`;
  const r = await rawExchange(h.p.port, one.repeat(n), { localAddress, responses: n });
  expect(r.responses.map((x) => x.status)).toEqual(Array(n).fill(200));
  expect(h.up.requests).toHaveLength(n);
  return h.up.requests;
}

function forwarding(q: SeenRequest): Record<string, string[] | undefined> {
  const h = q.headers;
  return { xff: h['x-forwarded-for'], proto: h['x-forwarded-proto'], host: h['x-forwarded-host'], forwarded: h.forwarded };
}

describe('from an untrusted peer', () => {
  it.each(['127.0.0.1', '127.0.0.3', '127.0.0.12'])('%s: every forwarding header is replaced', async (addr) => {
    const [q] = await from(addr, SPOOF);
    expect(forwarding(q!)).toEqual({ xff: [addr], proto: ['http'], host: [HOST], forwarded: undefined });
    expect(h.up.bytes()).not.toMatch(/203\.0\.113\.9|public\.example|https/);
  });

  it('repeated and oddly cased copies are replaced too', async () => {
    const [q] = await from('127.0.0.1', 'x-forwarded-for: 1.1.1.1\r\nX-FORWARDED-FOR: 2.2.2.2\r\nx-Forwarded-Proto: https\r\nFORWARDED: for=3.3.3.3\r\nforwarded: for=4.4.4.4\r\n');
    expect(forwarding(q!)).toEqual({ xff: ['127.0.0.1'], proto: ['http'], host: [HOST], forwarded: undefined });
  });

  it('without any: drproxy sets X-Forwarded-For/-Proto/-Host, no Forwarded', async () => {
    const [q] = await from('127.0.0.1', '');
    expect(forwarding(q!)).toEqual({ xff: ['127.0.0.1'], proto: ['http'], host: [HOST], forwarded: undefined });
  });
});

describe('from a trusted proxy', () => {
  it.each(['127.0.0.2', '127.0.0.9'])('%s: kept, and X-Forwarded-For / Forwarded appended with the peer', async (addr) => {
    const [q] = await from(addr, SPOOF);
    expect(forwarding(q!)).toEqual({
      xff: [`203.0.113.9, ${addr}`],
      proto: ['https'],
      host: ['public.example'],
      forwarded: [`for=203.0.113.9;proto=https, for=${addr}`],
    });
  });

  it('repeated X-Forwarded-For and Forwarded fields are joined in order, then appended to', async () => {
    const [q] = await from('127.0.0.2', 'X-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 2.2.2.2, 3.3.3.3\r\nForwarded: for=1.1.1.1\r\nforwarded: for=2.2.2.2\r\n');
    expect(q!.headers['x-forwarded-for']).toEqual(['1.1.1.1, 2.2.2.2, 3.3.3.3, 127.0.0.2']);
    expect(q!.headers.forwarded).toEqual(['for=1.1.1.1, for=2.2.2.2, for=127.0.0.2']);
  });

  it('without any: the same headers as for anyone', async () => {
    const [q] = await from('127.0.0.2', '');
    expect(forwarding(q!)).toEqual({ xff: ['127.0.0.2'], proto: ['http'], host: [HOST], forwarded: undefined });
  });

  it('every request of a keep-alive connection is trusted alike', async () => {
    const qs = await from('127.0.0.2', 'X-Forwarded-Proto: https\r\n', 3);
    expect(qs.map((q) => q.headers['x-forwarded-proto'])).toEqual([['https'], ['https'], ['https']]);
  });

  it('a WebSocket upgrade keeps its X-Forwarded-Proto too', async () => {
    const upgrade =
      `GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Forwarded-Proto: https\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n';
    const r = await rawExchange(h.p.port, upgrade, { localAddress: '127.0.0.2' });
    expect(r.responses[0]?.status).toBe(101);
    expect(forwarding(h.up.requests[0]!)).toMatchObject({ xff: ['203.0.113.9, 127.0.0.2'], proto: ['https'] });
  });
});

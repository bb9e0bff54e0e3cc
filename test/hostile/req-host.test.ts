/**
 * Host header variants (RFC 9112 §3.2, RFC 9110 §7.2): a request has exactly one Host whose
 * value is host[:port]; anything else is 400 and never reaches a backend; a valid host that no
 * tenant serves is 421. Asserts what the client got and what the upstream received.
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

const get = (hostLines: string, version = '1.1') => `GET /h HTTP/${version}\r\n${hostLines}Connection: close\r\n\r\n`;

const expectStatus = (text: string, status: number, code?: string): Promise<void> => expectAnsweredAlone(h, text, status, code);

describe('Host headers that are refused with 400, nothing upstream', () => {
  it('missing on HTTP/1.1 (Node)', async () => {
    await expectStatus(get(''), 400);
  });

  it.each([
    ['sent twice, same value', `Host: ${HOST}\r\nHost: ${HOST}\r\n`],
    ['sent twice, a configured host then another', `Host: ${HOST}\r\nHost: evil.example\r\n`],
    ['sent twice, another host then a configured one', `Host: evil.example\r\nHost: ${HOST}\r\n`],
    ['sent twice in different case', `Host: ${HOST}\r\nhOST: ${HOST}\r\n`],
    ['a list in one field', `Host: ${HOST}, evil.example\r\n`],
    ['empty', 'Host:\r\n'],
    ['a non-numeric port', `Host: ${HOST}:abc\r\n`],
    ['a port out of range', `Host: ${HOST}:65536\r\n`],
    ['a port with six digits', `Host: ${HOST}:000080\r\n`],
    ['a negative port', `Host: ${HOST}:-1\r\n`],
    ['two ports', `Host: ${HOST}:80:80\r\n`],
    ['userinfo', `Host: user@${HOST}\r\n`],
    ['userinfo with a password', `Host: user:pw@${HOST}\r\n`],
    ['a configured host as userinfo of another', `Host: ${HOST}@evil.example\r\n`],
    ['a path', `Host: ${HOST}/x\r\n`],
    ['a backslash', `Host: ${HOST}\\x\r\n`],
    ['percent-encoding', 'Host: t%2Eexample.com\r\n'],
    ['a space inside', `Host: ${HOST} x\r\n`],
    ['a tab inside', `Host: ${HOST}\tx\r\n`],
    ['an empty label', 'Host: t..example.com\r\n'],
    ['a leading dot (would match a wildcard)', 'Host: .wild.example.com\r\n'],
    ['an unbracketed IPv6 address', 'Host: ::1\r\n'],
    ['an unclosed IPv6 literal', 'Host: [::1\r\n'],
    ['an IPv6 literal that is not an address', 'Host: [zz::1]\r\n'],
    ['an IPv6 literal with junk after it', 'Host: [::1]x\r\n'],
    ['an IPvFuture literal', 'Host: [v1.x]\r\n'],
  ])('%s', async (_name, lines) => {
    await expectStatus(get(lines), 400, 'bad_host');
  });
});

describe('valid Host headers', () => {
  it('missing on HTTP/1.0 → 421, nothing upstream', async () => {
    await expectStatus(get('', '1.0'), 421, 'unknown_host');
  });

  it.each([
    ['an IPv6 literal', 'Host: [::1]\r\n'],
    ['an IPv6 literal with a port', 'Host: [::1]:8080\r\n'],
    ['an IPv4 address', 'Host: 127.0.0.1\r\n'],
    ['an unknown name', 'Host: evil.example\r\n'],
  ])('%s no tenant serves → 421, nothing upstream', async (_name, lines) => {
    await expectStatus(get(lines), 421, 'unknown_host');
  });

  it.each([
    ['the configured name', HOST],
    ['with a port', `${HOST}:8080`],
    ['with an empty port (RFC 3986 allows it)', `${HOST}:`],
    ['in upper case', HOST.toUpperCase()],
    ['with a trailing dot', `${HOST}.`],
    ['under a wildcard', 'a-b_c.wild.example.com'],
  ])('%s → proxied with exactly that Host', async (_name, host) => {
    const r = await rawExchange(h.p.port, get(`Host: ${host}\r\n`), { waitClose: true });
    expect(r.responses[0]?.status).toBe(200);
    expect(h.up.requests).toHaveLength(1);
    expect(h.up.requests[0]!.headers.host).toEqual([host]);
  });
});

/** The PROXY protocol parser (src/proxy/proxy-protocol.ts) on v1 and v2 vectors, whole and byte by byte. */
import { describe, expect, it } from 'vitest';
import { parseProxyHeader, MAX_V2_LENGTH } from '../src/proxy/proxy-protocol.js';
import { SIG, v2, inet, inet6 } from './helpers/proxy-header.js';

const ipv6 = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** Every proper prefix says 'more'; the whole says what it says. */
function whole(buf: Buffer) {
  for (let i = 0; i < buf.length; i++) {
    const r = parseProxyHeader(buf.subarray(0, i));
    if (r.kind !== 'more') return r;
  }
  return parseProxyHeader(buf);
}

describe('PROXY protocol v1', () => {
  it('reads TCP4, TCP6 and UNKNOWN, byte by byte, and says where the header ends', () => {
    const text = 'PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n';
    expect(whole(Buffer.from(text))).toEqual({ kind: 'header', length: 41, client: { address: '192.0.2.7', port: 56324, family: 'IPv4' } });
    expect(whole(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n'))).toMatchObject({ kind: 'header', client: { address: '2001:db8::7', port: 65535, family: 'IPv6' } });
    expect(whole(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ kind: 'header', length: 15, client: undefined });
    expect(whole(Buffer.from('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'))).toMatchObject({ kind: 'header', client: undefined });
  });

  it.each([
    ['PROXY TCP4 192.0.2.7  10.0.0.1 1 2\r\n', 'double space'],
    ['PROXY TCP4 192.0.2.7 10.0.0.1 1 2 \r\n', 'trailing space'],
    ['PROXY TCP4 192.0.2.7 10.0.0.1 1\r\n', 'missing port'],
    ['PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n', 'IPv6 in TCP4'],
    ['PROXY TCP6 192.0.2.7 2001:db8::1 1 2\r\n', 'IPv4 in TCP6'],
    ['PROXY TCP4 192.0.2.256 10.0.0.1 1 2\r\n', 'octet over 255'],
    ['PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n', 'port over 65535'],
    ['PROXY TCP4 192.0.2.7 10.0.0.1 080 2\r\n', 'leading zero'],
    ['PROXY TCP4 192.0.2.7 10.0.0.1 -1 2\r\n', 'negative port'],
    ['PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n', 'UDP'],
    ['proxy TCP4 192.0.2.7 10.0.0.1 1 2\r\n', 'lower case'],
    ['GET / HTTP/1.1\r\n\r\n', 'no header at all'],
  ])('refuses %j (%s)', (text) => {
    expect(whole(Buffer.from(text)).kind).toBe('invalid');
  });

  it('refuses a line longer than 107 bytes without waiting for its end', () => {
    const long = Buffer.from(`PROXY TCP4 ${'1'.repeat(200)}`);
    expect(parseProxyHeader(long.subarray(0, 106)).kind).toBe('more');
    expect(parseProxyHeader(long.subarray(0, 107)).kind).toBe('invalid');
    expect(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(100)}\r\n`)).kind).toBe('invalid');
  });
});

describe('PROXY protocol v2', () => {
  it('reads PROXY over AF_INET and AF_INET6, byte by byte', () => {
    const h4 = v2(0x21, 0x11, inet([203, 0, 113, 9], [10, 0, 0, 1], 40000, 443));
    expect(whole(Buffer.concat([h4, Buffer.from('GET /')]))).toEqual({ kind: 'header', length: 28, client: { address: '203.0.113.9', port: 40000, family: 'IPv4' } });
    const h6 = v2(0x21, 0x21, inet6(ipv6('20010db8000000000000000000000007'), ipv6('20010db8000000000000000000000001'), 1, 2));
    expect(whole(h6)).toEqual({ kind: 'header', length: 52, client: { address: '2001:db8::7', port: 1, family: 'IPv6' } });
    const mapped = v2(0x21, 0x21, inet6(ipv6('00000000000000000000ffffc0000207'), ipv6('00000000000000000000ffff0a000001'), 1, 2));
    expect(whole(mapped)).toMatchObject({ client: { address: '::ffff:192.0.2.7' } });
    const full = v2(0x21, 0x21, inet6(ipv6('20010db8000100020003000400050006'), ipv6('00000000000000000000000000000001'), 1, 2));
    expect(whole(full)).toMatchObject({ client: { address: '2001:db8:1:2:3:4:5:6' } });
  });

  it('skips TLVs after the addresses', () => {
    const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32, 0x04, 0x00, 0x00]); // ALPN "h2", NOOP
    const h = v2(0x21, 0x11, Buffer.concat([inet([198, 51, 100, 1], [10, 0, 0, 1], 5, 6), tlv]));
    expect(whole(h)).toEqual({ kind: 'header', length: 16 + 12 + tlv.length, client: { address: '198.51.100.1', port: 5, family: 'IPv4' } });
  });

  it('reads LOCAL (with or without addresses) and AF_UNSPEC as no client', () => {
    expect(whole(v2(0x20, 0x00, Buffer.alloc(0)))).toEqual({ kind: 'header', length: 16, client: undefined });
    expect(whole(v2(0x20, 0x11, inet([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)))).toEqual({ kind: 'header', length: 28, client: undefined });
    expect(whole(v2(0x21, 0x00, Buffer.alloc(0)))).toEqual({ kind: 'header', length: 16, client: undefined });
  });

  it.each([
    [v2(0x11, 0x11, inet([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'version 1 in the binary form'],
    [v2(0x22, 0x11, inet([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'command 2'],
    [v2(0x21, 0x11, Buffer.alloc(8)), 'AF_INET payload too short'],
    [v2(0x21, 0x21, Buffer.alloc(12)), 'AF_INET6 payload too short'],
    [v2(0x21, 0x41, Buffer.alloc(12)), 'unknown family'],
    [v2(0x21, 0x13, inet([1, 2, 3, 4], [5, 6, 7, 8], 1, 2)), 'unknown transport'],
    [Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), Buffer.alloc(8)]), 'bad signature'],
  ])('refuses %#: %s', (buf) => {
    expect(whole(buf).kind).toBe('invalid');
  });

  it('refuses an announced length over the bound at once, without waiting for the bytes', () => {
    const head = Buffer.concat([SIG, Buffer.from([0x21, 0x11, (MAX_V2_LENGTH + 1) >> 8, (MAX_V2_LENGTH + 1) & 0xff])]);
    expect(parseProxyHeader(head)).toMatchObject({ kind: 'invalid' });
    const ok = Buffer.concat([SIG, Buffer.from([0x21, 0x11, MAX_V2_LENGTH >> 8, MAX_V2_LENGTH & 0xff])]);
    expect(parseProxyHeader(ok).kind).toBe('more');
  });

  it('waits on a truncated header', () => {
    const h = v2(0x21, 0x11, inet([1, 2, 3, 4], [5, 6, 7, 8], 1, 2));
    expect(parseProxyHeader(h.subarray(0, 27)).kind).toBe('more');
    expect(parseProxyHeader(SIG.subarray(0, 5)).kind).toBe('more');
  });
});

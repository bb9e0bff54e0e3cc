/**
 * HTTP/2 stream limits against a client that ignores SETTINGS (raw frames, no client library):
 * - server.http2.max_concurrent_streams is enforced, not only advertised: three streams opened
 *   at once against a limit of 2 get the third refused (RST_STREAM REFUSED_STREAM, RFC 9113
 *   §5.1.2), the upstream sees two requests, and the session goes on: both are answered.
 * - server.max_header_size bounds a stream's header list: from a client that acknowledged the
 *   SETTINGS, a larger one is reset by nghttp2 before any request exists; from one that never
 *   acknowledges them (nghttp2 then applies its default), drproxy answers 431 headers_too_large.
 *   Nothing reaches the upstream and the session goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startProxy, sitesHealthy, type TestProxy } from '../helpers/proxy.js';
import { waitFor } from '../helpers/poll.js';
import { frame } from '../helpers/h2-resets.js';

let up: http.Server;
let p: TestProxy;
let port: number;
let waiting: http.ServerResponse[] = [];
let seen = 0;

beforeAll(async () => {
  up = http.createServer((req, res) => {
    if (req.url !== '/held') return void res.end('ok'); // health checks
    seen++;
    waiting.push(res);
  });
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', h2c: true }],
    server: { http2: { max_concurrent_streams: 2 }, max_header_size: 4096 },
    defaults: { health_check: { interval: '30s', timeout: '1s' } },
    tenants: { t: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'east', backends: [`http://127.0.0.1:${(up.address() as AddressInfo).port}`] }] } },
  });
  await sitesHealthy(p, 't');
  port = p.ports[0]!;
});
afterAll(async () => {
  for (const res of waiting) res.end();
  await p?.stop();
  up.closeAllConnections();
  await new Promise((resolve) => up.close(resolve));
});

/** Frames a server sent: type, stream, payload. */
function frames(buf: Buffer): Array<{ type: number; stream: number; flags: number; payload: Buffer }> {
  const out = [];
  for (let at = 0; at + 9 <= buf.length; ) {
    const len = buf.readUIntBE(at, 3);
    if (at + 9 + len > buf.length) break;
    out.push({ type: buf[at + 3]!, flags: buf[at + 4]!, stream: buf.readUInt32BE(at + 5) & 0x7fffffff, payload: buf.subarray(at + 9, at + 9 + len) });
    at += 9 + len;
  }
  return out;
}

const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(0x4, 0, 0, Buffer.alloc(0))]);

/** HPACK integer with an n-bit prefix (RFC 7541 §5.1), first byte OR-ed with `mask`. */
function hpackInt(value: number, bits: number, mask: number): Buffer {
  const max = (1 << bits) - 1;
  if (value < max) return Buffer.from([mask | value]);
  const out = [mask | max];
  for (value -= max; value >= 128; value >>= 7) out.push((value & 0x7f) | 0x80);
  out.push(value);
  return Buffer.from(out);
}

/** A literal field without indexing, with an indexed name (RFC 7541 §6.2.2). */
function literal(nameIndex: number, value: string): Buffer {
  return Buffer.concat([hpackInt(nameIndex, 4, 0), hpackInt(value.length, 7, 0), Buffer.from(value, 'latin1')]);
}

/** GET http://a.example.com<path>, plus extra fields. */
function getBlock(path: string, ...extra: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0x82, 0x86]), literal(4, path), literal(1, 'a.example.com'), ...extra]);
}

describe('HTTP/2 stream limits', () => {
  it('refuses a stream over the limit; the others are served', async () => {
    // END_STREAM|END_HEADERS on each.
    const block = getBlock('/held');
    const bytes = Buffer.concat([
      PREFACE,
      frame(0x1, 0x5, 1, block),
      frame(0x1, 0x5, 3, block),
      frame(0x1, 0x5, 5, block),
    ]);
    const sock = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    sock.write(bytes);
    const reset = await waitFor(() => frames(received).find((f) => f.type === 0x3), { what: 'an RST_STREAM' });
    expect(reset.stream).toBe(5);
    expect(reset.payload.readUInt32BE(0)).toBe(http2.constants.NGHTTP2_REFUSED_STREAM);
    await waitFor(() => seen === 2, { what: 'two requests at the upstream' });
    // Answer them: both streams get their 200 on the same session.
    for (const res of waiting.splice(0)) res.end('held done');
    await waitFor(() => frames(received).filter((f) => f.type === 0x1 && (f.stream === 1 || f.stream === 3)).length === 2, { what: 'two HEADERS answers' });
    expect(seen).toBe(2);
    sock.destroy();
  });

  it('resets a stream whose header list is over max_header_size; the session goes on', async () => {
    // user-agent (static index 58) with a 10,000-byte value: over 4096, within one frame.
    const big = getBlock('/big', literal(58, 'x'.repeat(10_000)));
    const sock = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
    const before = seen;
    sock.write(Buffer.concat([PREFACE, frame(0x4, 0x1, 0, Buffer.alloc(0)), frame(0x1, 0x5, 1, big), frame(0x1, 0x5, 3, getBlock('/small'))]));
    const reset = await waitFor(() => frames(received).find((f) => f.type === 0x3 && f.stream === 1), { what: 'RST_STREAM on stream 1' });
    expect([http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, http2.constants.NGHTTP2_REFUSED_STREAM, http2.constants.NGHTTP2_PROTOCOL_ERROR]).toContain(reset.payload.readUInt32BE(0));
    await waitFor(() => frames(received).find((f) => f.type === 0x1 && f.stream === 3), { what: 'the answer on stream 3' });
    expect(frames(received).some((f) => f.type === 0x7)).toBe(false); // no GOAWAY: the session goes on
    expect(seen).toBe(before); // /big never reached the upstream (/small is answered by it, not counted)
    sock.destroy();
  });

  it('answers 431 to a header list over max_header_size from a client that never acknowledges SETTINGS', async () => {
    {
      const big = getBlock('/big-noack', literal(58, 'x'.repeat(10_000)));
      const sock = net.connect(port, '127.0.0.1');
      let received = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
      const before = seen;
      sock.write(Buffer.concat([PREFACE, frame(0x1, 0x5, 1, big)]));
      const body = await waitFor(() => frames(received).find((f) => f.type === 0x0 && f.stream === 1), { what: 'the answer body on stream 1' });
      expect(body.payload.toString('latin1')).toContain('server.max_header_size');
      expect(frames(received).some((f) => f.type === 0x7)).toBe(false);
      expect(seen).toBe(before);
      sock.destroy();
    }
  });
});

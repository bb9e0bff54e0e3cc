/**
 * Issue 16 item 8: answers that have no body whatever their headers say (RFC 9112 §6.3: any
 * 204 or 304, and any answer to HEAD) reach the client whole, Content-Length and all, and the
 * client connection stays usable. A 304's Content-Length is kept (RFC 9110 §8.6: the size of
 * the selected representation); a 204's is dropped (a server MUST NOT send one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokenUpstream, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';
import type { RawExchange } from '../helpers/raw-framing-client.js';

let b: BrokenUpstreamSetup;

beforeAll(async () => {
  b = await startBrokenUpstream();
});

afterAll(async () => {
  await b?.stop();
});

function headerNames(r: RawExchange): string[] {
  return r.final!.headers.map(([k]) => k.toLowerCase());
}

describe('bodiless answers with a length', () => {
  it('a 304 with a Content-Length reaches the client with it, and no body', async () => {
    b.script('/304', 'HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\netag: "v1"\r\n\r\n');
    const r = await b.ask('/304', { headers: ['if-none-match: "v1"'] });
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 304 Not Modified']);
    expect(r.header('content-length')).toBe('5');
    expect(r.header('etag')).toBe('"v1"');
    expect(r.final!.body.length).toBe(0);
    expect(r.ended).toBe('open');
    expect(b.received('/304')[0]!.head).toMatch(/\r\nif-none-match: "v1"/);
    await b.stillServing();
  });

  it('a 204 with a Content-Length reaches the client without it, and no body', async () => {
    b.script('/204', 'HTTP/1.1 204 No Content\r\ncontent-length: 5\r\nx-a: 1\r\n\r\n');
    const r = await b.ask('/204', { method: 'DELETE' });
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 204 No Content']);
    expect(r.header('x-a')).toBe('1');
    expect(headerNames(r)).not.toContain('content-length');
    expect(headerNames(r)).not.toContain('transfer-encoding');
    expect(r.final!.body.length).toBe(0);
    expect(r.ended).toBe('open');
    await b.stillServing();
  });

  it('bytes after a 304 with a Content-Length are not taken for its body', async () => {
    b.script('/304-then-bytes', 'HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\nhello');
    const r = await b.ask('/304-then-bytes');
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 304 Not Modified']);
    expect(r.raw).not.toContain('hello');
    expect(r.ended).toBe('open');
    await b.stillServing();
  });

  it('a 204 or 304 with Transfer-Encoding: chunked and no body', async () => {
    for (const status of ['204 No Content', '304 Not Modified']) {
      b.script('/te', `HTTP/1.1 ${status}\r\ntransfer-encoding: chunked\r\n\r\n`);
      const r = await b.ask('/te');
      expect(r.messages.map((m) => m.statusLine), r.raw).toEqual([`HTTP/1.1 ${status}`]);
      expect(headerNames(r)).not.toContain('transfer-encoding');
      expect(r.ended).toBe('open');
    }
  });

  it('a HEAD answer keeps its Content-Length (or its chunked coding) and sends no body', async () => {
    b.script('/head', 'HTTP/1.1 200 OK\r\ncontent-length: 1234\r\ncontent-type: text/plain\r\n\r\n');
    const r = await b.ask('/head', { method: 'HEAD' });
    expect(r.messages.map((m) => m.statusLine), r.raw).toEqual(['HTTP/1.1 200 OK']);
    expect(r.header('content-length')).toBe('1234');
    expect(r.raw.endsWith('\r\n\r\n')).toBe(true);
    expect(r.ended).toBe('open');
    expect(b.received('/head')[0]!.method).toBe('HEAD');

    // A HEAD answer followed by a body (a server bug, or a second answer smuggled in it).
    b.script('/head-body', `HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled`);
    const rb = await b.ask('/head-body', { method: 'HEAD' });
    expect(rb.messages.map((m) => m.statusLine), rb.raw).toEqual(['HTTP/1.1 200 OK']);
    expect(rb.raw).not.toContain('hello');
    expect(rb.raw).not.toContain('smuggled');
    expect(rb.ended).toBe('open');
    await b.stillServing();

    b.script('/head-304', 'HTTP/1.1 304 Not Modified\r\ncontent-length: 1234\r\n\r\n');
    const r304 = await b.ask('/head-304', { method: 'HEAD' });
    expect(r304.messages.map((m) => m.statusLine), r304.raw).toEqual(['HTTP/1.1 304 Not Modified']);
    expect(r304.header('content-length')).toBe('1234');
    expect(r304.ended).toBe('open');
    await b.stillServing();
  });
});

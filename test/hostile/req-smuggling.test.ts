/**
 * Request smuggling shapes, sent as raw bytes: every ambiguous framing is refused before any
 * complete request reaches the upstream, and the accepted spellings of chunked reach it as one
 * cleanly re-framed request. Asserts what the client got and what the upstream received.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-client.js';
import { HOST, startHostileProxy, type HostileSetup } from '../helpers/hostile-proxy.js';

let h: HostileSetup;

beforeAll(async () => {
  h = await startHostileProxy();
});
afterAll(async () => h?.stop());
beforeEach(() => h.up.mark());

const head = (lines: string, version = '1.1') => `POST /s HTTP/${version}\r\nHost: ${HOST}\r\n${lines}\r\n`;
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: t.example.com\r\n\r\n';

/** The client got `status`, its connection was closed, and the upstream saw no complete request. */
async function expectRefused(text: string, statuses: number[]): Promise<void> {
  const r = await rawExchange(h.p.port, text, { waitClose: true });
  expect(statuses).toContain(r.responses[0]?.status);
  expect(r.closed).toBe(true);
  expect(r.responses).toHaveLength(1);
  expect(h.up.requests.filter((q) => q.complete)).toEqual([]);
  expect(h.up.bytes()).not.toContain('/smuggled');
}

describe('ambiguous message framing is refused', () => {
  it.each([
    ['Content-Length with Transfer-Encoding', head('Content-Length: 4\r\nTransfer-Encoding: chunked\r\n') + `0\r\n\r\n${SMUGGLED}`],
    ['Transfer-Encoding with Content-Length', head('Transfer-Encoding: chunked\r\nContent-Length: 4\r\n') + `0\r\n\r\n${SMUGGLED}`],
    ['two equal Content-Lengths', head('Content-Length: 3\r\nContent-Length: 3\r\n') + `abc${SMUGGLED}`],
    ['two different Content-Lengths', head('Content-Length: 3\r\nContent-Length: 50\r\n') + `abc${SMUGGLED}`],
    ['a Content-Length list', head('Content-Length: 3, 3\r\n') + `abc${SMUGGLED}`],
    ['a signed Content-Length', head('Content-Length: +3\r\n') + `abc${SMUGGLED}`],
    ['Transfer-Encoding: xchunked', head('Transfer-Encoding: xchunked\r\n') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, [400, 501]],
    ['Transfer-Encoding: chunked, identity', head('Transfer-Encoding: chunked, identity\r\n') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, [400, 501]],
    ['Transfer-Encoding: chunked twice', head('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
    ['Transfer-Encoding: chunked then x', head('Transfer-Encoding: chunked\r\nTransfer-encoding: x\r\n') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, [400, 501]],
    ['Transfer-Encoding: identity', head('Transfer-Encoding: identity\r\n') + `abc${SMUGGLED}`, [400, 501]],
    ['Transfer-Encoding: chunked;ext', head('Transfer-Encoding: chunked;x=1\r\n') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, [400, 501]],
    ['a space before the colon', head('Transfer-Encoding : chunked\r\nContent-Length: 3\r\n') + `abc${SMUGGLED}`],
    ['obs-fold (header line continued with a space)', head('X-A: one\r\n Transfer-Encoding: chunked\r\nContent-Length: 3\r\n') + 'abc'],
    ['obs-fold (continued with a tab)', head('X-A: one\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 3\r\n') + 'abc'],
    // llhttp takes only a space as whitespace after "chunked" while Node hands the value over
    // trimmed ("chunked"): the request is routed, then the parser refuses its body.
    ['Transfer-Encoding: chunked + tab', head('Transfer-Encoding: chunked\t\r\n') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
    ['Transfer-Encoding: chunked + space + tab', head('Transfer-Encoding: chunked \t\r\n') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`],
    ['a bare LF between headers', `POST /s HTTP/1.1\r\nHost: ${HOST}\nContent-Length: 3\r\n\r\nabc`],
    ['bare LFs only', `POST /s HTTP/1.1\nHost: ${HOST}\nContent-Length: 3\n\nabc`],
    ['a bare CR', `POST /s HTTP/1.1\r\nHost: ${HOST}\rContent-Length: 3\r\n\r\nabc`],
    ['a NUL in a header value', head('X-A: a\0b\r\nContent-Length: 3\r\n') + 'abc'],
  ])('%s → 400 (or 501 where drproxy sees the coding first), no complete request upstream', async (_name, text, statuses = [400]) => {
    await expectRefused(text, statuses);
  });

  it.each([
    ['Transfer-Encoding: gzip, chunked', head('Transfer-Encoding: gzip, chunked\r\n') + '3\r\nabc\r\n0\r\n\r\n'],
    ['Transfer-Encoding: gzip and chunked on two lines', head('Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n') + '3\r\nabc\r\n0\r\n\r\n'],
    ['Transfer-Encoding: , chunked', head('Transfer-Encoding: , chunked\r\n') + '3\r\nabc\r\n0\r\n\r\n'],
  ])('%s → 501 from drproxy (never re-framed), nothing upstream', async (_name, text) => {
    const r = await rawExchange(h.p.port, text, { waitClose: true });
    expect(r.responses[0]).toMatchObject({ status: 501, headers: { 'x-drproxy-error': 'unsupported_transfer_coding', connection: 'close' } });
    expect(r.closed).toBe(true);
    expect(h.up.requests).toEqual([]);
    expect(h.up.bytes()).toBe('');
  });

  it('an empty Transfer-Encoding → 400 (Node 26 parser) or 501 (drproxy on Node 20), nothing upstream', async () => {
    const r = await rawExchange(h.p.port, head('Transfer-Encoding: \r\n') + '3\r\nabc\r\n0\r\n\r\n', { waitClose: true });
    expect([400, 501]).toContain(r.responses[0]?.status);
    expect(r.closed).toBe(true);
    expect(h.up.bytes()).toBe('');
  });

  it('Transfer-Encoding on an HTTP/1.0 request → 400, nothing upstream', async () => {
    const r = await rawExchange(h.p.port, head('Transfer-Encoding: chunked\r\n', '1.0') + `3\r\nabc\r\n0\r\n\r\n${SMUGGLED}`, { waitClose: true });
    expect(r.responses[0]).toMatchObject({ status: 400, headers: { 'x-drproxy-error': 'bad_request' } });
    expect(r.responses[0]!.body).toMatch(/HTTP\/1\.0/);
    expect(r.closed).toBe(true);
    expect(h.up.requests).toEqual([]);
    expect(h.up.bytes()).toBe('');
  });
});

describe('bad chunked bodies', () => {
  it.each([
    ['a negative chunk size', '-1\r\nabc\r\n0\r\n\r\n'],
    ['a 0x-prefixed chunk size', '0x3\r\nabc\r\n0\r\n\r\n'],
    ['an overflowing chunk size', 'fffffffffffffffff3\r\nabc\r\n0\r\n\r\n'],
    ['a space after the chunk size', '3 \r\nabc\r\n0\r\n\r\n'],
    ['chunk data longer than its size', '3\r\nabcX\r\n0\r\n\r\n'],
    ['bare LFs in the chunk framing', '3\nabc\n0\n\n'],
  ])('%s → 400 and the upstream never gets a complete request', async (_name, body) => {
    await expectRefused(head('Transfer-Encoding: chunked\r\n') + body + SMUGGLED, [400]);
  });
});

describe('accepted framings reach the upstream as exactly one clean request', () => {
  it.each([
    ['chunked', 'Transfer-Encoding: chunked'],
    ['chunked with trailing spaces', 'Transfer-Encoding: chunked  '],
    ['chunked after a tab', 'Transfer-Encoding:\tchunked'],
    ['Chunked in another case', 'Transfer-Encoding: ChUnKeD'],
  ])('%s', async (_name, te) => {
    const r = await rawExchange(h.p.port, head(`${te}\r\n`) + '3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-DR-Epoch: 99\r\n\r\n');
    expect(r.responses[0]?.status).toBe(200);
    expect(h.up.requests).toHaveLength(1);
    const q = h.up.requests[0]!;
    expect(q).toMatchObject({ method: 'POST', url: '/s', body: 'abcde', complete: true });
    // One framing header, drproxy's own; the trailer's epoch never became a header.
    expect(q.headers['transfer-encoding'] ?? q.headers['content-length']).toHaveLength(1);
    expect(q.headers['x-dr-epoch']).toEqual(['1']);
    expect(h.up.bytes()).not.toContain('99');
  });

  it('a request hidden in a Content-Length body stays body', async () => {
    const body = `x${SMUGGLED}`;
    const r = await rawExchange(h.p.port, head(`Content-Length: ${body.length}\r\n`) + body);
    expect(r.responses[0]?.status).toBe(200);
    expect(h.up.requests).toHaveLength(1);
    expect(h.up.requests[0]).toMatchObject({ url: '/s', body, complete: true });
  });

  it('a pipelined second request is a second request, each framed on its own', async () => {
    const r = await rawExchange(h.p.port, head('Content-Length: 3\r\n') + `abc${SMUGGLED}`, { responses: 2 });
    expect(r.responses.map((x) => x.status)).toEqual([200, 200]);
    expect(h.up.requests.map((q) => [q.url, q.body])).toEqual([['/s', 'abc'], ['/smuggled', '']]);
  });
});

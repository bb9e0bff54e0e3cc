/**
 * Broken upstream: answers whose status line is not HTTP/1.x with a status of 100-599. Each
 * becomes drproxy's own 502 (`upstream_invalid_response`) before any byte reaches the client,
 * is not retried (resending does not fix a broken server), and drproxy keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokenUpstream, expectOwnError, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';

let b: BrokenUpstreamSetup;

beforeAll(async () => {
  b = await startBrokenUpstream();
});

afterAll(async () => {
  await b?.stop();
});

const BODY = 'content-length: 2\r\n\r\nhi';

const CASES: Array<[name: string, answer: string, reason: string]> = [
  ['non-numeric status', `HTTP/1.1 abc OK\r\n${BODY}`, 'malformed HTTP (Invalid status code'],
  ['two-digit status', `HTTP/1.1 99 Odd\r\n${BODY}`, 'malformed HTTP (Invalid status code'],
  ['status 600', `HTTP/1.1 600 Odd\r\n${BODY}`, 'it sent an invalid status code (600)'],
  ['status 999', `HTTP/1.1 999 Odd\r\n${BODY}`, 'it sent an invalid status code (999)'],
  ['status 000', `HTTP/1.1 000 Odd\r\n${BODY}`, 'it sent an invalid status code (0)'],
  ['status 099', `HTTP/1.1 099 Odd\r\n${BODY}`, 'it sent an invalid status code (99)'],
  ['unknown version', `HTTP/1.2 200 OK\r\n${BODY}`, 'malformed HTTP (Invalid HTTP version'],
  ['garbage', 'xyz\r\n\r\n', 'malformed HTTP ('],
  ['binary garbage', '\x00\x01\x02\xff\r\n\r\n', 'malformed HTTP ('],
  ['HTTP/0.9 style: a body and no status line', '<html>hello</html>\r\n', 'malformed HTTP ('],
  ['control character in the reason phrase', `HTTP/1.1 200 O\x01K\r\n${BODY}`, 'it sent a header that cannot be forwarded (ERR_INVALID_CHAR)'],
  ['a lone LF after the status line', `HTTP/1.1 200 OK\n${BODY}`, 'malformed HTTP ('],
];

describe('bad status lines', () => {
  for (const [name, answer, reason] of CASES) {
    it(`${name}: 502 before any byte, not retried`, async () => {
      const path = `/status-${CASES.findIndex((c) => c[0] === name)}`;
      b.script(path, answer);
      const r = await b.ask(path);
      expectOwnError(r, '502 Bad Gateway', 'upstream_invalid_response');
      expect(r.final!.body.toString()).toContain(`502 Bad Gateway: site s1 sent an invalid response: ${reason}`);
      expect(r.raw).not.toContain('hi');
      expect(b.received(path)).toHaveLength(1);
      expect(b.received(path)[0]!.head).toMatch(new RegExp(`^GET ${path} HTTP/1.1\r\n`));
      await b.stillServing();
    });
  }

  it('is logged: one warning per backend, then at most one per 10 s with a count of the rest', () => {
    const lines = b.p.logs.filter((l) => l.fault === 'invalid_response');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', tenant: 't', site: 's1', msg: expect.stringMatching(/^backend sent an invalid response: /) });
  });

  it('HTTP/1.0 status line: forwarded (a valid answer), as HTTP/1.1 framing for the client', async () => {
    b.script('/http10', (socket) => socket.end('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nold'));
    const r = await b.ask('/http10');
    expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
    expect(r.final?.framing).toBe('chunked');
    expect(r.final?.body.toString()).toBe('old');
    expect(r.final?.complete).toBe(true);
  });

  it('an upstream that closes without a byte: an idempotent GET is tried once more, then 502', async () => {
    b.script('/silent', (socket) => socket.end());
    const r = await b.ask('/silent');
    expectOwnError(r, '502 Bad Gateway', 'upstream_reset_after_send');
    expect(b.received('/silent')).toHaveLength(2);
    await b.stillServing();
  });
});

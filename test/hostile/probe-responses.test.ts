/**
 * Hostile answers to health-check probes, from a raw `net` server: the probes' own client
 * (src/health/probe-client.ts, probe-response.ts) fails each one with a clear reason, within the
 * probe's timeout, its memory bounded (heads to 16 KiB, bodies to 1 MiB, never accumulated),
 * closes the connection, and the process goes on. The server records what it received, so that
 * each case also shows the probe's request went out as one well-formed request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { ActiveCheck } from '../../src/health/active-check.js';
import { ProbeClient } from '../../src/health/probe-client.js';
import { healthCheckConfig } from '../helpers/health-config.js';
import { waitFor } from '../helpers/poll.js';

const TIMEOUT = 400;

/** What the backend answers to a probe of `/<case>`: bytes, or a function of the socket. */
const answers: Record<string, string | ((s: net.Socket) => void)> = {
  'bad-status': 'HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n',
  'not-http': 'SSH-2.0-OpenSSH_9.6\r\n\r\n',
  'http2-preface': 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
  'bare-lf': 'HTTP/1.1 200 OK\nContent-Length: 0\n\n',
  'huge-head': `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`,
  'endless-head': (s) => {
    s.write('HTTP/1.1 200 OK\r\n');
    const t = setInterval(() => s.write(`X-${Math.random().toString(36).slice(2)}: ${'b'.repeat(1000)}\r\n`), 1);
    s.on('close', () => clearInterval(t));
  },
  'slow-loris': (s) => {
    s.write('HTTP/1.1 200 OK\r\n');
    const t = setInterval(() => s.write('X'), 20);
    s.on('close', () => clearInterval(t));
  },
  'chunk-extension': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;name=value\r\nok\r\n0\r\n\r\n',
  'chunk-extension-short': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a\r\nok\r\n0\r\n\r\n',
  'chunk-trailers': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n',
  'chunk-overrun': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n',
  'chunk-huge-size': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffff\r\n',
  'two-content-lengths': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok',
  'length-and-chunked': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  'gzip-chunked': 'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n',
  'bad-length': 'HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok',
  'obs-fold': 'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok',
  // Blanks then a control character: a regular expression with a lazy value between runs of
  // blanks backtracked on it (cubic: ~8 s of blocked event loop for this line).
  'blank-run': `HTTP/1.1 200 OK\r\nX-A:${' \t'.repeat(1500)}\x01\r\nContent-Length: 2\r\n\r\nok`,
  'blank-run-status': `HTTP/1.1 200 ${' \t'.repeat(1500)}\x01\r\nContent-Length: 2\r\n\r\nok`,
  'space-before-colon': 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok',
  'nul-in-header': 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok',
  'switching-protocols': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
  'endless-interim': 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(10),
  'huge-length': 'HTTP/1.1 200 OK\r\nContent-Length: 5000000000\r\n\r\nok',
  'endless-chunks': (s) => {
    s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = `4000\r\n${'c'.repeat(0x4000)}\r\n`;
    const t = setInterval(() => s.write(chunk.repeat(8)), 1);
    s.on('close', () => clearInterval(t));
  },
  'bytes-after': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  'early-close': (s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'),
  'close-no-answer': (s) => s.end(),
  'reset-no-answer': (s) => s.resetAndDestroy(),
};

let server: net.Server;
let port: number;
/** Per case: the requests received (raw), and whether the connection was closed by the client. */
const seen = new Map<string, { requests: string[]; closed: boolean }>();

beforeAll(async () => {
  server = net.createServer((s) => {
    let buf = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end === -1) return;
      const request = buf.slice(0, end + 4);
      buf = buf.slice(end + 4);
      const name = request.split(' ')[1]!.slice(1);
      const rec = seen.get(name) ?? { requests: [], closed: false };
      seen.set(name, rec);
      rec.requests.push(request);
      s.on('close', () => (rec.closed = true));
      const a = answers[name];
      if (typeof a === 'string') s.write(a);
      else a?.(s);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const expected: Array<[string, RegExp]> = [
  ['bad-status', /^bad response: malformed status line$/],
  ['not-http', /^bad response: malformed status line$/],
  ['http2-preface', /^bad response: malformed status line$/],
  ['bare-lf', /^bad response: line ends without CR$/],
  ['huge-head', /^bad response: head over 16384 bytes$/],
  ['endless-head', /^bad response: head over 16384 bytes$/],
  ['slow-loris', /^timeout after 400ms$/],
  ['chunk-extension', /^bad response: chunk-size line too long \(chunk extensions are not accepted\)$/],
  ['chunk-extension-short', /^bad response: malformed chunk size \(chunk extensions are not accepted\)$/],
  ['chunk-trailers', /^bad response: trailers are not accepted$/],
  ['chunk-overrun', /^bad response: chunk data longer than its size$/],
  ['chunk-huge-size', /^bad response: chunk-size line too long|^bad response: malformed chunk size/],
  ['two-content-lengths', /^bad response: Content-Length twice$/],
  ['length-and-chunked', /^bad response: both Content-Length and Transfer-Encoding$/],
  ['gzip-chunked', /^bad response: Transfer-Encoding not accepted: gzip, chunked$/],
  ['bad-length', /^bad response: malformed Content-Length$/],
  ['obs-fold', /^bad response: malformed header line$/],
  ['blank-run', /^bad response: malformed header line$/],
  ['blank-run-status', /^bad response: malformed status line$/],
  ['space-before-colon', /^bad response: malformed header line$/],
  ['nul-in-header', /^bad response: malformed header line$/],
  ['switching-protocols', /^bad response: unexpected interim status 101$/],
  ['endless-interim', /^bad response: unexpected interim status 100$/],
  ['huge-length', /^bad response: body of 5000000000 bytes, over 1048576$/],
  ['endless-chunks', /^bad response: body over 1048576 bytes$/],
  ['bytes-after', /^bad response: bytes after the end of the answer$/],
  ['early-close', /^bad response: connection closed before the end of the answer$/],
  ['close-no-answer', /^bad response: connection closed before any answer$/],
  ['reset-no-answer', /^ECONNRESET$|^bad response: connection closed before any answer$/],
];

describe('hostile answers to a probe', () => {
  it.each(expected)('%s: the probe fails with a clear reason, in time, and the connection is closed', async (name, reason) => {
    const client = new ProbeClient();
    try {
      const check = new ActiveCheck(`http://127.0.0.1:${port}`, healthCheckConfig({ path: `/${name}`, timeout: `${TIMEOUT}ms`, expect_body: 'ok' }), client, { onResult() {} });
      const t0 = performance.now();
      const r = await check.probe();
      expect(r).toMatchObject({ ok: false, error: expect.stringMatching(reason) });
      expect(performance.now() - t0).toBeLessThan(TIMEOUT + 1000);
      // One request, as sent: request line, Host, the user agent, nothing smuggled.
      const rec = seen.get(name)!;
      expect(rec.requests).toEqual([`GET /${name} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nuser-agent: drproxy-health\r\n\r\n`]);
      // The connection goes with a bad answer (a timed-out probe's goes at the latest when the client does).
      if (name !== 'slow-loris') await waitFor(() => rec.closed, { what: `${name}: connection closed` });
    } finally {
      await client.destroy();
    }
    if (name === 'slow-loris') await waitFor(() => seen.get(name)!.closed, { what: 'slow-loris connection closed by destroy' });
  });

  // What the strict reader still accepts (each line read by probe-head.ts): no reason phrase,
  // obs-text in it, blanks around values, any case, HTTP/1.0, interim answers, a body until close.
  const variants: Array<[string, string | ((s: net.Socket) => void), number, 'kept' | 'closed']> = [
    ['no-reason', 'HTTP/1.1 200\r\nContent-Length:2\r\n\r\nok', 200, 'kept'],
    ['blanks-and-case', 'HTTP/1.1 200 Fine \xe9t\xe9\r\nX-Tab:\tv \t\r\nCONTENT-LENGTH: \t2 \t\r\nConnection: Keep-Alive\r\n\r\nok', 200, 'kept'],
    ['no-content', 'HTTP/1.1 204 No Content\r\n\r\n', 204, 'kept'],
    ['interim-then-final', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 200, 'kept'],
    ['http10', 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok', 200, 'closed'],
    ['connection-close-listed', 'HTTP/1.1 200 OK\r\nconnection: keep-alive ,  CLOSE\r\nContent-Length: 2\r\n\r\nok', 200, 'closed'],
    ['until-close', (s) => s.end('HTTP/1.1 200 OK\r\n\r\nall ok'), 200, 'closed'],
  ];

  it.each(variants)('%s: a well-formed answer passes, and its connection is %s as it says', async (name, answer, status, fate) => {
    answers[name] = answer;
    const client = new ProbeClient();
    try {
      const check = new ActiveCheck(`http://127.0.0.1:${port}`, healthCheckConfig({ path: `/${name}`, timeout: `${TIMEOUT}ms`, ...(status !== 204 && { expect_body: 'ok' }) }), client, { onResult() {} });
      expect(await check.probe()).toMatchObject({ ok: true, status });
      const rec = seen.get(name)!;
      if (fate === 'closed') await waitFor(() => rec.closed, { what: `${name}: connection closed` });
      else {
        // Kept: the next probe goes on the same connection.
        expect(await check.probe()).toMatchObject({ ok: true, status });
        expect(rec.closed).toBe(false);
      }
    } finally {
      await client.destroy();
    }
  });

  it('a well-formed chunked answer passes, and its body is judged', async () => {
    answers.good = 'HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\nX-Empty:\r\n\r\n3\r\nall\r\n5\r\n is o\r\n1\r\nk\r\n0\r\n\r\n';
    const client = new ProbeClient();
    try {
      const check = new ActiveCheck(`http://127.0.0.1:${port}`, healthCheckConfig({ path: '/good', timeout: `${TIMEOUT}ms`, expect_body: 'all is ok' }), client, { onResult() {} });
      expect(await check.probe()).toMatchObject({ ok: true, status: 200 });
    } finally {
      await client.destroy();
    }
  });
});

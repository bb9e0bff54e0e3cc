/**
 * The rapid-reset rule itself (src/proxy/h2-resets.ts) on bare node:http2 servers, h2c and TLS:
 * a client cancelling more unanswered streams than max_resets within reset_window gets GOAWAY
 * ENHANCE_YOUR_CALM and loses its connection; a browser's few cancels, streams cancelled after
 * their answer, and streams the server itself destroys are not held against it.
 */
import http2, { type Http2Server, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { guardResets, rapidResetStats } from '../src/proxy/h2-resets.js';
import { createLogger } from '../src/log.js';
import type { Http2Config } from '../src/config/types.js';
import net from 'node:net';
import { goawayCode, h2Connect, h2Get, rapidResets, rawResetBurst } from './helpers/h2-resets.js';
import { readFile } from 'node:fs/promises';
import { makeCert } from './helpers/certs.js';
import { tempDir } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_CANCEL } = http2.constants;
const CFG: Http2Config = { max_concurrent_streams: 100, max_resets: 50, reset_window: 10_000 };

type AnyServer = Http2Server | Http2SecureServer;
const servers: AnyServer[] = [];
const sessions: http2.ClientHttp2Session[] = [];

afterEach(async () => {
  for (const s of sessions.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

interface Guarded {
  server: AnyServer;
  url: string;
  logs: Record<string, unknown>[];
  streams: () => number;
  /** Server-side sessions closed so far. */
  closedSessions: () => number;
}

/**
 * A server with guardResets on every session. Streams on /slow are never answered (the attack's
 * target: work the server started); /fast is answered at once; /destroy is destroyed by the server.
 */
async function guardedServer(server: AnyServer, scheme: 'http' | 'https', cfg = CFG): Promise<Guarded> {
  const logs: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) } });
  let streams = 0;
  let closedSessions = 0;
  server.on('session', (s) => {
    guardResets(s, cfg, log);
    s.on('close', () => closedSessions++);
  });
  server.on('stream', (stream: ServerHttp2Stream, headers) => {
    streams++;
    stream.on('error', () => {});
    const path = headers[':path'];
    if (path === '/fast') {
      stream.respond({ ':status': 200 });
      stream.end('fast');
    } else if (path === '/destroy') {
      setImmediate(() => stream.destroy());
    }
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`, logs, streams: () => streams, closedSessions: () => closedSessions };
}

async function connect(url: string): Promise<http2.ClientHttp2Session> {
  const s = url.startsWith('https') ? http2.connect(url, { rejectUnauthorized: false }) : await h2Connect(url);
  sessions.push(s);
  if (url.startsWith('https')) {
    s.on('error', () => {});
    await new Promise((r) => s.once('connect', r));
  }
  return s;
}

const rapidResetLogs = (logs: Record<string, unknown>[]) => logs.filter((l) => l.event === 'h2_rapid_reset');

describe('guardResets', () => {
  it('h2c: past max_resets cancelled streams, the client gets GOAWAY ENHANCE_YOUR_CALM and its connection is closed, logged once', async () => {
    const g = await guardedServer(http2.createServer(), 'http');
    const before = rapidResetStats.sessionsClosed;
    const run = await rapidResets(await connect(g.url), { count: 1000, path: '/slow' });
    expect(run.goaway).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
    expect(run.closedByServer).toBe(true);
    await waitFor(() => g.closedSessions() === 1, { what: 'the attacking session closed by the server' });
    // The rule tripped near the limit, long before nghttp2's own bucket (1000, GOAWAY INTERNAL_ERROR).
    expect(g.streams()).toBeLessThan(CFG.max_resets + 200);
    expect(rapidResetStats.sessionsClosed).toBe(before + 1);
    const warned = rapidResetLogs(g.logs);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 'warn', peer: '127.0.0.1', window_ms: CFG.reset_window });
  });

  it('TLS (ALPN h2): the same', async () => {
    const files = makeCert(await tempDir('drproxy-h2r-'), 'leaf', ['localhost']);
    const [key, cert] = await Promise.all([readFile(files.key), readFile(files.cert)]);
    const g = await guardedServer(http2.createSecureServer({ key, cert }), 'https');
    const run = await rapidResets(await connect(g.url), { count: 1000, path: '/slow' });
    // Judged on the server's side: a Node client over TLS whose writes are queued may miss the
    // GOAWAY and the reset (test/helpers/h2-resets.ts); it must never see nghttp2's own (2).
    expect([undefined, NGHTTP2_ENHANCE_YOUR_CALM]).toContain(run.goaway);
    await waitFor(() => g.closedSessions() === 1, { what: 'the attacking TLS session closed by the server' });
    expect(g.streams()).toBeLessThan(CFG.max_resets + 200);
    expect(rapidResetLogs(g.logs)).toHaveLength(1);
  });

  it('a session whose first read already holds the burst (h2c after a preface sniff) counts streams cancelled before Node emits them', async () => {
    const g = await guardedServer(http2.createServer(), 'http');
    // As drproxy's h2c listener does (src/proxy/h2c.ts): read ahead, put the bytes back, hand
    // the socket to the HTTP/2 server. Node then parses the whole burst while it creates the
    // session, before 'session' (and guardResets) runs: every stream is already cancelled when
    // its 'stream' event comes.
    const burst = rawResetBurst(300); // past max_resets (50), below nghttp2's own bucket (1000)
    const front = net.createServer((sock) => {
      let seen = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        seen = Buffer.concat([seen, d]);
        if (seen.length < burst.length) return;
        sock.off('data', onData);
        sock.pause();
        sock.unshift(seen);
        g.server.emit('connection', sock);
      };
      sock.on('data', onData);
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    try {
      const sock = net.connect((front.address() as AddressInfo).port, '127.0.0.1');
      let received = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => (received = Buffer.concat([received, d])));
      sock.on('error', () => {});
      const closed = new Promise((r) => sock.once('close', r));
      sock.write(burst);
      await waitFor(() => goawayCode(received) !== undefined, { timeout: 5_000, what: 'a GOAWAY frame' });
      expect(goawayCode(received)).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
      await closed;
      expect(rapidResetLogs(g.logs)).toHaveLength(1);
    } finally {
      front.close();
    }
  });

  it('a browser-like client cancelling 20 streams keeps its connection', async () => {
    const g = await guardedServer(http2.createServer(), 'http');
    const session = await connect(g.url);
    const run = await rapidResets(session, { count: 20, perTurn: 5, path: '/slow' });
    expect(run.goaway).toBeUndefined();
    expect(run.closedByServer).toBe(false);
    expect(await h2Get(session, '/fast')).toEqual({ status: 200, body: 'fast' });
    expect(g.closedSessions()).toBe(0);
    expect(rapidResetLogs(g.logs)).toHaveLength(0);
  });

  it('streams answered completely before the client resets them are not counted', async () => {
    const g = await guardedServer(http2.createServer(), 'http', { ...CFG, max_resets: 10 });
    const session = await connect(g.url);
    for (let i = 0; i < 40; i++) {
      // The request side left open, so the client's RST_STREAM reaches a stream the server ended.
      const req = session.request({ ':path': '/fast' }, { endStream: false });
      req.on('error', () => {});
      req.resume();
      await new Promise((r) => req.once('end', r));
      req.close(NGHTTP2_CANCEL);
      await new Promise((r) => req.once('close', r));
    }
    expect(await h2Get(session, '/fast')).toEqual({ status: 200, body: 'fast' });
    expect(session.closed || session.destroyed).toBe(false);
    expect(rapidResetLogs(g.logs)).toHaveLength(0);
  });

  it('streams the server itself destroys (a failing upstream) are not counted', async () => {
    const g = await guardedServer(http2.createServer(), 'http', { ...CFG, max_resets: 10 });
    const session = await connect(g.url);
    await Promise.all(
      Array.from({ length: 40 }, () => {
        const req = session.request({ ':path': '/destroy' });
        req.on('error', () => {});
        req.resume();
        return new Promise((r) => req.once('close', r));
      }),
    );
    expect(await h2Get(session, '/fast')).toEqual({ status: 200, body: 'fast' });
    expect(g.closedSessions()).toBe(0);
    expect(rapidResetLogs(g.logs)).toHaveLength(0);
  });
});

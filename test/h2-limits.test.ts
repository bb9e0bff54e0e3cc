/**
 * HTTP/2 session limits (issue 22 item 3): server.http2.max_concurrent_streams is advertised in
 * SETTINGS; a session with no open stream gets GOAWAY after server.keep_alive_timeout, one that
 * opens no stream after server.headers_timeout; server.max_requests_per_socket streams end a
 * session with GOAWAY (those streams answered); at shutdown a session gets GOAWAY and its
 * stream in flight completes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientHttp2Session } from 'node:http2';
import { sitesHealthy, startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { makeCert } from './helpers/certs.js';
import { h2connect, h2request } from './helpers/h2.js';
import { waitFor } from './helpers/poll.js';

let up: http.Server | undefined;
let p: TestProxy | undefined;
let release: (() => void) | undefined;
/** /slow requests the upstream holds. */
let held = 0;

afterEach(async () => {
  release?.();
  await p?.stop();
  up?.closeAllConnections();
  await new Promise((resolve) => up?.close(resolve));
  p = undefined;
  up = undefined;
});

/** A TLS listener with these server settings, before an upstream whose /slow answers when `release()` is called. */
async function start(server: Record<string, unknown>): Promise<number> {
  const dir = await tempDir('drproxy-h2l-');
  const cert = makeCert(dir, 'a', ['a.example.com']);
  let waiting: http.ServerResponse[] = [];
  release = () => {
    for (const res of waiting) res.end('slow done');
    waiting = [];
    held = 0;
  };
  up = http.createServer((req, res) => {
    if (req.url === '/slow') held = waiting.push(res);
    else res.end('ok');
  });
  await new Promise<void>((resolve) => up!.listen(0, '127.0.0.1', resolve));
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', tls: { cert_file: cert.cert, key_file: cert.key } }],
    server,
    defaults: { health_check: { interval: '30s', timeout: '1s' } },
    tenants: { t: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'east', backends: [`http://127.0.0.1:${(up.address() as AddressInfo).port}`] }] } },
  });
  await sitesHealthy(p, 't');
  return p.ports[0]!;
}

const GET = (path: string) => ({ ':path': path, ':authority': 'a.example.com' });

/** The GOAWAY the session gets, within `timeout` ms (its error code). */
function goaway(s: ClientHttp2Session, timeout = 5000): Promise<number> {
  let code: number | undefined;
  s.once('goaway', (c: number) => (code = c));
  return waitFor(() => (code === undefined ? undefined : { code }), { what: 'GOAWAY', timeout }).then((g) => g.code);
}

describe('HTTP/2 limits', () => {
  it('advertises max_concurrent_streams and the header list size', async () => {
    const port = await start({ http2: { max_concurrent_streams: 7 }, max_header_size: 8192 });
    const s = await h2connect(port, 'a.example.com');
    await waitFor(() => s.remoteSettings.maxConcurrentStreams === 7, { what: 'the server SETTINGS' });
    expect(s.remoteSettings.maxHeaderListSize).toBe(8192);
    expect(s.remoteSettings.enableConnectProtocol).toBe(false);
    s.close();
  });

  it('sends GOAWAY to a session with no open stream after keep_alive_timeout', async () => {
    const port = await start({ keep_alive_timeout: '300ms' });
    const s = await h2connect(port, 'a.example.com');
    const away = goaway(s);
    expect((await h2request(s, GET('/'))).status).toBe(200);
    const t0 = performance.now();
    expect(await away).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200);
    await waitFor(() => s.closed || s.destroyed, { what: 'the session closed' });
  });

  it('keeps a session with a stream open past keep_alive_timeout; the stream completes', async () => {
    const port = await start({ keep_alive_timeout: '200ms' });
    const s = await h2connect(port, 'a.example.com');
    let gone = false;
    s.once('goaway', () => (gone = true));
    const slow = h2request(s, GET('/slow'));
    // Past the idle timeout with the stream still open, then answered.
    await waitFor(() => held === 1, { what: 'the stream at the upstream' });
    // Three idle timeouts pass with the stream open (absence of GOAWAY needs time to pass).
    const t0 = performance.now();
    await waitFor(() => performance.now() - t0 > 600, { what: 'time past keep_alive_timeout', interval: 100 });
    expect(gone).toBe(false);
    release!();
    expect((await slow).body).toBe('slow done');
    s.close();
  });

  it('closes a session that opens no stream within headers_timeout', async () => {
    const port = await start({ headers_timeout: '300ms', keep_alive_timeout: '30s' });
    const s = await h2connect(port, 'a.example.com');
    await waitFor(() => s.closed || s.destroyed, { what: 'the silent session closed', timeout: 5000 });
  });

  it('counts open sessions in drproxy_http2_sessions', async () => {
    const port = await start({});
    const s = await h2connect(port, 'a.example.com');
    const gauge = async (): Promise<number> => {
      const text = await p!.proxy.metricsText();
      return Number(/^drproxy_http2_sessions (\d+)$/m.exec(text)?.[1]);
    };
    await waitFor(async () => (await gauge()) === 1, { what: 'one session counted' });
    s.close();
    await waitFor(async () => (await gauge()) === 0, { what: 'no session counted' });
  });

  it('sends GOAWAY after max_requests_per_socket streams, each of them answered', async () => {
    const port = await start({ max_requests_per_socket: 3, keep_alive_timeout: '30s' });
    const s = await h2connect(port, 'a.example.com');
    const away = goaway(s);
    for (let i = 0; i < 3; i++) expect((await h2request(s, GET(`/${i}`))).status).toBe(200);
    expect(await away).toBe(0);
    await waitFor(() => s.closed || s.destroyed, { what: 'the session closed' });
  });

  it('at shutdown sends GOAWAY and lets the stream in flight complete', async () => {
    const port = await start({ shutdown_timeout: '10s' });
    const s = await h2connect(port, 'a.example.com');
    const slow = h2request(s, GET('/slow'));
    await waitFor(() => held === 1, { what: 'the stream at the upstream' });
    const away = goaway(s);
    const stopped = p!.proxy.stop();
    await away;
    release!();
    expect((await slow).body).toBe('slow done');
    await stopped;
    p = undefined;
  });
});

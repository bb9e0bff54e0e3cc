/**
 * server.request_timeout for HTTP/2 streams (h2-body-deadline.ts): a request body that is not
 * complete within it has its stream reset (RST_STREAM CANCEL) and its upstream request aborted,
 * while the session's other streams go on; a body that arrives in time is forwarded whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { startProxy, sitesHealthy, type TestProxy } from './helpers/proxy.js';
import { h2connect, h2request } from './helpers/h2.js';
import { waitFor } from './helpers/poll.js';

let up: http.Server;
let p: TestProxy;
let port: number;
/** What the upstream saw of each /upload: the bytes, and whether it ended or was cut. */
const uploads = new Map<string, { bytes: number; outcome?: 'ended' | 'aborted' }>();

beforeAll(async () => {
  up = http.createServer((req, res) => {
    if (!req.url!.startsWith('/upload')) return void res.end('ok');
    const u = { bytes: 0 } as { bytes: number; outcome?: 'ended' | 'aborted' };
    uploads.set(req.url!, u);
    req.on('data', (d: Buffer) => (u.bytes += d.length));
    req.on('end', () => {
      u.outcome = 'ended';
      res.end(`got ${u.bytes}`);
    });
    req.on('close', () => (u.outcome ??= 'aborted'));
  });
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', h2c: true }],
    server: { request_timeout: '600ms', headers_timeout: '300ms', keep_alive_timeout: '30s' },
    defaults: { health_check: { interval: '30s', timeout: '1s' } },
    tenants: { t: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'east', backends: [`http://127.0.0.1:${(up.address() as AddressInfo).port}`] }] } },
  });
  await sitesHealthy(p, 't');
  port = p.ports[0]!;
});
afterAll(async () => {
  await p?.stop();
  up.closeAllConnections();
  await new Promise((resolve) => up.close(resolve));
});

describe('HTTP/2 request_timeout', () => {
  it('resets a stream whose body is still arriving past request_timeout; the upstream request is aborted', async () => {
    const s = await h2connect(port, null);
    try {
      const slow = s.request({ ':method': 'POST', ':path': '/upload-slow', ':authority': 'a.example.com' }, { endStream: false });
      slow.on('error', () => {});
      slow.write('first part');
      const t0 = performance.now();
      await waitFor(() => uploads.get('/upload-slow')?.bytes === 10, { what: 'the first part at the upstream' });
      await waitFor(() => slow.closed || slow.destroyed, { what: 'the slow stream reset', timeout: 5000 });
      expect(slow.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
      await waitFor(() => uploads.get('/upload-slow')?.outcome, { what: 'the upstream request ended' });
      expect(uploads.get('/upload-slow')!.outcome).toBe('aborted');
      expect(p.proxy.dataPlane.h2.bodies.size).toBe(0);

      // The session goes on: a body sent in time is forwarded whole.
      const ok = await h2request(s, { ':method': 'POST', ':path': '/upload-ok', ':authority': 'a.example.com' }, 'x'.repeat(5000));
      expect(ok.status).toBe(200);
      expect(ok.body).toBe('got 5000');
    } finally {
      s.close();
    }
  });
});

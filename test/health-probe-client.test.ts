/**
 * The probes' own client (src/health/probe-client.ts) against a raw `net` backend that counts
 * its connections: one keep-alive connection carries probe after probe; a connection the
 * backend closes, between probes or just as a probe goes out (its idle timeout), is replaced
 * and the probe answered on the new one; `Connection: close` is honoured; a body is judged
 * (expect_body, data_age) only as far as it must be; a late probe timer keeps the connection.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { ActiveCheck } from '../src/health/active-check.js';
import { ProbeClient } from '../src/health/probe-client.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { blockEventLoop } from './helpers/overload.js';
import { startUpstream, stopAll } from './helpers/upstream.js';

let server: net.Server;
let origin: string;
/** How the backend treats the n-th request (from 1) on a connection, per path. */
let behaviour: (path: string, nth: number, s: net.Socket) => void;
let connections = 0;
let requests = 0;
let client: ProbeClient;
/** Every client made by check(), destroyed after each test. */
const clients: ProbeClient[] = [];

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

beforeAll(async () => {
  server = net.createServer((s) => {
    connections++;
    let nth = 0;
    let buf = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end !== -1; end = buf.indexOf('\r\n\r\n')) {
        const path = buf.split(' ')[1]!;
        buf = buf.slice(end + 4);
        requests++;
        behaviour(path, ++nth, s);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
});

afterEach(async () => {
  await client?.destroy();
  for (const c of clients.splice(0)) await c.destroy();
  connections = requests = 0;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function check(settings: Record<string, unknown> = {}): ActiveCheck {
  client = new ProbeClient();
  clients.push(client);
  return new ActiveCheck(origin, healthCheckConfig({ path: '/healthz', timeout: '500ms', ...settings }), client, { onResult() {} });
}

describe('the probe client', () => {
  it('carries probe after probe on one keep-alive connection', async () => {
    behaviour = (_p, _n, s) => s.write(OK);
    const c = check();
    for (let i = 0; i < 5; i++) expect(await c.probe()).toMatchObject({ ok: true, status: 200 });
    expect({ connections, requests }).toEqual({ connections: 1, requests: 5 });
  });

  it('a connection the backend closes just as a probe goes out: the probe is answered on a new one', async () => {
    // The second request on a connection is never answered: the connection is closed instead,
    // as a backend's idle timeout does when it fires while the probe is on its way.
    behaviour = (_p, n, s) => (n === 1 ? s.write(OK) : s.destroy());
    const c = check();
    expect(await c.probe()).toMatchObject({ ok: true });
    expect(await c.probe()).toMatchObject({ ok: true });
    // The request the first connection dropped, and the same probe again on the second.
    expect({ connections, requests }).toEqual({ connections: 2, requests: 3 });
  });

  it('a connection the backend closed between probes is replaced', async () => {
    behaviour = (_p, _n, s) => s.end(OK);
    const c = check();
    expect(await c.probe()).toMatchObject({ ok: true });
    expect(await c.probe()).toMatchObject({ ok: true });
    expect(connections).toBe(2);
  });

  it('honours Connection: close, and a new connection carries the next probe', async () => {
    behaviour = (_p, _n, s) => s.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok');
    const c = check();
    expect(await c.probe()).toMatchObject({ ok: true });
    expect(await c.probe()).toMatchObject({ ok: true });
    expect(connections).toBe(2);
  });

  it('judges the body when it must: expected text, data age over a split answer', async () => {
    behaviour = (_p, _n, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Le');
      setTimeout(() => s.write('ngth: 38\r\n\r\n{"status":"ready",'), 5);
      setTimeout(() => s.write('"lag_seconds": 12.5}'), 10);
    };
    const c = check({ expect_body: 'ready', data_age: { json_field: 'lag_seconds', kind: 'seconds' } });
    expect(await c.probe()).toMatchObject({ ok: true, status: 200, dataAgeSeconds: 12.5 });
    const d = check({ expect_body: 'not there' });
    expect(await d.probe()).toMatchObject({ ok: false, error: 'body does not contain the expected text' });
  });

  it('a probe whose timer fires late is inconclusive, and its connection is kept', async () => {
    // The backend in another process: it answers while this one is blocked.
    const up = await startUpstream('late');
    try {
      client = new ProbeClient();
      const c = new ActiveCheck(up.url, healthCheckConfig({ path: '/healthz', timeout: '100ms' }), client, { onResult() {} });
      expect(await c.probe()).toMatchObject({ ok: true });
      const s0 = await up.stats();
      const late = c.probe();
      blockEventLoop(400);
      expect(await late).toMatchObject({ ok: false, inconclusive: true, error: expect.stringMatching(/late: drproxy overloaded/) });
      expect(await c.probe()).toMatchObject({ ok: true });
      const s1 = await up.stats();
      expect(s1.healthAt.length - s0.healthAt.length).toBe(2);
      expect(s1.connections).toBe(s0.connections);
    } finally {
      await stopAll(up);
    }
  });

  it('TLS material Node refuses: every probe fails at once with the reason, and no connection is left counted', async () => {
    // Two connections at most: a connection counted for each failed connect would leave the
    // third probe waiting for one until its timeout.
    client = new ProbeClient({ connections: 2, tls: { cert: 'not a certificate', key: 'not a key' } });
    const c = new ActiveCheck('https://127.0.0.1:9', healthCheckConfig({ path: '/healthz', timeout: '300ms' }), client, { onResult() {} });
    for (let i = 0; i < 4; i++) {
      const r = await c.probe();
      expect(r).toMatchObject({ ok: false });
      expect(r!.error).not.toMatch(/timeout/);
    }
    expect(client.stats['https://127.0.0.1:9']).toEqual({ connected: 0, size: 0 });
  });

  it('a backend that does not answer: the probe times out on its own timer', async () => {
    behaviour = () => {};
    const c = check({ timeout: '150ms' });
    const t0 = performance.now();
    expect(await c.probe()).toMatchObject({ ok: false, error: 'timeout after 150ms' });
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

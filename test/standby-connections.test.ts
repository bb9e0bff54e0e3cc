/**
 * proxy.standby_connections: idle connections kept open to the backends of the site a tenant
 * would fail over to, taken by the pool after a flip instead of dialling (warm-sockets.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { buildConnector, request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TLSSocket } from 'node:tls';
import { WarmSockets } from '../src/proxy/warm-sockets.js';
import { tlsConnector } from '../src/tls-name.js';

const N = 3;
let a1: Upstream, b1: Upstream, c1: Upstream;
let p: TestProxy;

function warm(site: string): { idle: number; taken: number } {
  return p.proxy.tenant('t')!.site(site)!.backends[0]!.backend.standbySockets;
}

async function get(): Promise<{ status: number; site: string | undefined }> {
  const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
  await r.body.dump();
  return { status: r.statusCode, site: r.headers['x-site'] as string | undefined };
}

beforeAll(async () => {
  [a1, b1, c1] = await Promise.all([startUpstream('a1'), startUpstream('b1'), startUpstream('c1')]);
  p = await startProxy({
    // A long keep_alive_timeout: warm sockets are recycled after it, and one recycled in the
    // middle of a test would change the counts it reads.
    defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s' }, proxy: { standby_connections: N, keep_alive_timeout: '60s' } },
    tenants: {
      t: {
        tier: 'BC',
        hosts: ['t.example.com'],
        sites: [
          { name: 'a1', backends: [a1.url] },
          { name: 'b1', backends: [b1.url] },
          { name: 'c1', backends: [c1.url] },
        ],
      },
    },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1, c1);
});

describe('standby connections', () => {
  it('keeps N idle connections open to the standby site only, and sends nothing on them', async () => {
    await waitFor(async () => (await b1.stats()).fresh === N, { what: `${N} fresh connections on b1` });
    expect(warm('b1').idle).toBe(N);
    // The tenant status (GET /tenants/t) shows them per backend.
    const status = p.proxy.tenantStatus('t', false) as { sites: Array<{ name: string; backends: Array<{ standby_connections?: number }> }> };
    const sites = status.sites;
    expect(sites.map((s) => [s.name, s.backends[0]!.standby_connections])).toEqual([['a1', 0], ['b1', N], ['c1', 0]]);
    expect((await c1.stats()).fresh).toBe(0);
    expect(warm('a1').idle).toBe(0);
    expect(warm('c1').idle).toBe(0);
    expect((await get()).site).toBe('a1');
    expect((await b1.stats()).requests).toBe(0);
  });

  it('replaces warm connections that the upstream closes', async () => {
    const before = (await b1.stats()).connections;
    await b1.closeFresh();
    await waitFor(async () => {
      const s = await b1.stats();
      return s.fresh === N && s.connections >= before + N;
    }, { what: 'b1 warm connections replaced' });
    expect(warm('b1').idle).toBe(N);
  });

  it('after a flip, the first request goes out on a warm connection and the next site gets warmed', async () => {
    const t = p.proxy.tenant('t')!;
    const accepted = (await b1.stats()).connections;
    await t.operatorFailover({ to: 'b1', reason: 'standby test', actor: 'test' });
    const r = await get();
    expect(r).toEqual({ status: 200, site: 'b1' });
    expect(warm('b1').taken).toBe(1);
    // b1 is active now: what is left idle stays usable, but is not replaced.
    expect(warm('b1').idle).toBe(N - 1);
    const s = await b1.stats();
    // One connection was accepted for the stats request itself at most; none for the proxied one.
    expect(s.connections - accepted).toBeLessThanOrEqual(1);
    // a1 is fenced after the flip: c1 is the standby now.
    await waitFor(async () => (await c1.stats()).fresh === N, { what: `${N} fresh connections on c1` });
    expect(warm('a1').idle).toBe(0);
  });
});

describe('WarmSockets', () => {
  it('keeps TLS connections warm (handshake done, certificate checked) without churning them', async () => {
    const dir = fileURLToPath(new URL('./fixtures/tls/', import.meta.url));
    const cert = readFileSync(`${dir}cert.pem`);
    let handshakes = 0;
    const server = https.createServer({ key: readFileSync(`${dir}key.pem`), cert }, (_req, res) => res.end('ok'));
    server.on('secureConnection', () => handshakes++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    // The client sockets the warm set dials, to see when each has processed its session ticket.
    const dialled: TLSSocket[] = [];
    const base = tlsConnector({ ca: cert, timeout: 1000 });
    const connector: typeof base = (o, cb) =>
      base(o, (err, socket) => {
        if (socket) dialled.push(socket as TLSSocket);
        cb(err as null, socket as TLSSocket);
      });
    const w = new WarmSockets(connector, { hostname: 'localhost', host: `localhost:${port}`, protocol: 'https:', port: String(port), servername: 'localhost' }, 60_000);
    try {
      w.setTarget(3);
      // TLS 1.3 session tickets arrive after the handshake: once every socket has its session,
      // the tickets were read, and they must not have looked like the upstream speaking. The
      // server's 'secureConnection' may run after the client has its ticket (one process, one
      // event loop), so the wait covers both.
      await waitFor(() => handshakes >= 3 && dialled.length === 3 && dialled.every((d) => d.getSession() !== undefined), {
        what: 'session tickets on 3 warm TLS connections, 3 handshakes on the server',
      });
      expect(dialled.every((d) => !d.destroyed)).toBe(true);
      expect(w.size).toBe(3);
      expect(handshakes).toBe(3);
      const s = w.take() as TLSSocket;
      expect(s.encrypted).toBe(true);
      expect(s.authorized).toBe(true);
      s.destroy();
    } finally {
      w.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('backs off when the standby refuses connections instead of dialling in a loop', async () => {
    // A port with nothing listening: every connect is refused at once.
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const base = buildConnector({ timeout: 1000 });
    const dials: number[] = [];
    const counting: buildConnector.connector = (o, cb) => {
      dials.push(performance.now());
      base(o, cb);
    };
    const w = new WarmSockets(counting, { hostname: '127.0.0.1', host: `127.0.0.1:${port}`, protocol: 'http:', port: String(port) }, 4000);
    w.setTarget(4);
    try {
      await waitFor(() => dials.length >= 8, { timeout: 3000, what: 'a second round of dials after the back-off' });
      // The first round of 4 fails within milliseconds; the next comes 1 s later, not at once.
      expect(dials[3]! - dials[0]!).toBeLessThan(500);
      expect(dials[4]! - dials[3]!).toBeGreaterThanOrEqual(950);
      expect(w.size).toBe(0);
      expect(w.take()).toBeUndefined();
    } finally {
      w.close();
    }
  });
});

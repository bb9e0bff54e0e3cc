/**
 * HTTPS backends: drproxy checks a backend's certificate against the backend's own name (its
 * origin's host), never against the client's Host, which it still forwards (preserve_host).
 * undici would otherwise take the TLS name from the Host header: the check would fail for a
 * backend whose certificate names only itself, and every new Host of a wildcard tenant would
 * close the connection and open another.
 *
 * The certificate (test/fixtures/tls) names IP 127.0.0.1 and DNS localhost; drproxy runs as a
 * child with NODE_EXTRA_CA_CERTS pointing at it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { WebSocket, WebSocketServer } from 'ws';
import { spawnProxy, type ChildProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const TLS_DIR = fileURLToPath(new URL('./fixtures/tls/', import.meta.url));

interface Seen {
  sni: string | false | null;
  host: string | undefined;
  socket: TLSSocket;
}

let server: https.Server;
let port = 0;
const seen: Seen[] = [];
const probes: Seen[] = [];
let child: ChildProxy;

beforeAll(async () => {
  server = https.createServer({ key: readFileSync(`${TLS_DIR}key.pem`), cert: readFileSync(`${TLS_DIR}cert.pem`), keepAliveTimeout: 30_000 }, (req, res) => {
    const socket = req.socket as TLSSocket;
    if (req.url !== '/healthz') seen.push({ sni: socket.servername, host: req.headers.host, socket });
    else if (req.headers.host === 'vhost.example.net') probes.push({ sni: socket.servername, host: req.headers.host, socket });
    res.writeHead(200, { 'content-type': 'text/plain', 'x-site': 'tls' });
    res.end('ok');
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    const socket = req.socket as TLSSocket;
    seen.push({ sni: socket.servername, host: req.headers.host, socket });
    ws.on('message', (m) => ws.send(`tls:${m}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  child = await spawnProxy(
    {
      defaults: { health_check: { interval: '100ms', timeout: '1s', rise: 1, fall: 2, jitter: 0 } },
      tenants: {
        // An IP origin: no SNI, the certificate's IP address is checked.
        wild: { tier: 'BC', hosts: ['*.example.com'], sites: [{ name: 's1', backends: [`https://127.0.0.1:${port}`] }] },
        // A named origin: SNI and the check use "localhost", whatever the client's Host.
        named: { tier: 'BC', hosts: ['app.example.org'], sites: [{ name: 's1', backends: [`https://localhost:${port}`] }] },
        // Probes with their own Host: the TLS name is still the backend's.
        probed: {
          tier: 'BC',
          hosts: ['probed.example.net'],
          health_check: { host: 'vhost.example.net' },
          sites: [{ name: 's1', backends: [`https://localhost:${port}`] }, { name: 's2', backends: [`https://127.0.0.1:${port}`] }],
        },
      },
    },
    undefined,
    { NODE_EXTRA_CA_CERTS: `${TLS_DIR}cert.pem` },
  );
});

afterAll(async () => {
  await child?.kill();
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r));
});

async function get(host: string): Promise<{ status: number; body: string }> {
  const r = await request(`${child.url}/`, { headers: { host } });
  return { status: r.statusCode, body: await r.body.text() };
}

describe('https backends', () => {
  it('checks the backend’s certificate against its own IP, keeps the client’s Host, and reuses one connection across Hosts', async () => {
    await waitFor(async () => (await get('a.example.com')).status === 200, { what: 'the https backend to be up' });
    const from = seen.length;
    for (const host of ['b.example.com', 'c.example.com', 'b.example.com', 'deep.a.example.com']) {
      expect(await get(host)).toEqual({ status: 200, body: 'ok' });
    }
    const mine = seen.slice(from);
    expect(mine.map((s) => s.host)).toEqual(['b.example.com', 'c.example.com', 'b.example.com', 'deep.a.example.com']);
    // No SNI for an IP (RFC 6066), and one connection for every Host (sequential requests).
    expect(mine.every((s) => !s.sni)).toBe(true);
    expect(new Set(mine.map((s) => s.socket)).size).toBe(1);
  });

  it('opens WebSocket (upgraded) connections to an https backend with the same TLS name', async () => {
    await waitFor(async () => (await get('app.example.org')).status === 200, { what: 'the named https backend to be up' });
    const ws = new WebSocket(`ws://127.0.0.1:${child.port}/ws`, { headers: { host: 'app.example.org' } });
    try {
      await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
      const echo = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
      ws.send('hello');
      expect(await echo).toBe('tls:hello');
      const last = seen.at(-1)!;
      expect(last.host).toBe('app.example.org');
      expect(last.sni).toBe('localhost');
    } finally {
      ws.close();
    }
  });

  it('probes with a Host of their own check the backend’s name too, so the sites are up', async () => {
    await waitFor(async () => (await get('probed.example.net')).status === 200, { what: 'the probed tenant to serve' });
    await waitFor(() => new Set(probes.map((p) => p.sni || 'none')).size === 2, { what: 'probes to both backends' });
    expect(new Set(probes.map((p) => p.sni || 'none'))).toEqual(new Set(['localhost', 'none']));
  });

  it('sends the backend’s own name as SNI for a named origin', async () => {
    await waitFor(async () => (await get('app.example.org')).status === 200, { what: 'the named https backend to be up' });
    const last = seen.at(-1)!;
    expect(last.host).toBe('app.example.org');
    expect(last.sni).toBe('localhost');
  });
});

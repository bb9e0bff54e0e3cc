/**
 * A real HAProxy (Debian's) in TCP mode in front of drproxy, with `send-proxy-v2` on one
 * frontend and `send-proxy` (v1) on another: a client connecting from 127.0.0.5 is what the
 * upstream sees in X-Forwarded-For, though drproxy's TCP peer is HAProxy at 127.0.0.1.
 * HAProxy runs as a child process on free ports and is killed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { startCaptureUpstream, type CaptureUpstream } from './helpers/capture-upstream.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const haveHaproxy = spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
if (!haveHaproxy) console.warn('SKIPPED proxy-protocol-haproxy.test.ts: haproxy is not on PATH (apt-get install haproxy; .ci/run installs it)');

let up: CaptureUpstream;
let p: TestProxy;
let haproxy: ChildProcess | undefined;
let haproxyOut = '';
let v2Port: number;
let v1Port: number;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

function get(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, localAddress: '127.0.0.5', headers: { host: 'a.example.com' }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  if (!haveHaproxy) return;
  up = await startCaptureUpstream();
  p = await startProxy({
    listen: [{ address: '127.0.0.1:0', proxy_protocol: true }],
    server: { trusted_proxies: ['127.0.0.1'] },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: [up.url] }] } },
  });
  const dir = await tempDir('drproxy-haproxy-');
  [v2Port, v1Port] = [await freePort(), await freePort()];
  const cfg = join(dir, 'haproxy.cfg');
  await writeFile(cfg, [
    'global',
    '  maxconn 64',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 30s',
    '  timeout server 30s',
    'frontend v2',
    `  bind 127.0.0.1:${v2Port}`,
    '  default_backend drproxy_v2',
    'frontend v1',
    `  bind 127.0.0.1:${v1Port}`,
    '  default_backend drproxy_v1',
    'backend drproxy_v2',
    `  server d 127.0.0.1:${p.port} source 127.0.0.1 send-proxy-v2`,
    'backend drproxy_v1',
    `  server d 127.0.0.1:${p.port} source 127.0.0.1 send-proxy`,
    '',
  ].join('\n'));
  haproxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  haproxy.stdout!.on('data', (d: Buffer) => (haproxyOut += d.toString()));
  haproxy.stderr!.on('data', (d: Buffer) => (haproxyOut += d.toString()));
  await waitFor(async () => {
    if (haproxy!.exitCode !== null) throw new Error(`haproxy exited: ${haproxyOut}`);
    return (await canConnect(v2Port)) && (await canConnect(v1Port));
  }, { what: 'haproxy listening' });
});

afterAll(async () => {
  if (haproxy && haproxy.exitCode === null) {
    const exited = new Promise((r) => haproxy!.once('exit', r));
    haproxy.kill('SIGKILL');
    await exited;
  }
  await p?.stop();
  await up?.close();
});

describe.skipIf(!haveHaproxy)('behind HAProxy in TCP mode', () => {
  for (const [name, port] of [['send-proxy-v2', () => v2Port], ['send-proxy (v1)', () => v1Port]] as const) {
    it(`${name}: the upstream sees the client's address, not HAProxy's`, async () => {
      const path = `/via-${name.replace(/\W+/g, '-')}`;
      expect(await get(port(), path)).toBe(200);
      const seen = up.requests.find((r) => r.url === path);
      expect(seen?.headers['x-forwarded-for']).toEqual(['127.0.0.5']);
    });
  }
});

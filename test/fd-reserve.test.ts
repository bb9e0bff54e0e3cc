/**
 * The data plane keeps its hands off a reserve of file descriptors (issue 16, item 1): it takes
 * at most (soft RLIMIT_NOFILE - server.fd_reserve) / 2 client connections, says so at start-up,
 * and answers the rest 503, so that the admin API keeps working when the data plane is full.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { clientConnectionCap, openFileLimit } from '../src/proxy/fd-limit.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { spawnProxy, twoSiteTenant, FAST_CHECKS, type ChildProxy } from './helpers/proxy.js';
import { admin } from './helpers/admin.js';
import { destroyAll, openMany, parseAnswer, type Tracked } from './helpers/sockets.js';
import { waitFor } from './helpers/poll.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('the open-file limit', () => {
  it('is read from /proc/self/limits (soft limit), and is unknown where it cannot be', () => {
    expect(openFileLimit(() => LIMITS)).toBe(1024);
    expect(openFileLimit(() => LIMITS.replace('1024  ', 'unlimited'))).toBeUndefined();
    expect(openFileLimit(() => 'nothing here')).toBeUndefined();
    expect(openFileLimit(() => {
      throw Object.assign(new Error('no /proc'), { code: 'ENOENT' });
    })).toBeUndefined();
    if (process.platform === 'linux') expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('leaves fd_reserve, then half of the rest for upstream sockets', () => {
    expect(clientConnectionCap(1024, 256)).toBe(384);
    expect(clientConnectionCap(512, 128)).toBe(192);
    // A limit too small for the reserve still leaves the data plane a quarter of it.
    expect(clientConnectionCap(256, 256)).toBe(64);
    expect(clientConnectionCap(1_048_576, 256)).toBe(524_160);
  });
});

describe('drproxy under ulimit -n 512 with fd_reserve 128', () => {
  let a1: Upstream, b1: Upstream;
  let child: ChildProxy;
  let adminUrl = '';
  const held: Tracked[] = [];

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    child = await spawnProxy(
      { server: { headers_timeout: '30s', fd_reserve: 128, max_connections_per_client: 0 }, defaults: { health_check: FAST_CHECKS }, tenants: { t: twoSiteTenant('t.example.com', a1, b1) } },
      undefined,
      {},
      { openFiles: 512 },
    );
    adminUrl = `http://127.0.0.1:${/"admin":"[^"]*:(\d+)"/.exec(child.output())![1]}`;
    await waitFor(async () => (await admin(adminUrl, 'GET', '/readyz')).status === 200, { what: 'ready' });
  });

  afterAll(async () => {
    destroyAll(held);
    await child?.kill('SIGTERM');
    await stopAll(a1, b1);
  });

  it('logs the effective cap at start-up', () => {
    const line = child.output().split('\n').find((l) => l.includes('"event":"connection_cap"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'warn', cap: 192, max_connections: 10_000, open_files_limit: 512, fd_reserve: 128 });
  });

  it('takes at most the cap, answers the rest 503, and the admin API still answers', async () => {
    const sockets = await openMany(child.port, 300, { localAddress: '127.0.0.2' });
    held.push(...sockets);
    await waitFor(() => sockets.filter((t) => t.closedAt !== undefined).length === 300 - 192, { what: '108 refused' });
    for (const t of sockets.filter((s) => s.closedAt !== undefined)) {
      expect(t.error).toBeUndefined();
      expect(parseAnswer(t.data).status).toBe(503);
    }
    // Another client is refused cleanly too: the data plane is full.
    const r = await request(`http://127.0.0.1:${child.port}/full`, { headers: { host: 't.example.com' } });
    expect(r.statusCode).toBe(503);
    expect(r.headers['x-drproxy-error']).toBe('too_many_connections');
    await r.body.dump();
    // The reserve is there: the admin API answers, and the process is far from its limit.
    expect((await admin(adminUrl, 'GET', '/readyz')).status).toBe(200);
    const metrics = await admin(adminUrl, 'GET', '/metrics');
    expect(metrics.text).toMatch(/drproxy_connections_refused_total\{reason="fd_limit"\} 10[89]/);
    expect(metrics.text).toMatch(/drproxy_connections_limit 192/);
    expect(readdirSync(`/proc/${child.proc.pid}/fd`).length).toBeLessThan(512 - 100);
    destroyAll(sockets);
    await waitFor(async () => {
      const ok = await request(`http://127.0.0.1:${child.port}/after`, { headers: { host: 't.example.com' } });
      await ok.body.dump();
      return ok.statusCode === 200;
    }, { what: 'served again once the sockets closed' });
    expect(child.proc.exitCode).toBeNull();
  });
});

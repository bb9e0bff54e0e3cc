/**
 * Running out of file descriptors on accept never ends the process (issue 16, item 1).
 *
 * Two paths: libuv meets EMFILE on accept by closing a spare descriptor and shedding the
 * pending connections (the clients see a reset: this is why the data plane keeps a reserve);
 * when it cannot (its spare is gone, or ENFILE), Node emits `error` (`accept EMFILE`) on the
 * listening server, and an `error` event without a listener throws and ends the process.
 */
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { spawnProxy, startProxy, twoSiteTenant, FAST_CHECKS, type ChildProxy } from '../helpers/proxy.js';
import { admin } from '../helpers/admin.js';
import { destroyAll, openMany, type Tracked } from '../helpers/sockets.js';
import { waitFor } from '../helpers/poll.js';

let a1: Upstream, b1: Upstream;
let child: ChildProxy | undefined;
const held: Tracked[] = [];

const doc = (): Record<string, unknown> => ({
  server: { headers_timeout: '30s', fd_reserve: 0, max_connections_per_client: 0 },
  defaults: { health_check: FAST_CHECKS },
  tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
});

function adminOf(c: ChildProxy): string {
  return `http://127.0.0.1:${/"admin":"[^"]*:(\d+)"/.exec(c.output())![1]}`;
}

async function ready(c: ChildProxy): Promise<void> {
  await waitFor(async () => (await admin(adminOf(c), 'GET', '/readyz')).status === 200, { what: 'ready' });
}

async function served(port: number): Promise<void> {
  await waitFor(async () => {
    const r = await request(`http://127.0.0.1:${port}/after`, { headers: { host: 't.example.com' } });
    await r.body.dump();
    return r.statusCode === 200;
  }, { what: 'served again', timeout: 15_000 });
}

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
});

afterAll(async () => {
  destroyAll(held);
  await child?.kill('SIGKILL');
  await stopAll(a1, b1);
});

describe('accept() failing with EMFILE', () => {
  it('with no descriptor left for a new connection: the process lives on and serves again once some free up', async () => {
    // How many descriptors drproxy holds when idle and ready (listeners, probes, state, pipes);
    // start-up needs more: Node's ESM loader reads a whole level of the import graph at once
    // (~120 modules before issue 19; 60 spare hit EMFILE once drills, evidence, notifications
    // and safety rules were imported too).
    const probe = await spawnProxy(doc());
    await ready(probe);
    const idle = readdirSync(`/proc/${probe.proc.pid}/fd`).length;
    await probe.kill('SIGTERM');
    const limit = idle + 150;
    child = await spawnProxy(doc(), undefined, {}, { openFiles: limit });
    await ready(child);
    // Idle admin connections take all but a few descriptors, then the data plane is flooded:
    // its cap (limit / 2, fd_reserve 0) is above what is left, so accept() runs out first.
    const used = readdirSync(`/proc/${child.proc.pid}/fd`).length;
    // At most 50 from one address: the admin listener caps a client at 64 connections.
    const adminPort = Number(new URL(adminOf(child)).port);
    for (let left = limit - used - 5, host = 3; left > 0; left -= 50, host++) {
      held.push(...(await openMany(adminPort, Math.min(50, left), { localAddress: `127.0.0.${host}`, batch: 10 })));
    }
    // Flooded ten at a time until libuv sheds one: descriptors that were still in use when
    // `used` was read (start-up reads finishing) may have freed up since, so a fixed count can
    // fall short on a busy machine.
    const flood: Tracked[] = [];
    const shed = (): boolean => flood.some((t) => t.closedAt !== undefined && t.data === '');
    await waitFor(async () => {
      if (shed()) return true;
      if (flood.length < 200) flood.push(...(await openMany(child!.port, 10, { localAddress: '127.0.0.2', batch: 10 })));
      return shed();
    }, { what: 'a connection shed by libuv' });
    held.push(...flood);
    expect(child.proc.exitCode).toBeNull();
    destroyAll(held);
    await served(child.port);
    expect((await admin(adminOf(child), 'GET', '/readyz')).status).toBe(200);
    expect(child.proc.exitCode).toBeNull();
  });

  it('reported by Node as an error event on a listener: counted and logged, never thrown', async () => {
    const p = await startProxy(doc());
    try {
      // What Node's net.Server emits when libuv reports the failed accept().
      const acceptError = (code: string) => Object.assign(new Error(`accept ${code}`), { code, errno: code === 'EMFILE' ? -24 : -23, syscall: 'accept' });
      for (let i = 0; i < 3; i++) p.proxy.dataPlane.server.emit('error', acceptError('EMFILE'));
      p.proxy.dataPlane.server.emit('error', acceptError('ENFILE'));
      p.proxy.admin!.server.emit('error', acceptError('EMFILE'));
      const lines = p.logs.filter((l) => l.event === 'connections_refused');
      expect(lines).toHaveLength(2);
      expect(lines.find((l) => l.listener === 'data plane')).toMatchObject({ level: 'warn', reason: 'accept_error', refused: 1, top: 'EMFILE' });
      // The admin listener's guard counts and logs its own, apart.
      expect(lines.find((l) => l.listener === 'admin')).toMatchObject({ level: 'warn', reason: 'accept_error', refused: 1, top: 'EMFILE' });
      const m = await admin(p.adminUrl, 'GET', '/metrics');
      expect(m.text).toContain('drproxy_connections_refused_total{reason="accept_error"} 4');
      expect(m.text).toContain('drproxy_admin_connections_refused_total{reason="accept_error"} 1');
      await served(p.port);
    } finally {
      await p.stop();
    }
  });
});

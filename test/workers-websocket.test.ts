/**
 * WebSocket upgrades under server.workers (src/workers/): a worker takes the upgrade over and
 * relays both ways, stamped with the epoch; at a flip, each worker's drain closes its own
 * upgraded connections to the old site.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';

let a1: Upstream, b1: Upstream;
let p: TestProxy;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  p = await startProxy({
    server: { workers: 2 },
    defaults: { health_check: { interval: '1s', timeout: '1s', rise: 1, fall: 3, jitter: 0 }, failover: { mode: 'manual', drain_timeout: '300ms' } },
    tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(a1, b1);
});

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/socket`, { headers: { host: 't.example.com' } });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function echo(ws: WebSocket, m: string): Promise<string> {
  return new Promise((resolve) => {
    ws.once('message', (d) => resolve(d.toString()));
    ws.send(m);
  });
}

describe('WebSocket through data-plane workers', () => {
  it('relays both ways, and every worker closes its upgraded connections to the old site at a flip', async () => {
    // Several connections: with reusePort they land on both workers.
    const sockets = await Promise.all(Array.from({ length: 6 }, () => open()));
    for (const [i, ws] of sockets.entries()) expect(await echo(ws, `m${i}`)).toBe(`a1:m${i}`);
    expect((await a1.stats()).lastHeaders!['x-dr-epoch']).toBe('1');
    const closed = sockets.map((ws) => new Promise<number>((r) => ws.once('close', (code) => r(code))));
    await p.proxy.tenant('t')!.operatorFailover({ to: 'b1', reason: 'move', actor: 'test' });
    expect((await Promise.all(closed)).length).toBe(6);
    const again = await open();
    expect(await echo(again, 'after')).toBe('b1:after');
    again.close();
  });
});

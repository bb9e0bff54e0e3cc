/**
 * Issue 23, item 3: a pool connect made while a pre-connect dial is still in flight takes that
 * dial's socket when it completes (WarmSockets.takeOrWait, through warmConnector) instead of
 * dialling again. A flip starts its pre-connect while it persists the epoch; on a busy event
 * loop the route can come out first, and the first held request would then open a connection
 * of its own next to the one already under way. Real sockets on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net, { type AddressInfo, type Socket } from 'node:net';
import { buildConnector } from 'undici';
import { WarmSockets, warmConnector } from '../src/proxy/warm-sockets.js';

let server: net.Server;
let port: number;
let accepted = 0;

beforeAll(async () => {
  server = net.createServer(() => accepted++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const options = (p: number) => ({ hostname: '127.0.0.1', host: `127.0.0.1:${p}`, protocol: 'http:', port: String(p) }) as const;

function connect(w: WarmSockets, p: number): Promise<Socket> {
  const c = warmConnector(buildConnector({ timeout: 1000 }), () => w);
  return new Promise((resolve, reject) => c(options(p), (err, s) => (err ? reject(err) : resolve(s as Socket))));
}

describe('a pool connect while a pre-connect dial is in flight', () => {
  it('takes the socket of that dial when it completes, and dials nothing itself', async () => {
    accepted = 0;
    const w = new WarmSockets(buildConnector({ timeout: 1000 }), options(port), 60_000);
    w.prefill(1);
    expect(w.size).toBe(0); // still connecting
    const s = await connect(w, port);
    expect(s.destroyed).toBe(false);
    expect(w.taken).toBe(1);
    expect(w.size).toBe(0);
    // One connection in all: the pre-connect's.
    await new Promise((r) => setImmediate(r));
    expect(accepted).toBe(1);
    s.destroy();
    w.close();
  });

  it('dials itself when that dial fails, and when no dial is in flight', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const w = new WarmSockets(buildConnector({ timeout: 1000 }), options(dead), 60_000);
    w.prefill(1);
    // The pre-connect is refused; the pool's own connect is refused too, and says so.
    await expect(connect(w, dead)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    w.close();
    accepted = 0;
    const idle = new WarmSockets(buildConnector({ timeout: 1000 }), options(port), 60_000);
    const s = await connect(idle, port); // nothing warm, nothing in flight: a plain dial
    expect(idle.taken).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(accepted).toBe(1);
    s.destroy();
    idle.close();
  });
});

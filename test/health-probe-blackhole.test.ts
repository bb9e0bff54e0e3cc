/**
 * A black-holed backend (SYNs dropped: a partition, a host gone) leaves a probe's connect
 * pending, and undici cannot cancel it (its connect timeout is 10 s). A check whose last probe
 * timed out before its connection opened opens no other connection until that connect ends:
 * its probes wait a timeout for it meanwhile, and fail. Before, every probe opened one more: a probe every 50 ms
 * reached 64 pending connects (the per-origin limit) in about three seconds, and a partitioned
 * region of thousands of backends would have held tens of thousands of sockets.
 *
 * The black hole is made on 127.0.0.1: a stopped process whose listening socket has a backlog
 * of 1, already full, so the kernel drops further SYNs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { HealthRegistry, type HealthHandle } from '../src/health/registry.js';
import { healthCheckConfig } from './helpers/health-config.js';
import { waitFor } from './helpers/poll.js';

let hole: ChildProcess | undefined;
let fillers: net.Socket[] = [];
let reg: HealthRegistry | undefined;
let handle: HealthHandle | undefined;

afterEach(async () => {
  handle?.release();
  await reg?.close();
  for (const f of fillers) f.destroy();
  hole?.kill('SIGKILL');
  hole = reg = handle = undefined;
  fillers = [];
});

/**
 * A port on 127.0.0.1 where connects hang: an HTTP server answering 200, stopped, its accept
 * queue (backlog 1) full. SIGCONT opens it again.
 */
async function blackHole(): Promise<number> {
  const server = "const s = require('http').createServer((q, r) => r.end('ok')); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));";
  hole = spawn(process.execPath, ['-e', server], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number(await new Promise<string>((resolve) => hole!.stdout!.once('data', (d: Buffer) => resolve(String(d).trim()))));
  hole.kill('SIGSTOP');
  for (let i = 0; i < 4; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => {}));
  return port;
}

/** Sockets of this machine in SYN_SENT to `port` on 127.0.0.1 (/proc/net/tcp). */
function connecting(port: number): number {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[2] === hex && f[3] === '02';
    }).length;
}

describe('probes of a black-holed backend', () => {
  it('time out, and then wait on the connect they left instead of opening more', async () => {
    const port = await blackHole();
    // The fillers settled: each one either in the accept queue or left connecting.
    const { before } = await waitFor(
      () => {
        const n = connecting(port);
        return fillers.filter((f) => !f.connecting).length + n === fillers.length ? { before: n } : undefined;
      },
      { what: "the black hole's own connections settled" },
    );
    reg = new HealthRegistry();
    const errors: Array<string | undefined> = [];
    handle = reg.acquire(`http://127.0.0.1:${port}`, healthCheckConfig({ interval: '50ms', timeout: '50ms', rise: 1, fall: 1, jitter: 0 }), {
      onResult: (r) => void errors.push(r.error),
      everyResult: true,
    });
    reg.start();
    await waitFor(() => handle!.check.state === 'down', { what: 'the black-holed backend down' });
    expect(errors[0]).toBe('timeout after 50ms');
    // 60 more probes (~3 s). Each with its own connect, pending for 10 s, they would hold 64
    // connecting sockets by now (the per-origin limit); here, the first probe's only.
    const seen = errors.length;
    await waitFor(() => errors.length >= seen + 60, { what: '60 more probes', timeout: 15_000 });
    expect(connecting(port) - before).toBeLessThanOrEqual(1);
    expect(handle.check.lastResult?.error).toBe('timeout after 50ms (an earlier probe is still waiting for its connection or its answer)');
    expect(handle.check.state).toBe('down');

    // The way opens again: the pending connect completes at its next SYN retransmission (or
    // fails at undici's 10 s connect timeout), and the next probe finds the backend up.
    hole!.kill('SIGCONT');
    await waitFor(() => handle!.check.state === 'up', { what: 'the backend up again', timeout: 12_000 });
  });
});

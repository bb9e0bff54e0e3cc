/**
 * A black-holed backend (SYNs dropped: a partition, a host gone) leaves a probe's connect
 * pending. Each probe's connect gives up with the probe's own timeout, so the probes of such a
 * backend do not pile up connecting sockets. With undici's default connect timeout (10 s), a
 * probe every 50 ms reached 64 pending connects (the per-origin limit) in about three seconds.
 *
 * The black hole is made on 127.0.0.1: a stopped process whose listening socket has a backlog
 * of 1, already full, so the kernel drops further SYNs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** A port on 127.0.0.1 where connects hang. */
async function blackHole(): Promise<number> {
  hole = spawn(process.execPath, ['-e', "const s = require('net').createServer(() => {}); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));"], { stdio: ['ignore', 'pipe', 'inherit'] });
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
  it('time out, and their connects give up with them instead of piling up', async () => {
    const port = await blackHole();
    await sleep(200);
    const before = connecting(port);
    reg = new HealthRegistry();
    handle = reg.acquire(`http://127.0.0.1:${port}`, healthCheckConfig({ interval: '50ms', timeout: '50ms', rise: 1, fall: 1, jitter: 0 }), { onResult() {} });
    reg.start();
    await waitFor(() => handle!.check.state === 'down', { what: 'the black-holed backend down' });
    expect(handle.check.lastResult?.error).toBe('timeout after 50ms');
    // ~80 probes in 4 s. Pending for 10 s each, they would hold 64 connecting sockets by now
    // (the per-origin limit); given up with the probe (undici's connect timer ticks every
    // ~0.5 s), a second's worth at most.
    await sleep(4000);
    expect(connecting(port) - before).toBeLessThanOrEqual(32);
  });
});

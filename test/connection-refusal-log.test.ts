/**
 * Refused connections are logged rate-limited: at most one warn line per reason per window,
 * with the count since the last line and the client address that had most — never one line
 * per connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import { RefusalLog } from '../src/proxy/refusal-log.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, twoSiteTenant, FAST_CHECKS, type TestProxy } from './helpers/proxy.js';
import { destroyAll, openMany, type Tracked } from './helpers/sockets.js';
import { waitFor } from './helpers/poll.js';

type Line = Record<string, unknown>;

function memoryLogger(): { lines: Line[]; logger: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  return { lines, logger: createLogger({ level: 'debug', destination: { write: (l: string) => void lines.push(JSON.parse(l) as Line) } }) };
}

/** Between two log lines, by their timestamps (ms). */
function msBetween(a: Line, b: Line): number {
  return Date.parse(String(b.time)) - Date.parse(String(a.time));
}

describe('RefusalLog', () => {
  it('logs the first refusal at once, then one line per window with the count and the top key', async () => {
    const { lines, logger } = memoryLogger();
    const log = new RefusalLog<'cap'>(logger, 300, 'test');
    log.note('cap', '10.0.0.1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', event: 'connections_refused', reason: 'cap', refused: 1, top: '10.0.0.1', top_refused: 1 });
    for (let i = 0; i < 40; i++) log.note('cap', '10.0.0.2');
    for (let i = 0; i < 10; i++) log.note('cap', '10.0.0.3');
    expect(lines).toHaveLength(1);
    await waitFor(() => lines.length === 2, { what: 'the window line' });
    expect(msBetween(lines[0]!, lines[1]!)).toBeGreaterThanOrEqual(295);
    expect(lines[1]).toMatchObject({ reason: 'cap', refused: 50, top: '10.0.0.2', top_refused: 40 });
    expect(String(lines[1]!.msg)).toContain('50 connections refused (cap)');
    // The next refusal waits for the end of the window that the last line opened.
    log.note('cap', '10.0.0.4');
    await waitFor(() => lines.length === 3, { what: 'the next window line' });
    expect(msBetween(lines[1]!, lines[2]!)).toBeGreaterThanOrEqual(295);
    expect(lines[2]).toMatchObject({ refused: 1, top: '10.0.0.4' });
    log.close();
    expect(lines).toHaveLength(3);
  });

  it('keeps reasons apart and flushes what is pending on close', () => {
    const { lines, logger } = memoryLogger();
    const log = new RefusalLog<'a' | 'b'>(logger, 60_000, 'test');
    log.note('a', 'x');
    log.note('b', 'y');
    log.note('a', 'x');
    log.note('a', 'z');
    expect(lines.map((l) => [l.reason, l.refused])).toEqual([['a', 1], ['b', 1]]);
    log.close();
    expect(lines.map((l) => [l.reason, l.refused])).toEqual([['a', 1], ['b', 1], ['a', 2]]);
  });
});

describe('refused connections on the data plane', () => {
  let a1: Upstream, b1: Upstream;
  let p: TestProxy;
  const held: Tracked[] = [];

  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({
      server: { headers_timeout: '30s', max_connections_per_client: 1 },
      defaults: { health_check: FAST_CHECKS },
      tenants: { t: twoSiteTenant('t.example.com', a1, b1) },
    });
  });

  afterAll(async () => {
    destroyAll(held);
    await p?.stop();
    await stopAll(a1, b1);
  });

  it('are logged once, then in one line per 10 s, never per connection', async () => {
    const refusals = () => p.logs.filter((l) => l.event === 'connections_refused');
    held.push(...(await openMany(p.port, 1, { localAddress: '127.0.0.2' })), ...(await openMany(p.port, 1, { localAddress: '127.0.0.3' })));
    const burst = [...(await openMany(p.port, 30, { localAddress: '127.0.0.2' })), ...(await openMany(p.port, 5, { localAddress: '127.0.0.3' }))];
    held.push(...burst);
    await Promise.all(burst.map((t) => t.closed));
    expect(burst.every((t) => t.data.startsWith('HTTP/1.1 503 '))).toBe(true);
    expect(refusals()).toHaveLength(1);
    expect(refusals()[0]).toMatchObject({ level: 'warn', reason: 'max_connections_per_client', refused: 1, top: '127.0.0.2' });
    await waitFor(() => refusals().length === 2, { what: 'the aggregated line', timeout: 13_000, interval: 100 });
    expect(refusals()[1]).toMatchObject({ reason: 'max_connections_per_client', refused: 34, top: '127.0.0.2', top_refused: 29 });
  }, 30_000);
});

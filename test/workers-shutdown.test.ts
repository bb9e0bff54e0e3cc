/**
 * Graceful stop under server.workers (a real child process, SIGTERM): every worker closes its
 * listeners and lets its in-flight requests finish (server.shutdown_timeout), keep-alive clients
 * are told to close, and the process exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { spawnProxy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

let up: Upstream;

beforeAll(async () => {
  up = await startUpstream('a1');
});

afterAll(async () => {
  await stopAll(up);
});

describe('SIGTERM with data-plane workers', () => {
  it('finishes the requests in flight in every worker, then exits 0', async () => {
    const px = await spawnProxy({
      server: { shutdown_timeout: '5s', workers: 2 },
      tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [up.url] }] } },
    });
    const pool = new Pool(px.url, { connections: 16 });
    const results: Array<{ status?: number; connection?: string; error?: string }> = [];
    const send = async (path: string) => {
      try {
        const r = await pool.request({ path, method: 'GET', headers: { host: 'acme.example.com' } });
        await r.body.dump();
        results.push({ status: r.statusCode, connection: r.headers.connection as string });
      } catch (err) {
        results.push({ error: (err as { code?: string }).code ?? (err as Error).message });
      }
    };
    // Several connections: with reusePort they land on both workers.
    const slow = Array.from({ length: 6 }, () => send('/slow?ms=1500'));
    await waitFor(async () => (await up.stats()).byPath['/slow'] === 6, { what: 'slow requests in flight' });
    const exited = new Promise<number | null>((r) => px.proc.once('exit', (code) => r(code)));
    px.proc.kill('SIGTERM');
    await Promise.all(slow);
    expect(await exited).toBe(0);
    await pool.close();
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    expect(results.every((r) => r.connection === 'close')).toBe(true);
    expect(px.output()).toMatch(/"msg":"drproxy stopped"/);
  });
});

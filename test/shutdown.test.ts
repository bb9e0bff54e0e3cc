import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { Pool, request } from 'undici';
import { parse, stringify } from 'yaml';
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

const doc = () => ({
  server: { shutdown_timeout: '5s' },
  tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [up.url] }] } },
});

describe('SIGTERM under load', () => {
  it('fails no request that was accepted: slow ones finish, keep-alive clients are told to close, exit 0', async () => {
    const px = await spawnProxy(doc());
    const admin = /"admin":"[^"]*:(\d+)"/.exec(px.output())![1];
    const pool = new Pool(px.url, { connections: 16 });
    const results: Array<{ status?: number; connection?: string; error?: string; path: string }> = [];
    const send = async (path: string) => {
      try {
        const r = await pool.request({ path, method: 'GET', headers: { host: 'acme.example.com' } });
        await r.body.dump();
        results.push({ status: r.statusCode, connection: r.headers.connection as string, path });
      } catch (err) {
        results.push({ error: (err as { code?: string }).code ?? (err as Error).message, path });
      }
    };
    // Slow requests in flight when the signal comes: they must finish, not be cut.
    const slow = [1, 2, 3, 4].map(() => send('/slow?ms=1500'));
    await waitFor(async () => (await up.stats()).byPath['/slow'] === 4, { what: 'slow requests in flight' });
    const exited = new Promise<number | null>((r) => px.proc.once('exit', (code) => r(code)));
    px.proc.kill('SIGTERM');
    // readyz goes red while in-flight requests finish (the slow ones keep the process up).
    await waitFor(
      async () => {
        const ready = await request(`http://127.0.0.1:${admin}/readyz`);
        await ready.body.dump();
        return ready.statusCode === 503;
      },
      { what: '/readyz red', timeout: 1400 },
    );
    // More requests on the open keep-alive connections while draining.
    const during: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) during.push(send('/during'));
    await Promise.all([...slow, ...during]);
    expect(await exited).toBe(0);
    await pool.close();
    const slowOnes = results.filter((r) => r.path.startsWith('/slow'));
    expect(slowOnes.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(slowOnes.every((r) => r.connection === 'close')).toBe(true);
    // Requests that did get an answer got a good one; the others were never accepted
    // (connection refused once the listener closed), not cut mid-way.
    for (const r of results.filter((x) => x.path === '/during')) {
      if (r.status !== undefined) expect(r.status).toBe(200);
      else expect(r.error).toMatch(/ECONNREFUSED|UND_ERR_SOCKET|ECONNRESET/);
    }
    expect(px.output()).toMatch(/"msg":"drproxy stopped"/);
  });
});

describe('SIGHUP', () => {
  it('reloads the config file; a broken file changes nothing', async () => {
    const px = await spawnProxy(doc());
    try {
      const text = await readFile(px.configFile, 'utf8');
      const cfg = parse(text) as { listen: string; admin: { listen: string }; tenants: Record<string, { hosts: string[] }> };
      const admin = /"admin":"[^"]*:(\d+)"/.exec(px.output())![1];
      cfg.listen = `127.0.0.1:${px.port}`;
      cfg.admin.listen = `127.0.0.1:${admin}`;
      cfg.tenants.acme!.hosts.push('new.example.com');
      await writeFile(px.configFile, stringify(cfg));
      px.proc.kill('SIGHUP');
      await waitFor(async () => {
        const r = await request(`${px.url}/`, { headers: { host: 'new.example.com' } });
        await r.body.dump();
        return r.statusCode === 200;
      }, { what: 'the new host served' });
      await writeFile(px.configFile, 'tenants: [broken\n');
      px.proc.kill('SIGHUP');
      await waitFor(() => /reload refused/.test(px.output()), { what: 'the refusal in the log' });
      const r = await request(`${px.url}/`, { headers: { host: 'new.example.com' } });
      expect(r.statusCode).toBe(200);
      await r.body.dump();
    } finally {
      await px.kill();
    }
  });
});

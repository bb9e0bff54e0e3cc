/**
 * `npm start` (issue 17, item 13) ran config/drproxy.example.yaml, whose backends were
 * 10.0.x.x addresses and 127.0.0.1:9001: on a fresh clone it probed other people's networks
 * and served nothing. It now runs config/local.yaml in front of stand-in sites that it starts
 * itself (src/demo/local.ts). This test runs the launcher of package.json's start script on a
 * copy of config/local.yaml with free ports and a temporary state directory, waits for /readyz
 * and a request served by a stand-in site, then stops it with SIGTERM and sees the sites go.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { tempDir } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let proc: ChildProcess | undefined;
afterEach(() => {
  if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
});

describe('npm start', () => {
  it('runs config/local.yaml: starts its stand-in sites and drproxy, answers /readyz, serves, stops', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const launcher = /node (dist\/demo\/local\.js)$/.exec(pkg.scripts.start!)?.[1];
    expect(launcher, 'the start script ends with `node dist/demo/local.js`').toBeDefined();

    const doc = parse(await readFile(join(ROOT, 'config/local.yaml'), 'utf8')) as {
      listen: string;
      admin: { listen: string };
      state: { dir: string };
      tenants: Record<string, { hosts: string[]; sites: Array<{ name: string; backends: string[] }> }>;
    };
    const [listen, adminPort, site1, site2] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    doc.listen = `127.0.0.1:${listen}`;
    doc.admin.listen = `127.0.0.1:${adminPort}`;
    const dir = await tempDir('drproxy-start-');
    doc.state.dir = join(dir, 'state');
    const tenant = Object.values(doc.tenants)[0]!;
    expect(tenant.sites.map((s) => s.backends.length)).toEqual([1, 1]);
    tenant.sites[0]!.backends = [`http://127.0.0.1:${site1}`];
    tenant.sites[1]!.backends = [`http://127.0.0.1:${site2}`];
    const file = join(dir, 'local.yaml');
    await writeFile(file, stringify(doc));

    const p = spawn(process.execPath, [join(ROOT, launcher!), '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));

    const ready = await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`npm start exited (${p.exitCode}):\n${out}`);
        const r = await request(`http://127.0.0.1:${adminPort}/readyz`);
        return (await r.body.json()) as { ready: boolean };
      },
      { timeout: 15_000, what: `/readyz of npm start's drproxy` },
    );
    expect(ready).toEqual({ ready: true });
    // Served by the first site once its stand-in passed its health checks.
    const served = await waitFor(
      async () => {
        const r = await request(`http://127.0.0.1:${listen}/hello`, { headers: { host: tenant.hosts[0]! } });
        return r.statusCode === 200 ? ((await r.body.json()) as { site: string }) : (await r.body.dump(), undefined);
      },
      { timeout: 15_000, what: 'a request served through drproxy' },
    );
    expect(served.site).toBe(tenant.sites[0]!.name);

    const pids = [...out.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2);
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor(() => pids.every((pid) => !alive(pid)), { what: 'the stand-in sites to stop' });
  }, 40_000);
});

/**
 * The stdout log (pino's asynchronous sonic-boom) survives its destination failing, with
 * drproxy as a child process: stdout redirected to a file on a full tmpfs (ENOSPC), a pipe
 * whose reader has gone (EPIPE), and a pipe whose reader stopped reading (a full pipe). In each
 * case the process keeps running and serving, the failures are counted
 * (drproxy_log_write_errors_total), an alert goes to stderr, and logging resumes once the
 * destination takes lines again. Before, one ENOSPC on stdout was an unhandled 'error' event.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { stringify } from 'yaml';
import { adminTokens, VIEWER } from './helpers/admin.js';
import { tempDir, testConfigDoc } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { SKIP_REASON, tmpfs } from './helpers/tmpfs.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const fs = tmpfs('1m');
afterAll(() => fs.unmount());

let proc: ChildProcess | undefined;
afterEach(async () => {
  if (proc && proc.exitCode === null && proc.signalCode === null) {
    const exited = new Promise((r) => proc!.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }
  proc = undefined;
});

/** drproxy with stdout on `stdout` ('pipe' or an fd); stderr collected. */
async function launch(stdout: 'pipe' | number): Promise<{ proc: ChildProcess; stderr: () => string }> {
  const doc = await testConfigDoc({
    log: { level: 'info' },
    admin: { ...adminTokens(), rate_limit: { rate: 100_000, burst: 100_000 } },
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }] } },
  });
  const file = join(await tempDir('drproxy-cfg-'), 'drproxy.yaml');
  await writeFile(file, stringify(doc));
  proc = spawn(process.execPath, [CLI, '--config', file], { stdio: ['ignore', stdout, 'pipe'], env: { ...process.env } });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { proc, stderr: () => err };
}

const alive = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;

async function get(port: number, path: string, token?: string): Promise<{ status: number; text: string }> {
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, headersTimeout: 5000, bodyTimeout: 5000 });
  return { status: r.statusCode, text: await r.body.text() };
}

/** `n` audited calls: each is one log line of ~300 bytes. */
async function logLines(port: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await get(port, '/status', VIEWER)).status).toBe(200);
}

async function logErrors(port: number): Promise<number> {
  return Number(/^drproxy_log_write_errors_total (\d+)/m.exec((await get(port, '/metrics')).text)?.[1] ?? 0);
}

describe.skipIf(!fs.mounted)(`stdout on a full disk (${fs.mounted ? 'tmpfs' : SKIP_REASON})`, () => {
  it('ENOSPC on stdout: alive, serving, counted, alerted on stderr; logging resumes once there is space', async () => {
    const logFile = join(fs.dir, 'stdout.log');
    const fd = openSync(logFile, 'w');
    const { stderr } = await launch(fd);
    closeSync(fd);
    const port = Number(await waitFor(async () => /"admin":"[^"]*:(\d+)"/.exec(await readFile(logFile, 'utf8'))?.[1], { what: 'the admin port' }));
    await fs.fill();
    // The file's last page has room for a few lines: enough calls to need a new page.
    await logLines(port, 40);
    await waitFor(async () => (await logErrors(port)) > 0, { what: 'a log write error counted' });
    await logLines(port, 40);
    expect(alive(), stderr()).toBe(true);
    expect((await get(port, '/healthz')).status).toBe(200);
    expect(stderr()).toMatch(/the log on fd 1 cannot be written \(ENOSPC\)/);
    expect(stderr().match(/cannot be written/g)).toHaveLength(1); // rate-limited

    await fs.unfill();
    const marker = `/status?after-unfill`;
    await waitFor(
      async () => {
        await get(port, marker, VIEWER);
        return (await readFile(logFile, 'utf8')).includes('admin status by grafana');
      },
      { what: 'log lines written again', interval: 300 },
    );
    expect(alive()).toBe(true);
  });
});

describe('stdout on a pipe', () => {
  it('EPIPE (the reader is gone): alive and serving', async () => {
    const { proc: p, stderr } = await launch('pipe');
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const port = Number(await waitFor(() => /"admin":"[^"]*:(\d+)"/.exec(out)?.[1], { what: 'the admin port' }));
    p.stdout!.destroy();
    await logLines(port, 50);
    expect(alive(), stderr()).toBe(true);
    expect((await get(port, '/healthz')).status).toBe(200);
    expect(await logErrors(port)).toBeGreaterThan(0);
  });

  it('a full pipe (the reader stopped reading): alive and serving; the lines arrive once it reads again', async () => {
    const { proc: p, stderr } = await launch('pipe');
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const port = Number(await waitFor(() => /"admin":"[^"]*:(\d+)"/.exec(out)?.[1], { what: 'the admin port' }));
    p.stdout!.pause();
    await logLines(port, 1000); // ~300 KB of log: far more than a pipe holds
    expect(alive(), stderr()).toBe(true);
    expect((await get(port, '/healthz')).status).toBe(200);
    const seen = out.length;
    p.stdout!.resume();
    await waitFor(() => (out.match(/admin status by grafana/g)?.length ?? 0) >= 1000, { what: 'every line delivered' });
    expect(out.length).toBeGreaterThan(seen);
  });
});

/**
 * The real Prometheus tools for tests (Debian package `prometheus`: /usr/bin/prometheus and
 * /usr/bin/promtool, installed by .ci/run). In CI a missing tool is a failure; on a developer's
 * machine the tests that need it skip with a message saying what to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { stringify } from 'yaml';
import { tempDir } from './proxy.js';
import { waitFor } from './poll.js';

export interface Tool {
  path: string | undefined;
  /** Why the tests that need it skip (empty when it was found). */
  skipReason: string;
}

/** Find `name` on PATH; throws in CI (CI=true) when it is missing, as .ci/run installs it. */
export function findTool(name: 'prometheus' | 'promtool'): Tool {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = r.status === 0 ? r.stdout.trim() : undefined;
  if (path) return { path, skipReason: '' };
  const why = `${name} is not installed (apt-get install prometheus: the Debian package has prometheus and promtool)`;
  if (process.env.CI) throw new Error(`CI: ${why}`);
  return { path: undefined, skipReason: why };
}

/** Run a tool to completion; its exit code and both outputs. */
export function run(path: string, args: string[], cwd?: string): { code: number | null; output: string } {
  const r = spawnSync(path, args, { encoding: 'utf8', cwd, timeout: 30_000 });
  return { code: r.status, output: `${r.stdout}${r.stderr}${r.error ? String(r.error) : ''}` };
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface TestPrometheus {
  url: string;
  proc: ChildProcess;
  output(): string;
  /** GET /api/v1/<path>; the `data` of a `success` answer, else throws with the error. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Start Prometheus on 127.0.0.1 (free port, temp data dir) scraping `targets` (host:port) as job
 * `drproxy` every second, with `ruleFiles` loaded; resolves once it is ready.
 */
export async function startPrometheus(bin: string, targets: string[], ruleFiles: string[]): Promise<TestPrometheus> {
  const dir = await tempDir('drproxy-prom-');
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: [{ job_name: 'drproxy', metrics_path: '/metrics', static_configs: [{ targets }] }],
  };
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, stringify(config));
  const port = await freePort();
  const args = [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'];
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const kill = () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL');
  process.once('exit', kill);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    // A clean shutdown takes well under a second; do not let a stuck one hold the run.
    const hard = setTimeout(kill, 10_000);
    await exited;
    clearTimeout(hard);
    process.off('exit', kill);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (proc.exitCode !== null) throw new Error(`prometheus exited (${proc.exitCode}): ${out}`);
        const r = await request(`${url}/-/ready`);
        await r.body.dump();
        return r.statusCode === 200;
      },
      { timeout: 20_000, interval: 100, what: 'prometheus ready' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    proc,
    output: () => out,
    async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
      const r = await request(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`);
      const body = (await r.body.json()) as { status: string; data: T; error?: string };
      if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error ?? r.statusCode}`);
      return body.data;
    },
    stop,
  };
}

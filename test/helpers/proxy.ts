/** Start drproxy for a test: in-process (fast, inspectable) or as a child process (killable). */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/index.js';
import { DrProxy, type DrProxyOptions } from '../../src/drproxy.js';
import { createLogger } from '../../src/log.js';
import type { ConnectionCounts } from '../../src/metrics/connections.js';
import { waitFor } from './poll.js';
import { startUpstream, stopAll, type Upstream } from './upstream.js';

export interface TestProxy {
  proxy: DrProxy;
  url: string;
  /** http://127.0.0.1:PORT of the admin API. */
  adminUrl: string;
  port: number;
  /** Each `listen` entry's port, in order: the in-process data plane's, or the workers'. */
  ports: number[];
  stateDir: string;
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function tempDir(prefix = 'drproxy-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * A test proxy whose config does not set `server.workers` runs the single loop (0), not the
 * default (`auto`): most tests read the in-process data plane (its server, Backends, slots),
 * and the workers' own tests set the count. DRPROXY_TEST_WORKERS=N runs them with N data-plane
 * worker threads instead (the threaded data plane's parity with inline, issue 23).
 */
function withTestWorkers(doc: Record<string, unknown>): Record<string, unknown> {
  const env = process.env.DRPROXY_TEST_WORKERS;
  const server = (doc.server ?? {}) as Record<string, unknown>;
  if (server.workers !== undefined) return doc;
  const workers = env === undefined || env === '' ? 0 : env === 'auto' ? env : Number(env);
  return { ...doc, server: { ...server, workers } };
}

/** A config document with test defaults: loopback listeners on free ports, a fresh state dir. */
export async function testConfigDoc(doc: Record<string, unknown>, stateDir?: string): Promise<Record<string, unknown>> {
  return {
    listen: '127.0.0.1:0',
    ...withTestWorkers(doc),
    admin: { listen: '127.0.0.1:0', ...(doc.admin as object | undefined) },
    state: { dir: stateDir ?? (await tempDir()), ...(doc.state as object | undefined) },
  };
}

export async function startProxy(doc: Record<string, unknown>, opts: DrProxyOptions & { stateDir?: string; configFile?: string } = {}): Promise<TestProxy> {
  const full = await testConfigDoc(doc, opts.stateDir);
  const text = stringify(full);
  // With a config file, the proxy can reload it (tests rewrite the file, then POST /reload).
  if (opts.configFile) await writeFile(opts.configFile, text);
  const { config } = parseConfigText(text, opts.configFile ?? 'test.yaml', tmpdir());
  if (opts.configFile) config.source = opts.configFile;
  const logs: Record<string, unknown>[] = [];
  const logger =
    opts.logger ??
    createLogger({
      level: 'debug',
      destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
    });
  const proxy = await DrProxy.start(config, { ...opts, logger });
  const port = proxy.address().port;
  return {
    proxy,
    url: `http://127.0.0.1:${port}`,
    adminUrl: proxy.admin ? `http://127.0.0.1:${proxy.admin.address().port}` : '',
    port,
    ports: (proxy.threads ?? proxy.dataPlane).ports().map((n) => n!),
    stateDir: (full.state as { dir: string }).dir,
    logs,
    stop: () => proxy.stop(),
  };
}

/** The data plane's connection counts: the in-process guard's, or the workers' as of a scrape made now. */
export async function connectionCounts(p: TestProxy): Promise<ConnectionCounts> {
  if (p.proxy.threads === undefined) return p.proxy.dataPlane.connections;
  await p.proxy.metricsText();
  return p.proxy.threads.connections;
}

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface ChildProxy {
  proc: ChildProcess;
  port: number;
  url: string;
  configFile: string;
  /** http://127.0.0.1:PORT of its admin API (from its start-up log). */
  adminUrl: string;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * Run the built CLI (dist/) on a config document; resolves once it listens. `openFiles` runs
 * it under `ulimit -n openFiles` (through sh, as an init script would).
 */
export async function spawnProxy(doc: Record<string, unknown>, stateDir?: string, env: Record<string, string> = {}, opts: { openFiles?: number } = {}): Promise<ChildProxy> {
  const full = await testConfigDoc({ log: { level: 'info' }, ...doc }, stateDir);
  const dir = await tempDir('drproxy-cfg-');
  const configFile = join(dir, 'drproxy.yaml');
  await writeFile(configFile, stringify(full));
  const args = [CLI, '--config', configFile];
  const [cmd, argv] = opts.openFiles === undefined ? [process.execPath, args] : ['sh', ['-c', `ulimit -n ${opts.openFiles} && exec "$0" "$@"`, process.execPath, ...args]];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = () => {
      const m = /"listen":"[^"]*:(\d+)"/.exec(out);
      if (m) {
        proc.stdout!.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`drproxy exited (${code}) before listening:\n${out}`)));
  });
  // The admin API listens (and logs it) before the data plane.
  const adminPort = /"admin":"[^"]*:(\d+)"/.exec(out)?.[1];
  return {
    proc,
    port,
    url: `http://127.0.0.1:${port}`,
    configFile,
    adminUrl: adminPort === undefined ? '' : `http://127.0.0.1:${adminPort}`,
    output: () => out,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exited;
    },
  };
}

/** The usual test tenant: tier BC, one host, sites a1 (primary) and b1, one backend each. */
export function twoSiteTenant(host: string, a1: { url: string }, b1: { url: string }): Record<string, unknown> {
  return { tier: 'BC', hosts: [host], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] };
}

/** Fast health checks for tests. */
export const FAST_CHECKS = { interval: '100ms', timeout: '80ms', rise: 2, fall: 2, jitter: 0 };

/**
 * Checks that do not flip a tenant by themselves on a loaded machine (FAST_CHECKS' 80 ms timeout
 * did in clean-clone runs, and the state under test moved): for tests of something other than
 * detection (the CLI, a lease).
 */
export const PATIENT_CHECKS = { interval: '200ms', timeout: '1s', rise: 2, fall: 3, jitter: 0 };

/** Wait until every site of a tenant is available (all first probes in and passing). */
export async function sitesHealthy(p: { proxy: DrProxy }, tenant = 't'): Promise<void> {
  await waitFor(() => p.proxy.tenant(tenant)?.sites.every((s) => s.health().available), { what: `all sites of ${tenant} healthy` });
}

export interface TwoSiteSetup {
  primary: Upstream;
  backup: Upstream;
  p: TestProxy;
  /** Stop the proxy and both upstreams. */
  stop(): Promise<void>;
}

/**
 * Tenant t (host t.example.com) on two one-backend sites, a1 and b1, each a real upstream
 * process, with these `defaults`; resolves once both sites are healthy.
 */
export async function startTwoSiteProxy(defaults: Record<string, unknown>): Promise<TwoSiteSetup> {
  const [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const p = await startProxy({ defaults, tenants: { t: twoSiteTenant('t.example.com', primary, backup) } });
  await sitesHealthy(p, 't');
  return {
    primary,
    backup,
    p,
    async stop() {
      await p.stop();
      await stopAll(primary, backup);
    },
  };
}

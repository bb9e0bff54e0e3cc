/**
 * Metrics and the access log under server.workers (src/workers/): /metrics asks every worker at
 * scrape and adds what each counted since its last answer to the tenant's series (never twice),
 * merges the workers' own registries (per-worker connection counts); each worker appends its
 * access-log lines to the same file, whole lines only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { spawnProxy, startProxy, tempDir, type TestProxy, sitesHealthy, twoSiteTenant } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { workerCount } from '../src/workers/worker-count.js';

let primary: Upstream, backup: Upstream;
let p: TestProxy;
let file: string;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  file = join(await tempDir(), 'access.log');
  p = await startProxy({
    server: { workers: 2 },
    access_log: { mode: 'all', destination: file },
    defaults: { health_check: { interval: '1s', timeout: '1s', rise: 1, fall: 3, jitter: 0 }, failover: { mode: 'manual' } },
    tenants: { t: twoSiteTenant('t.example.com', primary, backup) },
  });
  await sitesHealthy(p, 't');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

/** `n` requests, each on a connection of its own (spread over the workers). */
async function send(n: number, path = '/', port = p.port): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: `${path}?i=${i}`, agent: false, headers: { host: 't.example.com' } }, (res) => res.resume().on('end', resolve)).on('error', reject);
    });
  }
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics and access log with data-plane workers', () => {
  it('counts every request once in the tenant series, whatever worker served it', async () => {
    await send(12);
    const first = await p.proxy.metricsText();
    expect(sample(first, 'drproxy_requests_total{tenant="t",code="2xx"}')).toBe(12);
    expect(sample(first, 'drproxy_request_duration_seconds_count{tenant="t"}')).toBe(12);
    // A second scrape adds nothing that was already added.
    expect(sample(await p.proxy.metricsText(), 'drproxy_requests_total{tenant="t",code="2xx"}')).toBe(12);
    await send(5);
    const third = await p.proxy.metricsText();
    expect(sample(third, 'drproxy_requests_total{tenant="t",code="2xx"}')).toBe(17);
    // The workers' own registries, merged: every connection counted by the worker that took it.
    const perWorker = [...third.matchAll(/^drproxy_worker_connections_total\{worker="w\d+"\} (\d+)/gm)].map((m) => Number(m[1]));
    expect(perWorker.reduce((a, b) => a + b, 0)).toBe(17);
    expect(sample(third, 'drproxy_worker_scrape_timeouts_total')).toBe(0);
    // One HELP per family: the exposition stays valid with the workers' text appended.
    const helps = third.split('\n').filter((l) => l.startsWith('# HELP ')).map((l) => l.split(' ')[2]);
    expect(helps.length).toBe(new Set(helps).size);
  });

  it('reports each worker\u2019s own V8 heap, its young generation held at about 8 MB (heap-sizing.ts)', async () => {
    await send(20);
    const text = await p.proxy.metricsText();
    const young = [...text.matchAll(/^drproxy_worker_heap_space_size_bytes\{worker="(w\d+)",space="new"\} (\d+)/gm)];
    // Node < 22.12 runs one worker for `workers: 2` (no reusePort).
    expect(young.map((m) => m[1]).sort()).toEqual(workerCount(2).count === 2 ? ['w1', 'w2'] : ['w1']);
    for (const m of young) expect(Number(m[2])).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(text).toMatch(/^drproxy_worker_heap_space_size_bytes\{worker="w1",space="old"\} [1-9]\d*$/m);
  });

  it('counts the open connections of every worker as the data plane\u2019s (drproxy_connections_open)', async () => {
    const sock = net.connect(p.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    try {
      await waitFor(async () => sample(await p.proxy.metricsText(), 'drproxy_connections_open') === 1, { what: 'one open connection counted' });
    } finally {
      sock.destroy();
    }
    await waitFor(async () => sample(await p.proxy.metricsText(), 'drproxy_connections_open') === 0, { what: 'no open connection' });
  });

  it('every worker appends whole lines to the one access-log file', async () => {
    await send(20, '/logged');
    const lines = await waitFor(
      async () => {
        const all = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter((l) => l.length > 0);
        const logged = all.filter((l) => l.includes('/logged'));
        return logged.length >= 20 ? all : undefined;
      },
      { what: '20 access-log lines', timeout: 10_000 },
    );
    for (const l of lines) expect(() => JSON.parse(l) as unknown, l).not.toThrow();
    expect(lines.filter((l) => (JSON.parse(l) as { path: string }).path === '/logged')).toHaveLength(20);
  });

  it('to stdout, the workers\u2019 lines go through the main thread: every stdout line stays whole', async () => {
    const px = await spawnProxy({
      server: { workers: 2 },
      access_log: { mode: 'all', destination: 'stdout' },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [primary.url] }] } },
    });
    try {
      await send(30, '/stdout', px.port);
      await waitFor(() => px.output().split('\n').filter((l) => l.includes('"path":"/stdout"')).length === 30, { what: '30 access-log lines on stdout' });
      for (const l of px.output().split('\n').filter((x) => x.startsWith('{'))) expect(() => JSON.parse(l) as unknown, l).not.toThrow();
    } finally {
      await px.kill('SIGTERM');
    }
  });
});

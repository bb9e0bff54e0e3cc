/**
 * The access log (issue 17, item 9): one JSON line per request, written to a file or stdout
 * without waiting for it, with the fields an SRE reads in HAProxy's httplog: a proxied
 * request, a retried one, one answered by drproxy itself (502, 504, unknown host), one held
 * during a flip; query strings and credentials left out; sampled mode; off mode writes
 * nothing; a reload reopens the file (rotation).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, type TestProxy } from './helpers/proxy.js';
import { startHoldingProxy, type HoldingSetup } from './helpers/holding.js';
import { waitFor } from './helpers/poll.js';
import { rawRequest } from './helpers/raw.js';
import { AccessLog, accessLogStats, type LineSink } from '../src/proxy/access-log.js';
import { openAccessLog } from '../src/proxy/access-log-writer.js';
import { DEFAULT_ACCESS_LOG } from '../src/config/defaults.js';
import { parseConfigText } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';

type Line = Record<string, unknown>;

async function lines(file: string): Promise<Line[]> {
  const text = existsSync(file) ? await readFile(file, 'utf8') : '';
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
}

/** Waits for the line of the request to `path` on `host` (the write is asynchronous). */
async function lineOf(file: string, host: string, path: string): Promise<Line> {
  return waitFor(async () => (await lines(file)).find((l) => l.host === host && l.path === path), { what: `access log line for ${host}${path}` });
}

async function get(p: TestProxy, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const r = await request(`${p.url}${path}`, { headers: { host, ...headers } });
  return { status: r.statusCode, body: await r.body.text() };
}

describe('access log to a file', () => {
  let good: Upstream, dead: Upstream;
  let p: TestProxy;
  let dir: string;
  let file: string;
  let configFile: string;

  beforeAll(async () => {
    [good, dead] = await Promise.all([startUpstream('good'), startUpstream('dead')]);
    dir = await tempDir('drproxy-alog-');
    file = join(dir, 'access.log');
    configFile = join(dir, 'drproxy.yaml');
    p = await startProxy(
      {
        access_log: { mode: 'all', destination: file },
        // Slow probes and no passive ejection: the dead backend stays in rotation.
        defaults: { health_check: { interval: '30s', timeout: '1s' }, passive_health: { consecutive_failures: 0 }, proxy: { response_timeout: '300ms' } },
        tenants: {
          ok: { tier: 'BC', hosts: ['ok.example.com'], sites: [{ name: 's1', backends: [good.url] }] },
          retry: { tier: 'BC', hosts: ['retry.example.com'], sites: [{ name: 's1', backends: [dead.url, good.url] }] },
          down: { tier: 'BC', hosts: ['down.example.com'], sites: [{ name: 's1', backends: [dead.url] }] },
        },
      },
      { configFile },
    );
    await waitFor(() => ['ok', 'retry', 'down'].every((t) => p.proxy.tenant(t)!.sites[0]!.health().available), { what: 'backends up' });
    // Dies between probes (30 s apart): still routable, refusing connections.
    await dead.kill('SIGKILL');
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(good, dead);
  });

  it('a proxied request: every field, the query string and credentials left out', async () => {
    const before = Date.now();
    const r = await get(p, 'ok.example.com', '/bytes?n=1234&token=s3cr3t', { authorization: 'Bearer hunter2', cookie: 'session=c00kie' });
    expect(r.status).toBe(200);
    const line = await lineOf(file, 'ok.example.com', '/bytes');
    expect(line).toMatchObject({
      client: '127.0.0.1',
      tenant: 'ok',
      site: 's1',
      backend: expect.any(String),
      method: 'GET',
      status: 200,
      bytes_sent: 1234,
      held_ms: 0,
      attempts: 1,
      retries: 0,
      epoch: p.proxy.tenant('ok')!.state.epoch,
      error: null,
      upstream_error: null,
    });
    const t = Date.parse(line.time as string);
    expect(t).toBeGreaterThanOrEqual(before - 5);
    expect(t).toBeLessThanOrEqual(Date.now());
    expect(line.duration_ms).toEqual(expect.any(Number));
    expect(line.upstream_ms as number).toBeLessThanOrEqual(line.duration_ms as number);
    const raw = await readFile(file, 'utf8');
    for (const secret of ['s3cr3t', 'hunter2', 'c00kie', 'authorization', 'cookie']) expect(raw).not.toContain(secret);
  });

  it('a retried request: its retries and the failure that caused them', async () => {
    // The dead backend is first in rotation for about every other request.
    for (let i = 0; i < 6; i++) expect((await get(p, 'retry.example.com', `/r${i}`)).status).toBe(200);
    const retried = await waitFor(async () => (await lines(file)).find((l) => l.tenant === 'retry' && l.retries === 1), { what: 'a retried request' });
    expect(retried).toMatchObject({ status: 200, attempts: 2, retries: 1, error: null, upstream_error: 'ECONNREFUSED', site: 's1' });
  });

  it('a 502 drproxy answered itself: its error code and the upstream failure', async () => {
    const r = await get(p, 'down.example.com', '/x');
    expect(r.status).toBe(502);
    expect(await lineOf(file, 'down.example.com', '/x')).toMatchObject({ tenant: 'down', status: 502, error: 'upstream_failed', upstream_error: 'ECONNREFUSED', bytes_sent: Buffer.byteLength(r.body) });
  });

  it('a 504 drproxy answered itself after response_timeout', async () => {
    const r = await get(p, 'ok.example.com', '/slow?ms=3000');
    expect(r.status).toBe(504);
    const line = await lineOf(file, 'ok.example.com', '/slow');
    expect(line).toMatchObject({ status: 504, error: 'upstream_timeout', upstream_error: 'UND_ERR_HEADERS_TIMEOUT', attempts: 1 });
    expect(line.upstream_ms as number).toBeGreaterThanOrEqual(290);
  });

  it('a request for no tenant: logged with the code it got, its odd path still valid JSON', async () => {
    // Raw bytes: a client library would percent-encode them.
    const path = '/who"\\{}';
    const answer = await rawRequest(p.port, `GET ${path} HTTP/1.1\r\nhost: nobody.example.com\r\nconnection: close\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 421 /);
    expect(await lineOf(file, 'nobody.example.com', path)).toMatchObject({ tenant: null, status: 421, error: 'unknown_host', attempts: 0, site: null, upstream_ms: null });
  });

  it('a reload reopens the file: rotation by moving it away and reloading', async () => {
    const rotated = `${file}.1`;
    await rename(file, rotated);
    expect((await p.proxy.reload()).ok).toBe(true);
    await get(p, 'ok.example.com', '/after-rotation');
    await lineOf(file, 'ok.example.com', '/after-rotation');
    expect((await lines(rotated)).some((l) => l.path === '/after-rotation')).toBe(false);
  });
});

describe('access log of a request held during a flip', () => {
  let setup: HoldingSetup;
  let file: string;

  beforeAll(async () => {
    file = join(await tempDir('drproxy-alog-'), 'access.log');
    setup = await startHoldingProxy({ holdMax: 10, holdRequests: '5s', promoteDelayMs: 600, doc: { access_log: { mode: 'all', destination: file, include_query: true } } });
  });

  afterAll(async () => {
    await setup?.stop();
  });

  it('carries the time it was held, the new site and the new epoch', async () => {
    const t = setup.p.proxy.tenant('t')!;
    const flip = t.operatorFailover({ to: 'b1', reason: 'planned', actor: 'test' });
    await waitFor(() => t.slot.route.mode === 'hold', { what: 'the hold phase' });
    const r = await get(setup.p, 't.example.com', '/held?x=1');
    await flip;
    expect(r.status).toBe(200);
    const line = await lineOf(file, 't.example.com', '/held?x=1');
    expect(line).toMatchObject({ tenant: 't', site: 'b1', status: 200, epoch: t.state.epoch, error: null });
    expect(line.held_ms as number).toBeGreaterThan(50);
    // The upstream's time excludes the wait.
    expect(line.upstream_ms as number).toBeLessThan((line.duration_ms as number) - (line.held_ms as number) + 1);
  });
});

describe('access log off', () => {
  it('writes nothing and the data plane holds no access log', async () => {
    const up = await startUpstream('a');
    const file = join(await tempDir('drproxy-alog-'), 'access.log');
    const p = await startProxy({
      access_log: { mode: 'off', destination: file },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's1', backends: [up.url] }] } },
    });
    try {
      await waitFor(() => p.proxy.tenant('t')!.sites[0]!.health().available, { what: 'backend up' });
      for (let i = 0; i < 5; i++) expect((await get(p, 't.example.com', '/')).status).toBe(200);
      expect((await get(p, 'nobody.example.com', '/')).status).toBe(421);
      expect((p.proxy.dataPlane as unknown as { accessLog: unknown }).accessLog).toBeUndefined();
      expect(existsSync(file)).toBe(false);
    } finally {
      await p.stop();
      await stopAll(up);
    }
  });
});

describe('access log to stdout', () => {
  it('shares stdout with the main log: every line whole JSON, access lines among them', async () => {
    const up = await startUpstream('a');
    const doc = await testConfigDoc({
      log: { level: 'info' },
      access_log: { mode: 'all' },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's1', backends: [up.url] }] } },
    });
    const configFile = join(await tempDir('drproxy-cfg-'), 'drproxy.yaml');
    await writeFile(configFile, stringify(doc));
    const proc = spawn(process.execPath, [fileURLToPath(new URL('../dist/cli.js', import.meta.url)), '--config', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const port = Number((await waitFor(() => /"listen":"[^"]*:(\d+)"/.exec(out), { what: 'listening' }))[1]);
      for (let i = 0; i < 20; i++) {
        const r = await request(`http://127.0.0.1:${port}/n${i}`, { headers: { host: 't.example.com' } });
        expect(r.statusCode).toBe(200);
        await r.body.dump();
      }
      await waitFor(() => out.includes('"path":"/n19"'), { what: 'the last access line' });
      const all = out.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Line);
      expect(all.filter((l) => l.tenant === 't' && typeof l.path === 'string' && (l.path as string).startsWith('/n'))).toHaveLength(20);
      expect(all.some((l) => l.msg === 'drproxy listening')).toBe(true);
    } finally {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      await stopAll(up);
    }
  });
});

describe('sampled mode', () => {
  /** A seeded generator (mulberry32): the same sample every run. */
  function seeded(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const req = { socket: { remoteAddress: '127.0.0.1' }, method: 'GET', headers: { host: 'h' }, url: '/p?q=1' };
  const res = { statusCode: 421 };

  function run(rate: number, n: number, seed: number): string[] {
    const out: string[] = [];
    const sink: LineSink = { write: (l) => void out.push(l), close: async () => {} };
    const log = new AccessLog({ ...DEFAULT_ACCESS_LOG, mode: 'sampled', sample_rate: rate }, sink, seeded(seed));
    for (let i = 0; i < n; i++) log.answered(req as never, res as never, 'unknown_host', 10);
    return out;
  }

  it('logs about sample_rate of requests, the same ones for the same draws', () => {
    const n = 20_000;
    const a = run(0.05, n, 42);
    // Binomial(20000, 0.05): mean 1000, sd ~31; ±150 is about 5 sd.
    expect(a.length).toBeGreaterThan(850);
    expect(a.length).toBeLessThan(1150);
    const untimed = (ls: string[]) => ls.map((l) => l.replace(/"time":"[^"]*"/, ''));
    expect(untimed(run(0.05, n, 42))).toEqual(untimed(a));
    expect(JSON.parse(a[0]!)).toMatchObject({ path: '/p', status: 421, error: 'unknown_host' });
  });

  it('decides before reading anything of a request it does not log', () => {
    const sink: LineSink = { write: () => expect.fail('nothing to write'), close: async () => {} };
    const log = new AccessLog({ ...DEFAULT_ACCESS_LOG, mode: 'sampled', sample_rate: 0.5 }, sink, () => 0.9);
    const untouchable = new Proxy({}, { get: () => expect.fail('the call was read') });
    log.record(untouchable as never);
  });
});

describe('a destination slower than the requests', () => {
  it('drops and counts what does not fit in max_buffer, without waiting or throwing', async () => {
    const file = join(await tempDir('drproxy-alog-'), 'access.log');
    const log = openAccessLog({ ...DEFAULT_ACCESS_LOG, mode: 'all', destination: file, max_buffer: 64 * 1024 });
    const req = { socket: { remoteAddress: '127.0.0.1' }, method: 'GET', headers: { host: 'h' }, url: `/${'x'.repeat(200)}` };
    const dropped = accessLogStats.droppedLines;
    // ~1,000 lines of ~480 bytes in one turn: the disk cannot take them before the next turn.
    const n = 1000;
    const started = performance.now();
    for (let i = 0; i < n; i++) log!.answered(req as never, { statusCode: 421 } as never, 'unknown_host', 10);
    expect(performance.now() - started).toBeLessThan(1000);
    await log!.close();
    const lost = accessLogStats.droppedLines - dropped;
    expect(lost).toBeGreaterThan(0);
    // Every line is either in the file, whole, or counted.
    expect((await lines(file)).length + lost).toBe(n);
  });
});

describe('access_log config', () => {
  const TENANTS = { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 's1', backends: ['http://127.0.0.1:9'] }] } };
  const problems = (accessLog: unknown): string[] => {
    try {
      parseConfigText(stringify({ access_log: accessLog, tenants: TENANTS }), 'test.yaml', '/etc/drproxy');
      return [];
    } catch (err) {
      return (err as ConfigError).problems.filter((p) => p.severity === 'error').map((p) => `${p.path}: ${p.message}`);
    }
  };

  it('names the path of each bad value', () => {
    expect(problems({ mode: 'some' })).toEqual(['access_log.mode: expected one of off, sampled, all, got "some"']);
    expect(problems({ mode: 'sampled', sample_rate: 0 })).toEqual(['access_log.sample_rate: must be more than 0 (to log nothing, set mode: off)']);
    expect(problems({ sample_rate: 2 })).toEqual(['access_log.sample_rate: must be between 0 and 1, got 2']);
    expect(problems({ destination: 3 })).toEqual(['access_log.destination: expected "stdout" or a file path, got 3']);
    expect(problems({ max_buffer: 10 })).toEqual(['access_log.max_buffer: must be between 65536 and 1073741824, got 10']);
    expect(problems({ modes: 'all' })[0]).toMatch(/^access_log\.modes: unknown key \(did you mean "mode"\?\)/);
  });

  it('resolves a relative file against the config file, and takes YAML booleans for the mode', () => {
    const { config } = parseConfigText(stringify({ access_log: { mode: true, destination: 'log/access.log' }, tenants: TENANTS }), 'test.yaml', '/etc/drproxy');
    expect(config.access_log).toMatchObject({ mode: 'all', destination: '/etc/drproxy/log/access.log', include_query: false });
    expect(parseConfigText(`access_log: { mode: off }\n${stringify({ tenants: TENANTS })}`, 'test.yaml', '/').config.access_log.mode).toBe('off');
  });
});

/**
 * Spike for issue 23 item 1 (Envoy's threading model), not drproxy itself: N worker_threads,
 * each with its own http.Server listening on the SAME port with `reusePort: true` (Node >= 22.12)
 * and its own undici Pool to a local upstream (bench/upstream.js). Loaded with wrk.
 *
 *   node26 bench/workers-spike.js [--duration 5] [--connections 32] [--workers 1,2] [--proxy-cpu 0]
 *   node   bench/workers-spike.js --check-reuseport     (what this Node does with reusePort in 2 workers)
 *   node26 bench/workers-spike.js --callgrind [--workers 1,2] [--requests 4000] [--warmup 6000] [--connections 32]
 *
 * --callgrind: user-space instructions per request of the proxy process (all threads) under
 * valgrind's callgrind, which does not move with the machine's load: whether a second worker
 * costs instructions per request (each loop amortising its per-turn work over fewer requests),
 * apart from what sharing a core costs (thread switches, caches), which callgrind cannot see.
 *
 * Measures, per worker count: req/s, CPU per request of the proxy process (/proc utime+stime),
 * how the kernel spread the requests across workers (each worker counts its own), and RSS after
 * the load (memory per extra worker = (RSS(N) - RSS(1)) / (N - 1)). The proxy process is pinned
 * to --proxy-cpu (taskset), upstream and wrk to CPU 1, as the other benches do; on this 2-core
 * machine 2 workers therefore share CPU 0 unless --proxy-cpu 0,1 is given (then they compete
 * with wrk and the upstream: say so next to the figure).
 *
 * Modes of this file: orchestrator (default), --proxy (the process under test; its main thread
 * only starts workers and answers IPC), and the worker itself (worker_threads, workerData set).
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import http from 'node:http';
import v8 from 'node:v8';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

const SELF = fileURLToPath(import.meta.url);

if (!isMainThread && workerData?.role === 'proxy-worker') runWorker(workerData);
else if (!isMainThread && workerData?.role === 'check') runCheckWorker(workerData);
else await main();

async function main() {
  const { values } = parseArgs({
    options: {
      proxy: { type: 'boolean', default: false },
      'check-reuseport': { type: 'boolean', default: false },
      workers: { type: 'string', default: '1,2' },
      upstream: { type: 'string', default: '' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      'proxy-cpu': { type: 'string', default: '0' },
      rounds: { type: 'string', default: '2' },
      port: { type: 'string', default: '0' },
      callgrind: { type: 'boolean', default: false },
      requests: { type: 'string', default: '4000' },
      warmup: { type: 'string', default: '6000' },
      // V8's young generation per worker (resourceLimits.maxYoungGenerationSizeMb): the RSS lever.
      'young-mb': { type: 'string', default: '0' },
    },
  });
  if (values['check-reuseport']) return checkReusePort();
  if (values.proxy) return runProxy(Number(values.workers), Number(values.upstream), Number(values.port), Number(values['young-mb']));
  if (values.callgrind) return countInstructions(values);
  return orchestrate(values);
}

// ---------------------------------------------------------------------------------------------
// --check-reuseport: two workers, one port, on this Node

async function checkReusePort() {
  const out = { node: process.version, results: [] };
  const first = await startCheckWorker(0);
  out.results.push(first);
  if (first.ok) out.results.push(await startCheckWorker(first.port));
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

function startCheckWorker(port) {
  return new Promise((resolve) => {
    const w = new Worker(SELF, { workerData: { role: 'check', port } });
    w.once('message', (m) => resolve(m));
    w.once('error', (err) => resolve({ ok: false, error: String(err) }));
  });
}

function runCheckWorker({ port }) {
  const s = http.createServer((_req, res) => res.end('x'));
  s.once('error', (err) => parentPort.postMessage({ ok: false, code: err.code, message: err.message }));
  s.listen({ port, host: '127.0.0.1', reusePort: true }, () => parentPort.postMessage({ ok: true, port: s.address().port }));
}

// ---------------------------------------------------------------------------------------------
// The worker: an http.Server on the shared port, an undici Pool to the upstream

async function runWorker({ id, port, upstream }) {
  const { Pool } = await import('undici');
  const pool = new Pool(`http://127.0.0.1:${upstream}`, { connections: 64, pipelining: 1 });
  let served = 0;
  const server = http.createServer((req, res) => {
    pool.request({ method: req.method, path: req.url, headers: { host: `127.0.0.1:${upstream}` }, body: req.method === 'GET' ? null : req }).then(
      (r) => {
        served++;
        res.writeHead(r.statusCode, { 'content-type': r.headers['content-type'] ?? 'text/plain' });
        r.body.pipe(res);
      },
      () => {
        res.statusCode = 502;
        res.end();
      },
    );
  });
  server.keepAliveTimeout = 30_000;
  parentPort.on('message', (m) => {
    if (m.type === 'stats') parentPort.postMessage({ type: 'stats', id, served, heapMb: v8.getHeapStatistics().total_physical_size / 2 ** 20 });
  });
  server.listen({ port, host: '127.0.0.1', reusePort: true }, () => parentPort.postMessage({ type: 'listening', id, port: server.address().port }));
}

// ---------------------------------------------------------------------------------------------
// --proxy: the process under test

async function runProxy(n, upstream, fixedPort, youngMb) {
  const workers = [];
  let port = fixedPort;
  for (let i = 0; i < n; i++) {
    const resourceLimits = youngMb > 0 ? { maxYoungGenerationSizeMb: youngMb } : undefined;
    const w = new Worker(SELF, { workerData: { role: 'proxy-worker', id: i, port, upstream }, resourceLimits });
    const m = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    port = m.port;
    workers.push(w);
  }
  if (!process.send) return; // under callgrind: no IPC, the orchestrator polls the port
  process.send({ type: 'ready', port });
  process.on('message', async (m) => {
    if (m.type !== 'stats') return;
    const counts = await Promise.all(
      workers.map((w) => new Promise((resolve) => {
        const on = (r) => {
          if (r.type !== 'stats') return;
          w.off('message', on);
          resolve(r);
        };
        w.on('message', on);
        w.postMessage({ type: 'stats' });
      })),
    );
    process.send({ type: 'stats', counts: counts.map((c) => c.served), heapMb: counts.map((c) => c.heapMb), mainHeapMb: v8.getHeapStatistics().total_physical_size / 2 ** 20 });
  });
}

// ---------------------------------------------------------------------------------------------
// Orchestrator

async function orchestrate(values) {
  const lib = await import('./lib.js');
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const counts = values.workers.split(',').map(Number);
  const up = await lib.startUpstream({ cpu: lib.CPU_LOAD });
  const rows = [];
  lib.log(`uptime before: ${execFileSync('uptime').toString().trim()}`);
  // A proxy with 0 workers would be only Node's baseline; the first count's RSS is the base.
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const n of counts) rows.push({ round, ...(await measure(lib, n, up.ports[0], values['proxy-cpu'], duration, connections, values['young-mb'])) });
  }
  const after = execFileSync('uptime').toString().trim();
  lib.log(`uptime after: ${after}`);
  await lib.stopChild(up.child);
  for (const r of rows) {
    process.stdout.write(
      `round ${r.round} workers ${r.workers}: ${r.rps.toFixed(0)} req/s, p99 ${r.p99} ms, ` +
        `${r.cpuUsPerReq.toFixed(1)} us CPU/request, spread ${r.spread.join('/')}, RSS ${r.rssMb.toFixed(1)} MB (idle ${r.idleRssMb.toFixed(1)} MB; V8 heaps: main ${r.mainHeapMb}, workers ${r.heapMb.join('/')} MB), errors ${r.errors}\n`,
    );
  }
  process.stdout.write(`node ${process.version}, proxy pinned to CPU ${values['proxy-cpu']}, upstream and wrk to CPU ${lib.CPU_LOAD}, young generation ${values['young-mb'] === '0' ? "V8's default" : `${values['young-mb']} MB`}; ${after}\n`);
  lib.writeOut('workers-spike', { machine: lib.machineInfo(), rows, uptime: after });
  process.exit(0);
}

async function measure(lib, n, upstream, cpu, duration, connections, youngMb) {
  const proxy = lib.spawnPinned(process.execPath, [SELF, '--proxy', '--workers', String(n), '--upstream', String(upstream), '--young-mb', youngMb], { cpu, ipc: true });
  const { port } = await lib.nextMessage(proxy, (m) => m?.type === 'ready', 30_000);
  const idleRssMb = lib.rssMb(proxy.pid);
  // Warm-up: JIT, pools filled.
  await lib.runWrk({ port, connections, duration: 1 });
  const cpu0 = lib.cpuSeconds(proxy.pid);
  const before = await stats(lib, proxy);
  const r = await lib.runWrk({ port, connections, duration });
  const cpu1 = lib.cpuSeconds(proxy.pid);
  const full = await stats(lib, proxy, true);
  const after = full.counts;
  const spread = after.map((c, i) => c - before[i]);
  const served = spread.reduce((a, b) => a + b, 0);
  const row = { workers: n, rps: r.rps, p99: r.p99, errors: r.errors + r.non2xx, cpuUsPerReq: ((cpu1 - cpu0) * 1e6) / served, spread, rssMb: lib.rssMb(proxy.pid), idleRssMb, heapMb: full.heapMb.map((x) => x.toFixed(1)), mainHeapMb: full.mainHeapMb.toFixed(1) };
  await lib.stopChild(proxy);
  return row;
}

async function stats(lib, proxy, full = false) {
  const m = lib.nextMessage(proxy, (x) => x?.type === 'stats', 5000);
  proxy.send({ type: 'stats' });
  return full ? m : (await m).counts;
}

// ---------------------------------------------------------------------------------------------
// --callgrind

async function autocannonCount(lib, port, amount, connections = 32) {
  const path = await import('node:path');
  const child = lib.spawnNode(path.join(lib.ROOT, 'node_modules', 'autocannon', 'autocannon.js'), ['-c', String(connections), '-a', String(amount), '--json', `http://127.0.0.1:${port}/`], { cpu: lib.CPU_LOAD });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await child.exitPromise;
  const j = JSON.parse(out.slice(out.indexOf('{')));
  return { ok: j['2xx'], errors: j.errors + j.timeouts + j.non2xx };
}

async function countInstructions(values) {
  const lib = await import('./lib.js');
  const path = await import('node:path');
  if (!lib.HAS_CALLGRIND) throw new Error('valgrind (callgrind) is not installed');
  const up = await lib.startUpstream({ cpu: lib.CPU_LOAD });
  const tmp = lib.tempDir('workers-callgrind');
  const rows = [];
  lib.log(`uptime before: ${execFileSync('uptime').toString().trim()}`);
  for (const n of values.workers.split(',').map(Number)) {
    const port = await lib.freePort();
    const outFile = path.join(tmp, `w${n}.callgrind`);
    const child = lib.spawnCallgrind(outFile, [SELF, '--proxy', '--workers', String(n), '--upstream', String(up.ports[0]), '--port', String(port)]);
    await lib.waitForListen(port, { child, timeoutMs: 180_000 });
    await autocannonCount(lib, port, Number(values.warmup), Number(values.connections));
    // First 5 s without requests: does any thread spin while idle (instructions per second)?
    lib.callgrindControl(child, '-i', 'on');
    await lib.sleep(5000);
    lib.callgrindControl(child, '-d', 'idle');
    const r = await autocannonCount(lib, port, Number(values.requests), Number(values.connections));
    lib.callgrindControl(child, '-d', 'counted');
    lib.callgrindControl(child, '-i', 'off');
    const [idleDump, dump] = await lib.callgrindDumps(outFile, 2);
    const instr = lib.callgrindInstructions(dump);
    rows.push({ workers: n, requests: r.ok, errors: r.errors, instructionsPerRequest: Math.round(instr / r.ok), idlePerSecond: Math.round(lib.callgrindInstructions(idleDump) / 5) });
    await lib.stopChild(child, { signal: 'SIGKILL' });
  }
  await lib.stopChild(up.child);
  for (const r of rows) process.stdout.write(`workers ${r.workers}: ${r.instructionsPerRequest} instructions/request (${r.requests} requests, ${r.errors} errors); idle ${r.idlePerSecond} instructions/s\n`);
  process.stdout.write(`node ${process.version}; ${execFileSync('uptime').toString().trim()}\n`);
  process.exit(0);
}

/**
 * Reference for the health-check cost: what a prober other than drproxy's costs per probe, to
 * compare with drproxy's idle CPU in bench/scale.js. Starts bench/upstream.js (CPU 1) and a
 * child (CPU 0) running N probe loops, each one GET /healthz per --interval ms (±10%) with a
 * per-loop header, like drproxy's registry probing N distinct backends.
 *
 *   node bench/probe-loop.js [--loops 600] [--ports 64] [--interval 1000] [--seconds 6] [--no-signal] [--raw]
 *
 * Default: a bare undici request() loop over an Agent with 2 connections per origin.
 * --no-signal drops AbortSignal.timeout() (keeps headersTimeout/bodyTimeout).
 * --raw: the floor of any HTTP prober in Node, not a usable one. Each loop keeps one plain
 * net.Socket, writes the same prebuilt request buffer and takes the next 'data' event as the
 * answer: no HTTP parser, no timeout, no per-probe object but the read buffer. What it costs per
 * probe is the two syscalls, the loopback TCP work the kernel does in the prober's context, and
 * Node's stream and timer overhead, which every prober pays. bench/scale.js runs it at the
 * 1,000-tenant probe rate to show what the health checks cost at the least.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as L from './lib.js';

export function undiciScript(ports, { loops, interval, signal }) {
  return `
import { Agent, request } from 'undici';
const ports = ${JSON.stringify(ports)};
const d = new Agent({ connections: 2, pipelining: 1, keepAliveTimeout: 10000 });
for (let i = 0; i < ${loops}; i++) {
  const url = 'http://127.0.0.1:' + ports[i % ports.length] + '/healthz';
  const loop = async () => {
    try {
      const res = await request(url, { method: 'GET', headers: { 'user-agent': 'probe-loop', 'x-loop': String(i) }, dispatcher: d,
        ${signal ? 'signal: AbortSignal.timeout(500),' : ''} headersTimeout: 500, bodyTimeout: 500 });
      await res.body.dump();
    } catch {}
    setTimeout(loop, ${interval} * (0.9 + Math.random() * 0.2));
  };
  setTimeout(loop, Math.random() * ${interval});
}
`;
}

/**
 * The leanest undici prober: one Client per loop (no Agent or Pool lookup), `dispatch` with a
 * handler that keeps only the status and drops the body, undici's own timers off. What undici
 * costs per probe at the least, to decide whether a probe client of drproxy's own is worth it.
 */
export function clientScript(ports, { loops, interval }) {
  return `
import { Client } from 'undici';
const ports = ${JSON.stringify(ports)};
for (let i = 0; i < ${loops}; i++) {
  const c = new Client('http://127.0.0.1:' + ports[i % ports.length], { pipelining: 1, keepAliveTimeout: 10000, headersTimeout: 0, bodyTimeout: 0 });
  const opts = { path: '/healthz', method: 'GET', headers: { 'user-agent': 'probe-loop', 'x-loop': String(i) } };
  const next = () => setTimeout(probe, ${interval} * (0.9 + Math.random() * 0.2));
  const handler = { status: 0, onConnect() {}, onHeaders(s) { this.status = s; return true; }, onData() { return true; }, onComplete: next, onError: next };
  const probe = () => c.dispatch(opts, handler);
  setTimeout(probe, Math.random() * ${interval});
}
`;
}

/**
 * drproxy's probe client alone (dist/health/probe-client.js): the raw loop's cadence with
 * ProbeClient.dispatch and a handler that keeps only the status. Against the raw floor, what
 * the client costs; against drproxy, what the check's own machinery (Probe, ActiveCheck) adds.
 */
export function probeClientScript(ports, { loops, interval }) {
  return `
import { ProbeClient } from ${JSON.stringify(new URL('../dist/health/probe-client.js', import.meta.url).href)};
const ports = ${JSON.stringify(ports)};
const client = new ProbeClient();
for (let i = 0; i < ${loops}; i++) {
  const opts = { origin: 'http://127.0.0.1:' + ports[i % ports.length], path: '/healthz', method: 'GET', headers: { 'user-agent': 'probe-loop', 'x-loop': String(i) }, servername: '127.0.0.1' };
  const next = () => setTimeout(probe, ${interval} * (0.9 + Math.random() * 0.2));
  const handler = { status: 0, onConnect() {}, onHeaders(s) { this.status = s; return true; }, onData() { return true; }, onComplete: next, onError: next };
  const probe = () => client.dispatch(opts, handler);
  setTimeout(probe, Math.random() * ${interval});
}
`;
}

/**
 * drproxy's whole probe path without the rest of drproxy: a HealthRegistry (dist/health/) with
 * `loops` checks of distinct settings (a header each, as bench/scale.js's tenants), their
 * duration histograms, the gate and ActiveCheck, Probe and the probe client. It starts in a
 * second where drproxy under valgrind takes minutes, so builds can be compared quickly;
 * `distDir`: which build's dist/.
 */
export function registryScript(ports, { loops, interval, distDir }) {
  const mod = (f) => JSON.stringify(pathToFileURL(path.join(distDir, f)).href);
  return `
import { HealthRegistry } from ${mod('health/registry.js')};
import { validateConfig } from ${mod('config/index.js')};
import { LatencyCounts } from ${mod('request-latency.js')};
const ports = ${JSON.stringify(ports)};
const hc = { path: '/healthz', interval: '${interval}ms', timeout: '500ms', rise: 2, fall: 3, jitter: 0.1 };
const { config } = validateConfig({ defaults: { health_check: hc }, tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a', backends: ['http://127.0.0.1:1'] }] } } }, { baseDir: '/tmp' });
const base = config.tenants[0].sites[0].health_check;
const bounds = new Float64Array([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]);
const registry = new HealthRegistry(() => new LatencyCounts(bounds));
for (let i = 0; i < ${loops}; i++) {
  const cfg = { ...base, headers: { ...base.headers, 'x-bench-loop': String(i) } };
  registry.acquire('http://127.0.0.1:' + ports[i % ports.length], cfg, { onResult() {} });
}
registry.start();
setInterval(() => {}, 1 << 30); // probe timers are unref'd: keep the process
`;
}

export function rawScript(ports, { loops, interval }) {
  return `
import net from 'node:net';
const ports = ${JSON.stringify(ports)};
for (let i = 0; i < ${loops}; i++) {
  const req = Buffer.from('GET /healthz HTTP/1.1\\r\\nhost: 127.0.0.1\\r\\nuser-agent: probe-loop\\r\\nx-loop: ' + i + '\\r\\n\\r\\n', 'latin1');
  const s = net.connect(ports[i % ports.length], '127.0.0.1');
  s.setNoDelay(true);
  const probe = () => s.write(req);
  s.on('data', () => setTimeout(probe, ${interval} * (0.9 + Math.random() * 0.2)));
  s.on('error', () => {});
  s.once('connect', () => setTimeout(probe, Math.random() * ${interval}));
}
`;
}

/**
 * Run `loops` probe loops against the upstream `up` (from L.startUpstream) on the proxy's CPU,
 * warm for 3 s, then measure for `seconds`: probes/s as counted by the upstream, CPU share of
 * the prober process (1 = one core) and CPU µs per probe.
 */
export async function measureProbeLoop(up, { loops, interval = 1000, seconds = 6, raw = false, signal = true }) {
  const script = raw ? rawScript(up.ports, { loops, interval }) : undiciScript(up.ports, { loops, interval, signal });
  const child = L.spawnPinned(process.execPath, ['--input-type=module', '-e', script], { cpu: L.CPU_PROXY, cwd: L.ROOT });
  try {
    await L.sleep(3000);
    const c0 = L.cpuSeconds(child.pid);
    const h0 = (await up.stats()).health;
    const t0 = performance.now();
    await L.sleep(seconds * 1000);
    const secs = (performance.now() - t0) / 1000;
    const cpu = (L.cpuSeconds(child.pid) - c0) / secs;
    const probesPerSec = ((await up.stats()).health - h0) / secs;
    return { kind: raw ? 'raw socket' : 'undici', loops, interval, signal: raw ? undefined : signal, probesPerSec, cpu, usPerProbe: (cpu * 1e6) / probesPerSec };
  } finally {
    await L.stopChild(child, { signal: 'SIGKILL' });
  }
}

export function probeLoopLine(r) {
  return (
    `${r.loops} ${r.kind} loops every ${r.interval} ms${r.kind === 'undici' ? `, AbortSignal.timeout ${r.signal ? 'on' : 'off'}` : ''}: ` +
    `${r.probesPerSec.toFixed(0)} probes/s (expected ${((r.loops * 1000) / r.interval).toFixed(0)}), CPU ${(r.cpu * 100).toFixed(1)}% of a core, ${r.usPerProbe.toFixed(0)} µs/probe\n`
  );
}

async function main(options) {
  const o = { loops: 600, ports: 64, interval: 1000, seconds: 6, signal: true, raw: false, ...options };
  if (o.noSignal) o.signal = false;
  L.pinSelf(L.CPU_LOAD);
  const up = await L.startUpstream({ count: o.ports });
  try {
    return await measureProbeLoop(up, o);
  } finally {
    await L.stopChild(up.child);
  }
}

L.runMain(import.meta.url, 'probe-loop', main, probeLoopLine);

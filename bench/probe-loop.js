/**
 * Reference for the health-check cost: what a bare undici request() loop costs per probe, to
 * compare with drproxy's idle CPU in bench/scale.js. Starts bench/upstream.js (CPU 1) and a
 * child (CPU 0) running N probe loops, each one GET /healthz per --interval ms (±10%), over an
 * undici Agent with 2 connections per origin and a per-loop header, like drproxy's registry.
 *
 *   node bench/probe-loop.js [--loops 600] [--ports 64] [--interval 1000] [--seconds 6] [--no-signal]
 *
 * --no-signal drops AbortSignal.timeout() (keeps headersTimeout/bodyTimeout).
 */
import * as L from './lib.js';

const o = L.commonOptions(process.argv.slice(2), { loops: 600, ports: 64, interval: 1000, seconds: 6, signal: true });
if (o.noSignal) o.signal = false;
L.pinSelf(L.CPU_LOAD);
const up = await L.startUpstream({ count: o.ports });
const script = `
import { Agent, request } from 'undici';
const ports = ${JSON.stringify(up.ports)};
const d = new Agent({ connections: 2, pipelining: 1, keepAliveTimeout: 10000 });
for (let i = 0; i < ${o.loops}; i++) {
  const url = 'http://127.0.0.1:' + ports[i % ports.length] + '/healthz';
  const loop = async () => {
    try {
      const res = await request(url, { method: 'GET', headers: { 'user-agent': 'probe-loop', 'x-loop': String(i) }, dispatcher: d,
        ${o.signal ? 'signal: AbortSignal.timeout(500),' : ''} headersTimeout: 500, bodyTimeout: 500 });
      await res.body.dump();
    } catch {}
    setTimeout(loop, ${o.interval} * (0.9 + Math.random() * 0.2));
  };
  setTimeout(loop, Math.random() * ${o.interval});
}
`;
try {
  const child = L.spawnPinned(process.execPath, ['--input-type=module', '-e', script], { cpu: L.CPU_PROXY, cwd: L.ROOT });
  await L.sleep(3000);
  const c0 = L.cpuSeconds(child.pid);
  const h0 = (await up.stats()).health;
  const t0 = performance.now();
  await L.sleep(o.seconds * 1000);
  const secs = (performance.now() - t0) / 1000;
  const cpu = (L.cpuSeconds(child.pid) - c0) / secs;
  const probes = ((await up.stats()).health - h0) / secs;
  process.stdout.write(
    `${o.loops} loops every ${o.interval} ms, AbortSignal.timeout ${o.signal ? 'on' : 'off'}: ${probes.toFixed(0)} probes/s ` +
      `(expected ${((o.loops * 1000) / o.interval).toFixed(0)}), CPU ${(cpu * 100).toFixed(1)}% of a core, ${((cpu * 1e6) / probes).toFixed(0)} µs/probe\n`,
  );
  await L.stopChild(child, { signal: 'SIGKILL' });
} finally {
  await L.stopChild(up.child);
}
process.exit(0);

/**
 * Issue 17, item 9: the cost of the access log. Two drproxy processes, the same config but
 * `access_log.mode: off` in one and `all` (every request, to a file) in the other, both running
 * all along, measured by wrk in alternating pairs (A B, B A, …, as paired.js: this VM's speed
 * drifts over minutes, a pair is measured within seconds) and compared pair by pair.
 *
 *   node bench/access-log.js [--pairs 10] [--duration 5] [--connections 64] [--aa]
 *
 * --aa: an A/A run, both proxies with the access log off, to measure the bench's own bias
 * between two processes of identical work (the `all` figures are then another `off`).
 *
 * Target: ≤ 5 % fewer req/s with every request logged. Also reports the CPU per request of each
 * and whether every request got its line (lines written / requests answered). Proxies on CPU 0,
 * upstream and wrk on CPU 1.
 */
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import * as L from './lib.js';
import { drproxyConfig } from './throughput.js';

const HOST = 'bench.local';

function countLines(file) {
  try {
    const buf = readFileSync(file);
    let n = 0;
    for (let i = buf.indexOf(10); i !== -1; i = buf.indexOf(10, i + 1)) n++;
    return n;
  } catch {
    return 0;
  }
}

export async function runAccessLog(options = {}) {
  const o = { pairs: 10, duration: 5, connections: 64, aa: false, ...options };
  if (!L.HAS_WRK) throw new Error('access-log.js needs wrk');
  L.pinSelf(L.CPU_LOAD);
  const up = await L.startUpstream({ count: 2, site: 'primary' });
  const tmp = L.tempDir('drproxy-bench-alog-');
  const logFile = path.join(tmp, 'access.log');
  const targets = [];
  try {
    for (const name of ['off', 'all']) {
      const port = await L.freePort();
      const cfg = path.join(tmp, `drproxy-${name}.yaml`);
      const accessLog = name === 'all' && !o.aa ? `access_log: { mode: all, destination: ${logFile} }\n` : 'access_log: { mode: off }\n';
      writeFileSync(cfg, accessLog + drproxyConfig({ port, stateDir: path.join(tmp, `state-${name}`), primary: up.ports[0], standby: up.ports[1] }));
      const dr = await L.startDrproxy(cfg, port);
      await L.waitForStatus(port, { host: HOST, child: dr.child, timeoutMs: 15_000 });
      targets.push({ name, port, child: dr.child, requests: 0 });
    }
    // Warm both (JIT, pools) before the first pair.
    for (const t of targets) t.requests += (await L.runWrk({ port: t.port, host: HOST, connections: o.connections, duration: 3 })).total;
    const pairs = await L.measurePairs(targets, { ...o, host: HOST }, (m, i) => {
      const pair = { rps: m.all.rps / m.off.rps, cpu: m.all.cpuUs / m.off.cpuUs, p99: m.all.p99 / m.off.p99, m };
      L.log(`pair ${String(i + 1).padStart(2)}: all ${L.fmt(m.all.rps)} vs off ${L.fmt(m.off.rps)} req/s = ${pair.rps.toFixed(3)}; CPU/request all/off ${pair.cpu.toFixed(3)} (${m.all.cpuUs.toFixed(1)} vs ${m.off.cpuUs.toFixed(1)} µs)`);
      return pair;
    });
    // Lines still buffered when wrk ends are written within moments.
    await L.sleep(500);
    const lines = countLines(logFile);
    const logged = targets.find((t) => t.name === 'all');
    const result = {
      kind: 'access-log',
      machine: L.machineInfo(),
      options: o,
      pairs,
      rps: L.quartiles(pairs.map((p) => p.rps)),
      cpu: L.quartiles(pairs.map((p) => p.cpu)),
      p99: L.quartiles(pairs.map((p) => p.p99)),
      lines,
      requests: logged.requests,
      errors: pairs.reduce((a, p) => a + p.m.all.errors + p.m.off.errors, 0),
    };
    L.writeOut('access-log.json', result);
    L.writeOut('access-log.md', accessLogMarkdown(result));
    return result;
  } finally {
    for (const t of targets) await L.stopChild(t.child);
    await L.stopChild(up.child);
  }
}

export function accessLogMarkdown(r) {
  const f = L.quartilesText;
  const loss = (1 - r.rps.median) * 100;
  return [
    `### Access log cost: mode all (to a file) / mode off (${r.options.pairs} pairs × ${r.options.duration} s, wrk, ${r.options.connections} connections, alternating order)`,
    '',
    `- req/s ratio: **${f(r.rps)}**, i.e. ${loss.toFixed(1)} % fewer req/s with every request logged (target ≤ 5 %)`,
    `- CPU per request, all / off: ${f(r.cpu)}`,
    `- p99 ratio: ${f(r.p99)}`,
    `- lines written / requests answered by the logging proxy: ${L.fmt(r.lines)} / ${L.fmt(r.requests)}; wrk errors or non-2xx: ${r.errors}`,
    '',
  ].join('\n');
}

L.runMain(import.meta.url, 'access-log', runAccessLog, accessLogMarkdown);

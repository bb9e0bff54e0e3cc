/**
 * drproxy vs the bare undici proxy as a paired comparison: many short wrk measurements that
 * alternate between the two (A B B A A B …, so that neither always goes first), both processes
 * running all along, and the ratio taken within each pair. This VM's speed drifts by tens of
 * percent over minutes; a pair is measured within seconds, so the drift mostly cancels in its
 * ratio, which medians of separate rounds (throughput.js) cannot do.
 *
 *   node bench/paired.js [--pairs 20] [--duration 3] [--connections 64] [--baseline DIR] [--workers N] [--node-args="…"]
 *
 * --baseline DIR: compare this tree's drproxy with another build of drproxy (DIR is a checkout
 * with its own `dist/`, e.g. a `git worktree` of an older commit, built) instead of the bare
 * proxy: the cost of a change on the hot path, measured pair by pair.
 * --node-args="…": node options for this tree's drproxy only (V8 heap settings, say).
 * --workers N: this tree's drproxy, and the baseline if given, with `server.workers: N` (the
 * threads share the proxy CPU).
 *
 * Reports the median and interquartile range of the per-pair req/s ratios (drproxy / bare) and
 * of the per-pair CPU-per-request ratios. Proxies on CPU 0, upstream and wrk on CPU 1.
 */
import * as L from './lib.js';
import { proxyArgs } from './throughput.js';

const HOST = 'bench.local';

export async function runPaired(options = {}) {
  const o = { pairs: 20, duration: 3, connections: 64, ...options };
  const other = o.baseline ? 'baseline' : 'bare-undici';
  if (!L.HAS_WRK) throw new Error('paired.js needs wrk');
  L.pinSelf(L.CPU_LOAD);
  const up = await L.startUpstream({ count: 2, site: 'primary' });
  const tmp = L.tempDir('drproxy-bench-paired-');
  const targets = [];
  try {
    for (const name of ['drproxy', other]) {
      const port = await L.freePort();
      const args = proxyArgs(name, { port, up, dir: tmp, baseline: o.baseline, workers: o.workers });
      const nodeArgs = name === 'drproxy' && o.nodeArgs ? String(o.nodeArgs).split(' ') : [];
      const child = L.spawnPinned(process.execPath, [...nodeArgs, ...args], { cpu: L.CPU_PROXY });
      await L.waitForListen(port, { child });
      await L.waitForStatus(port, { host: HOST, child });
      targets.push({ name, port, child });
    }
    // Warm both (JIT, pools) before the first pair.
    for (const t of targets) await L.runWrk({ port: t.port, host: HOST, connections: o.connections, duration: 3 });
    const pairs = await L.measurePairs(targets, { ...o, host: HOST }, (m, i) => {
      const pair = { rps: m.drproxy.rps / m[other].rps, cpu: m[other].cpuUs / m.drproxy.cpuUs, p99: m.drproxy.p99 / m[other].p99, m };
      L.log(`pair ${String(i + 1).padStart(2)}: drproxy ${L.fmt(m.drproxy.rps)} vs ${other} ${L.fmt(m[other].rps)} req/s = ${pair.rps.toFixed(3)}; CPU/request ${other}/drproxy ${pair.cpu.toFixed(3)}; p99 ratio ${pair.p99.toFixed(2)}`);
      return pair;
    });
    const result = {
      kind: 'paired',
      against: other,
      machine: L.machineInfo(),
      options: o,
      pairs,
      rps: L.quartiles(pairs.map((p) => p.rps)),
      cpu: L.quartiles(pairs.map((p) => p.cpu)),
      p99: L.quartiles(pairs.map((p) => p.p99)),
      drproxyWins: pairs.filter((p) => p.rps > 1).length,
    };
    L.writeOut('paired.json', result);
    L.writeOut('paired.md', pairedMarkdown(result));
    return result;
  } finally {
    for (const t of targets) await L.stopChild(t.child);
    await L.stopChild(up.child);
  }
}

export function pairedMarkdown(r) {
  const f = L.quartilesText;
  return [
    `### Paired comparison, drproxy / ${r.against === 'baseline' ? `drproxy at ${r.options.baseline}` : 'bare undici'} (${r.options.pairs} pairs × ${r.options.duration} s, wrk, ${r.options.connections} connections, alternating order)`,
    '',
    `- req/s ratio: **${f(r.rps)}**; drproxy faster in ${r.drproxyWins} of ${r.pairs.length} pairs`,
    `- CPU per request, ${r.against ?? 'bare-undici'} / drproxy: ${f(r.cpu)}`,
    `- p99 ratio: ${f(r.p99)}`,
    '',
  ].join('\n');
}

L.runMain(import.meta.url, 'paired', runPaired, pairedMarkdown);

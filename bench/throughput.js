/**
 * Issue 5, item 1: throughput and latency of drproxy against a direct connection to the
 * upstream and against two bare proxies (undici Pool.stream(), http-proxy-3 + keep-alive
 * agent), all in one run, in interleaved rounds whose order alternates (A B C D, D C B A, …).
 *
 *   node bench/throughput.js [--duration 10] [--rounds 3] [--warmup 3] [--connections 64]
 *                            [--no-wrk] [--quick]
 *
 * Every server under test runs in its own process pinned to CPU 0; the upstream and the load
 * generator (autocannon, then wrk when installed) are pinned to CPU 1. In each round every
 * target gets a warm-up autocannon run (discarded), then an autocannon measurement, then a
 * wrk measurement right after it. Results: medians over rounds, with min–max spread.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import * as L from './lib.js';

const HOST = 'bench.local';

export function drproxyConfig({ port, stateDir, primary, standby }) {
  return `${L.configHead('throughput.js', { port, stateDir })}defaults:
  health_check: { path: /healthz, interval: 1s, timeout: 500ms }
${L.twoSiteTenant(HOST, ['primary', [primary]], ['standby', [standby]])}`;
}

/**
 * The node arguments that run a proxy under test on `port` in front of the upstream `up`:
 * drproxy (its config written to `dir`) or one of the bare proxies (`bare-undici`,
 * `bare-http-proxy`). Shared by throughput.js, profile.js and instructions.js.
 */
/**
 * The command line of a proxy under test: `drproxy` (this tree), `baseline` (drproxy built in
 * another checkout, `baseline` = its directory, same config: the cost of a change), or one of
 * the bare proxies in bench/.
 */
export function proxyArgs(name, { port, up, dir, baseline, workers }) {
  if (name === 'drproxy' || name === 'baseline') {
    const cfg = path.join(dir, `drproxy-${port}.yaml`);
    // `workers`: server.workers for this tree's drproxy and for a baseline build (bench/paired.js
    // --workers N; a baseline that predates server.workers refuses the config).
    const extra = workers !== undefined ? `server:\n  workers: ${workers}\n` : '';
    writeFileSync(cfg, drproxyConfig({ port, stateDir: path.join(dir, `state-${port}`), primary: up.ports[0], standby: up.ports[1] }) + extra);
    if (name === 'baseline' && !baseline) throw new Error('the baseline target needs --baseline DIR (a checkout of drproxy, built)');
    return [name === 'baseline' ? path.join(path.resolve(String(baseline)), 'dist', 'cli.js') : L.DRPROXY_CLI, '--config', cfg];
  }
  return [path.join(L.BENCH_DIR, `${name}.js`), '--upstream', `http://127.0.0.1:${up.ports[0]}`, '--port', String(port)];
}

export async function runThroughput(options = {}) {
  const o = {
    duration: 10,
    rounds: 3,
    warmup: 3,
    connections: 64,
    wrk: L.HAS_WRK,
    ...options,
  };
  if (o.quick) Object.assign(o, { duration: options.duration ?? 2, rounds: options.rounds ?? 1, warmup: options.warmup ?? 1 });
  if (!L.HAS_WRK) o.wrk = false;
  L.pinSelf(L.CPU_LOAD);
  const machine = L.machineInfo();
  L.log(`throughput: ${o.rounds} round(s) × ${o.duration}s, warm-up ${o.warmup}s, ${o.connections} connections, wrk ${o.wrk ? 'on' : 'off'}, pinned ${L.PINNED}`);

  const up = await L.startUpstream({ count: 2, site: 'primary' });
  const tmp = L.tempDir('drproxy-bench-tp-');
  const procs = [];
  try {
    // drproxy
    const dport = await L.freePort();
    const cfgFile = path.join(tmp, 'drproxy.yaml');
    writeFileSync(cfgFile, drproxyConfig({ port: dport, stateDir: path.join(tmp, 'state'), primary: up.ports[0], standby: up.ports[1] }));
    const dr = await L.startDrproxy(cfgFile, dport);
    procs.push(dr.child);
    await L.waitForStatus(dport, { host: HOST, child: dr.child, timeoutMs: 15_000 });

    // bare proxies
    const bare = async (name) => {
      const port = await L.freePort();
      const child = L.spawnPinned(process.execPath, proxyArgs(name, { port, up, dir: tmp }), { cpu: L.CPU_PROXY });
      procs.push(child);
      await L.waitForListen(port, { child });
      await L.waitForStatus(port, { host: HOST, child });
      return { port, child };
    };
    const bu = await bare('bare-undici');
    const bh = await bare('bare-http-proxy');

    const targets = [
      { name: 'direct', port: up.ports[0], pid: up.pid },
      { name: 'drproxy', port: dport, pid: dr.pid },
      { name: 'bare-undici', port: bu.port, pid: bu.child.pid },
      { name: 'bare-http-proxy', port: bh.port, pid: bh.child.pid },
    ];
    const tools = o.wrk ? ['autocannon', 'wrk'] : ['autocannon'];
    const samples = [];
    for (let round = 1; round <= o.rounds; round++) {
      // The order alternates from round to round (A B C D, D C B A, …): with a fixed order,
      // drproxy always ran right after "direct" and right before the bare undici proxy, and an
      // order effect could not be told from a difference between them.
      for (const t of round % 2 === 1 ? targets : [...targets].reverse()) {
        const base = { port: t.port, host: HOST, connections: o.connections };
        if (o.warmup > 0) await L.runAutocannon({ ...base, duration: o.warmup });
        for (const tool of tools) {
          const cpu0 = L.cpuSeconds(t.pid);
          const m0 = L.cpuTimes();
          const r = tool === 'wrk' ? await L.runWrk({ ...base, duration: o.duration }) : await L.runAutocannon({ ...base, duration: o.duration });
          r.cpu = (L.cpuSeconds(t.pid) - cpu0) / o.duration;
          // Whole-machine busy fraction per CPU: CPU 0 busier than the proxy means another
          // process shared the proxy's core during the measurement.
          const m1 = L.cpuTimes();
          [r.busy0, r.busy1] = L.cpuBusy(m0, m1);
          [r.steal0] = L.cpuSteal(m0, m1);
          // CPU time per request: unlike req/s, it does not move when the host steals the vCPU.
          r.cpuUs = (r.cpu * 1e6) / r.rps;
          samples.push({ round, target: t.name, ...r });
          L.log(
            `round ${round} ${t.name.padEnd(15)} ${tool.padEnd(10)} ${L.fmt(r.rps).padStart(7)} req/s  p50 ${L.fmt(r.p50, 2)} ms  p99 ${L.fmt(r.p99, 2)} ms` +
              `  cpu ${L.fmt(r.cpu * 100)}% = ${L.fmt(r.cpuUs, 1)} µs/req (CPU0 ${L.fmt(r.busy0 * 100)}% CPU1 ${L.fmt(r.busy1 * 100)}% busy, CPU0 steal ${L.fmt(r.steal0 * 100, 1)}%)${r.errors || r.non2xx ? `  errors ${r.errors} non2xx ${r.non2xx}` : ''}`,
          );
        }
      }
    }

    // Medians and spreads.
    const summary = {};
    for (const tool of tools) {
      summary[tool] = {};
      for (const t of targets) {
        const s = samples.filter((x) => x.target === t.name && x.tool === tool);
        const pick = (k) => s.map((x) => x[k]);
        const t2 = { errors: s.reduce((a, x) => a + x.errors, 0), non2xx: s.reduce((a, x) => a + x.non2xx, 0), rounds: s.length };
        // Medians of every measure; min–max spreads of the ones the report shows.
        for (const k of ['rps', 'p50', 'p99', 'cpu', 'cpuUs', 'busy0', 'busy1', 'steal0']) t2[k] = L.median(pick(k));
        for (const k of ['rps', 'p50', 'p99', 'cpuUs']) t2[`${k}Range`] = L.minMax(pick(k));
        summary[tool][t.name] = t2;
      }
      const m = summary[tool];
      m.ratios = {
        drproxyOverBareUndici: m.drproxy.rps / m['bare-undici'].rps,
        drproxyOverDirect: m.drproxy.rps / m.direct.rps,
        drproxyOverBareHttpProxy: m.drproxy.rps / m['bare-http-proxy'].rps,
        p99DrproxyOverBareUndici: m.drproxy.p99 / m['bare-undici'].p99,
        cpuUsBareUndiciOverDrproxy: m['bare-undici'].cpuUs / m.drproxy.cpuUs,
      };
      m.targets = {
        rps: { want: '≥ 1.1 × bare undici', got: m.ratios.drproxyOverBareUndici, met: m.ratios.drproxyOverBareUndici >= 1.1 },
        p99: {
          want: '≤ bare undici p99',
          // autocannon's latency histogram counts whole milliseconds (lowestDiscernibleValue 1):
          // at a p99 of 7-8 ms, one step of it is 12-15 %, so its p99s only tell big gaps apart.
          got: `${L.fmt(m.drproxy.p99, 2)} vs ${L.fmt(m['bare-undici'].p99, 2)} ms${tool === 'autocannon' ? ' (autocannon: whole milliseconds)' : ''}`,
          met: m.drproxy.p99 <= m['bare-undici'].p99,
        },
      };
    }
    const result = { kind: 'throughput', machine, options: o, samples, summary };
    const md = throughputMarkdown(result);
    L.writeOut('throughput.json', result);
    L.writeOut('throughput.md', md);
    return result;
  } finally {
    for (const c of procs) await L.stopChild(c);
    await L.stopChild(up.child);
  }
}

export function throughputMarkdown(r) {
  const o = r.options;
  const lines = [];
  lines.push(`### Throughput (${o.rounds} round(s) × ${o.duration} s, ${o.connections} connections, warm-up ${o.warmup} s)`, '');
  for (const [tool, m] of Object.entries(r.summary)) {
    lines.push(`**${tool}** — medians over rounds, [min–max]`, '');
    lines.push('| target | req/s | p50 ms | p99 ms | server CPU | CPU µs / request | CPU 0 / CPU 1 busy | CPU 0 steal | errors / non-2xx |');
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const name of ['direct', 'drproxy', 'bare-undici', 'bare-http-proxy']) {
      const t = m[name];
      const d = tool === 'wrk' ? 2 : 0;
      lines.push(
        `| ${name} | ${L.fmt(t.rps)} [${L.fmt(t.rpsRange[0])}–${L.fmt(t.rpsRange[1])}] | ${L.fmt(t.p50, d)} [${L.fmt(t.p50Range[0], d)}–${L.fmt(t.p50Range[1], d)}] ` +
          `| ${L.fmt(t.p99, d)} [${L.fmt(t.p99Range[0], d)}–${L.fmt(t.p99Range[1], d)}] | ${L.fmt(t.cpu * 100)}% | ${L.fmt(t.cpuUs, 1)} [${L.fmt(t.cpuUsRange[0], 1)}–${L.fmt(t.cpuUsRange[1], 1)}] ` +
          `| ${Number.isFinite(t.busy0) ? `${L.fmt(t.busy0 * 100)}% / ${L.fmt(t.busy1 * 100)}%` : 'n/a'} | ${L.fmt(t.steal0 * 100, 1)}% | ${t.errors} / ${t.non2xx} |`,
      );
    }
    const q = m.ratios;
    lines.push('');
    lines.push(
      `Ratios (${tool}): drproxy / bare-undici req/s = **${L.fmt(q.drproxyOverBareUndici, 2)}**, drproxy / direct = **${L.fmt(q.drproxyOverDirect, 2)}**, ` +
        `drproxy / bare-http-proxy = ${L.fmt(q.drproxyOverBareHttpProxy, 2)}, drproxy p99 / bare-undici p99 = ${L.fmt(q.p99DrproxyOverBareUndici, 2)}; ` +
        `CPU per request, bare-undici / drproxy = **${L.fmt(q.cpuUsBareUndiciOverDrproxy, 2)}** (the req/s ratio that equal CPU time would give).`,
    );
    lines.push(
      `Targets (${tool}): req/s ≥ 1.1 × bare undici — **${m.targets.rps.met ? 'met' : 'not met'}** (${L.fmt(m.targets.rps.got, 2)}×); ` +
        `p99 ≤ bare undici — **${m.targets.p99.met ? 'met' : 'not met'}** (${m.targets.p99.got}).`,
      '',
    );
  }
  lines.push(
    '"server CPU" is the CPU time of the process under test (for "direct": the upstream) per second of measurement; 100% = one core. ' +
      '"CPU 0 / CPU 1 busy" is the whole machine\'s busy fraction of each core meanwhile (medians); the proxy is alone on CPU 0 only when its CPU ≈ CPU 0 busy. ' +
      '"CPU µs / request" is the process\'s CPU time divided by the requests it served: it does not move when the VM\'s host takes the vCPU away ("steal"), which req/s does.',
    '',
  );
  return lines.join('\n');
}

L.runMain(import.meta.url, 'throughput', runThroughput, throughputMarkdown);

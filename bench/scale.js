/**
 * Issue 5, item 3: scale. For N tenants (default 1, 100, 1000, 5000), each with 3 sites × 2
 * backends and active health checks every 1 s, measure:
 *   - config load time (cold, first loadConfigFile in a fresh process) and parse+validate time
 *     (warm median: the lower bound of a reload, which bench/reload.js times);
 *   - start-up: spawn → port accepting, and spawn → first 200 for tenant t0;
 *   - resident memory (VmRSS) idle and after load, and the peak (VmHWM);
 *   - CPU of the drproxy process over an idle window (only health checks run), probes/s as
 *     counted by the upstream, CPU µs per probe;
 *   - req/s and latency for one tenant (t0) under load, compared with the 1-tenant case;
 *   - how many tenants left their primary site (state files) — a sign of false failovers;
 *   - at 1,000 tenants with distinct backends, the floor of those probes: the same number of
 *     raw-socket probe loops (bench/probe-loop.js --raw) on drproxy's CPU, drproxy stopped.
 *
 * Backends: one upstream process (CPU 1) listening on --ports (default 64) ports; tenant i's
 * six backends use six distinct ports of that pool. So that every tenant's backends are probed
 * as if they were distinct hosts (the registry shares a probe between identical
 * origin + settings), each tenant's health check carries its own header
 * `x-bench-tenant: tI`: N × 6 probe loops, N × 6 probes per second. --shared-probes drops
 * the header (then at most --ports probe loops exist).
 *
 *   node bench/scale.js [--tenants 1,100,1000,5000] [--duration 10] [--idle 10] [--warmup 3]
 *                       [--connections 64] [--ports 64] [--shared-probes] [--no-wrk] [--quick] [--cli PATH]
 *                       [--rounds 1]
 *
 * --cli: another drproxy build's dist/cli.js (to compare builds).
 * --rounds: measure every tenant count this many times, interleaved (1, 1000, 1, 1000, …); each
 * round's req/s is compared with the same round's 1-tenant figure, and the target takes the
 * median of those ratios. One 10 s measurement on this VM moves ±25–40 %, so a ratio of two
 * taken minutes apart says little; `--tenants 1,1000 --rounds 3` is the target's measurement.
 */
import path from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as L from './lib.js';
import { measureProbeLoop } from './probe-loop.js';

const SITES = 3;
const BACKENDS = 2;

export function scaleConfig({ n, port, stateDir, ports, sharedProbes }) {
  const out = [];
  out.push(`${L.configHead(`scale.js: ${n} tenant(s) × ${SITES} sites × ${BACKENDS} backends`, { port, stateDir })}defaults:
  health_check: { path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 3, jitter: 0.1 }
  failover: { mode: auto, failback: manual, min_interval: 60s }
tenants:`);
  let k = 0;
  for (let i = 0; i < n; i++) {
    out.push(`  t${i}:`, '    tier: BC', `    hosts: [t${i}.bench.local]`);
    if (!sharedProbes) out.push(`    health_check: { headers: { x-bench-tenant: t${i} } }`);
    out.push('    sites:');
    for (let s = 0; s < SITES; s++) {
      const b = [];
      for (let j = 0; j < BACKENDS; j++) b.push(`http://127.0.0.1:${ports[k++ % ports.length]}`);
      out.push(`      - { name: s${s}, backends: [${b.join(', ')}] }`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Time loadConfigFile (cold, first call in a fresh process) and parseConfigText (warm median). */
async function timeConfig(file, repeats) {
  const script = `
    const { loadConfigFile, parseConfigText } = await import(${JSON.stringify(pathToFileURL(path.join(L.ROOT, 'dist', 'config', 'index.js')).href)});
    const { readFileSync } = await import('node:fs');
    const path = await import('node:path');
    const file = ${JSON.stringify(file)};
    let t = performance.now();
    const { config } = await loadConfigFile(file);
    const loadMs = performance.now() - t;
    const text = readFileSync(file, 'utf8');
    const parse = [];
    for (let i = 0; i < ${repeats}; i++) {
      t = performance.now();
      parseConfigText(text, file, path.dirname(file));
      parse.push(performance.now() - t);
    }
    parse.sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ loadMs, parseMs: parse[parse.length >> 1], parseAll: parse, tenants: config.tenants.length, bytes: text.length }));
  `;
  const child = L.spawnPinned(process.execPath, ['--input-type=module', '-e', script], { cpu: L.CPU_PROXY });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const guard = setTimeout(() => L.stopChild(child, { signal: 'SIGKILL' }), 120_000);
  const { code } = await child.exitPromise;
  clearTimeout(guard);
  if (code !== 0) throw new Error(`config timing failed (${code}): ${child.tail.join('')}`);
  return JSON.parse(out);
}

function peakRssMb(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function movedTenants(stateDir) {
  let moved = 0;
  let frozen = 0;
  const reasons = {};
  const states = await L.committedStates(stateDir);
  for (const s of states) {
    if (s.active !== 's0' || s.epoch > 1) {
      moved++;
      const why = String(s.reason ?? '').replace(/t\d+/g, 'tN');
      reasons[why] = (reasons[why] ?? 0) + 1;
    }
    if (s.phase === 'frozen') frozen++;
  }
  return { total: states.length, moved, frozen, reasons };
}

async function measure(n, up, o) {
  const tmp = L.tempDir(`drproxy-bench-scale-${n}-`);
  const port = await L.freePort();
  const stateDir = path.join(tmp, 'state');
  const cfg = path.join(tmp, 'drproxy.yaml');
  writeFileSync(cfg, scaleConfig({ n, port, stateDir, ports: up.ports, sharedProbes: o.sharedProbes }));
  const r = { tenants: n, backends: n * SITES * BACKENDS };
  r.config = await timeConfig(cfg, n >= 1000 ? Math.min(3, o.parseRepeats) : o.parseRepeats);
  L.log(`scale ${n}: config ${(r.config.bytes / 1024).toFixed(0)} KiB, load ${r.config.loadMs.toFixed(1)} ms, parse+validate ${r.config.parseMs.toFixed(1)} ms`);

  const t0 = performance.now();
  const dr = await L.startDrproxy(cfg, port, { timeoutMs: 180_000, ...(o.cli && { cli: path.resolve(String(o.cli)) }) });
  r.listenMs = dr.listenMs;
  // Tally drproxy's warn/error log lines (failovers, freezes, backends down) by kind.
  r.logEvents = {};
  let partial = '';
  dr.child.stdout.on('data', (d) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop();
    for (const line of lines) {
      try {
        const j = JSON.parse(line);
        const key = j.event ? `${j.event}${j.cause ? ` (${j.cause})` : ''}` : String(j.msg).replace(/\d+/g, 'N').slice(0, 70) + (j.error ? ` [${String(j.error).slice(0, 60)}]` : '');
        r.logEvents[key] = (r.logEvents[key] ?? 0) + 1;
      } catch {
        /* not JSON */
      }
    }
  });
  try {
    try {
      await L.waitForStatus(port, { host: 't0.bench.local', child: dr.child, timeoutMs: 60_000, everyMs: 5 });
      r.readyMs = performance.now() - t0;
    } catch (err) {
      // Measure what can be measured anyway; the table shows that t0 never served.
      r.readyMs = NaN;
      r.readyError = err.message;
      L.log(`scale ${n}: t0 did not serve: ${err.message}`);
    }
    r.rssStartMb = L.rssMb(dr.pid);
    L.log(`scale ${n}: listening after ${r.listenMs.toFixed(0)} ms, t0 answered 200 after ${r.readyMs.toFixed(0)} ms; settling ${o.settle}s`);
    await L.sleep(o.settle * 1000);

    // Idle window: only health checks run.
    const c0 = L.cpuSeconds(dr.pid);
    const h0 = (await up.stats()).health;
    const w0 = performance.now();
    const m0 = L.cpuTimes();
    await L.sleep(o.idle * 1000);
    r.idleMachineBusy = L.cpuBusy(m0, L.cpuTimes());
    const c1 = L.cpuSeconds(dr.pid);
    const h1 = (await up.stats()).health;
    const secs = (performance.now() - w0) / 1000;
    r.idleCpu = (c1 - c0) / secs;
    r.probesPerSec = (h1 - h0) / secs;
    r.expectedProbesPerSec = o.sharedProbes ? Math.min(r.backends, up.ports.length) : r.backends;
    r.cpuUsPerProbe = r.probesPerSec > 0 ? (r.idleCpu * 1e6) / r.probesPerSec : NaN;
    r.rssIdleMb = L.rssMb(dr.pid);
    r.stateAfterIdle = await movedTenants(stateDir);
    L.log(
      `scale ${n}: idle CPU ${(r.idleCpu * 100).toFixed(1)}% of a core (machine: CPU0 ${(r.idleMachineBusy[0] * 100).toFixed(0)}% CPU1 ${(r.idleMachineBusy[1] * 100).toFixed(0)}% busy), ${r.probesPerSec.toFixed(0)} probes/s (expected ${r.expectedProbesPerSec}), RSS ${r.rssIdleMb.toFixed(0)} MB`,
    );

    // Load on tenant t0.
    const base = { port, host: 't0.bench.local', connections: o.connections };
    if (o.warmup > 0) await L.runAutocannon({ ...base, duration: o.warmup });
    r.load = {};
    for (const tool of o.wrk ? ['autocannon', 'wrk'] : ['autocannon']) {
      const m1 = L.cpuTimes();
      const c2 = L.cpuSeconds(dr.pid);
      const res = tool === 'wrk' ? await L.runWrk({ ...base, duration: o.duration }) : await L.runAutocannon({ ...base, duration: o.duration });
      res.cpu = (L.cpuSeconds(dr.pid) - c2) / o.duration;
      res.machineBusy = L.cpuBusy(m1, L.cpuTimes());
      r.load[tool] = res;
      L.log(
        `scale ${n}: ${tool} ${res.rps.toFixed(0)} req/s p50 ${res.p50} ms p99 ${res.p99} ms errors ${res.errors} non2xx ${res.non2xx}; ` +
          `drproxy CPU ${(res.cpu * 100).toFixed(0)}%, CPU0 ${(res.machineBusy[0] * 100).toFixed(0)}% busy`,
      );
    }
    r.rssAfterLoadMb = L.rssMb(dr.pid);
    r.rssPeakMb = peakRssMb(dr.pid);
    r.state = await movedTenants(stateDir);
    const ts = performance.now();
    await L.stopChild(dr.child, { graceMs: 30_000 });
    r.stopMs = performance.now() - ts;
  } finally {
    await L.stopChild(dr.child, { signal: 'SIGKILL' });
  }
  return r;
}

export async function runScale(options = {}) {
  const o = {
    tenants: '1,100,1000,5000',
    duration: 10,
    idle: 10,
    warmup: 3,
    settle: 3,
    connections: 64,
    ports: 64,
    parseRepeats: 5,
    sharedProbes: false,
    wrk: L.HAS_WRK,
    ...options,
  };
  if (o.quick) {
    Object.assign(o, {
      tenants: options.tenants ?? '1,100',
      duration: options.duration ?? 2,
      idle: options.idle ?? 3,
      warmup: options.warmup ?? 1,
      settle: options.settle ?? 2,
      parseRepeats: options.parseRepeats ?? 3,
    });
  }
  if (!L.HAS_WRK) o.wrk = false;
  L.pinSelf(L.CPU_LOAD);
  const machine = L.machineInfo();
  const counts = String(o.tenants).split(',').map(Number);
  L.log(`scale: tenants ${counts.join(', ')}; ${o.ports} upstream ports; ${o.sharedProbes ? 'shared' : 'per-tenant'} probes`);
  const up = await L.startUpstream({ count: o.ports, site: 'scale' });
  const results = [];
  const rounds = Math.max(1, Number(o.rounds ?? 1));
  try {
    for (let round = 1; round <= rounds; round++) for (const n of counts) {
      const r = await measure(n, up, o);
      r.round = round;
      results.push(r);
      // The target's case with distinct backends: what the same probes cost at the least, with
      // drproxy stopped (the floor of bench/probe-loop.js --raw), so that the report shows how
      // much of the core any prober leaves to the data plane.
      if (n === 1000 && !o.sharedProbes) {
        r.probeFloor = await measureProbeLoop(up, { loops: r.backends, raw: true, seconds: o.idle });
        L.log(`scale ${n}: probe floor (raw sockets, ${r.backends} loops): ${r.probeFloor.probesPerSec.toFixed(0)} probes/s at ${(r.probeFloor.cpu * 100).toFixed(1)}% of a core, ${r.probeFloor.usPerProbe.toFixed(0)} µs/probe`);
      }
    }
  } finally {
    await L.stopChild(up.child);
  }
  for (const x of results) {
    // Against the 1-tenant figure of the same round.
    const one = results.find((y) => y.tenants === 1 && y.round === x.round);
    x.rpsVsOne = {};
    for (const tool of Object.keys(x.load)) x.rpsVsOne[tool] = one ? x.load[tool].rps / one.load[tool].rps : NaN;
  }
  const ks = results.filter((x) => x.tenants === 1000);
  const k = ks[0] && {
    ...ks[0],
    // Medians over the rounds: the ratios, the peak RSS and the idle CPU.
    rpsVsOne: Object.fromEntries(Object.keys(ks[0].rpsVsOne).map((t) => [t, L.median(ks.map((x) => x.rpsVsOne[t]))])),
    rssPeakMb: Math.max(...ks.map((x) => x.rssPeakMb)),
    idleCpu: L.median(ks.map((x) => x.idleCpu)),
  };
  const big = results.find((x) => x.tenants === 5000);
  const targets = {};
  if (k) {
    const ratios = Object.values(k.rpsVsOne);
    const floor = k.probeFloor
      ? `; drproxy's probes took ${L.fmt(k.idleCpu * 100, 1)}% of its core at idle, and the cheapest possible prober (bench/probe-loop.js --raw: no HTTP parser, no timeout) takes ${L.fmt(k.probeFloor.cpu * 100, 1)}% for the same ${L.fmt(k.probeFloor.probesPerSec, 0)} probes/s, so on one core no prober leaves the data plane more than ≈ ${L.fmt(1 - k.probeFloor.cpu, 2)}× of it`
      : '';
    const each = ks.length > 1 ? ` (median of ${ks.length} rounds: ${Object.keys(k.rpsVsOne).map((t) => `${t} ${ks.map((x) => `${L.fmt(x.rpsVsOne[t], 2)}×`).join(' / ')}`).join('; ')})` : '';
    targets.rps1000 = { want: 'req/s ≥ 0.95 × 1 tenant', got: Object.entries(k.rpsVsOne).map(([t, v]) => `${t} ${L.fmt(v, 2)}×`).join(', ') + each + floor, met: ratios.every((v) => v >= 0.95) };
    targets.rss1000 = { want: 'RSS ≤ 256 MB', got: `${L.fmt(k.rssPeakMb, 0)} MB peak${ks.length > 1 ? ` (the highest of ${ks.length} rounds)` : ''}`, met: k.rssPeakMb <= 256 };
    targets.reload1000 = {
      want: 'reload ≤ 1 s',
      got: `timed by bench/reload.js, not here; parse + validate (its lower bound) ${L.fmt(k.config.parseMs, 0)} ms`,
      met: null,
    };
  }
  if (big) {
    const loads = Object.values(big.load);
    targets.serve5000 = {
      want: '5,000 tenants load and serve',
      got: `ready in ${L.fmt(big.readyMs / 1000, 1)} s, ${loads.map((l) => `${L.fmt(l.rps)} req/s (${l.tool}), ${l.errors + l.non2xx} errors`).join('; ')}`,
      met: loads.every((l) => l.rps > 0 && l.errors === 0 && l.non2xx === 0),
    };
  }
  const result = { kind: 'scale', machine, options: o, results, targets };
  L.writeOut('scale.json', result);
  L.writeOut('scale.md', scaleMarkdown(result));
  return result;
}

export function scaleMarkdown(r) {
  const o = r.options;
  const lines = [];
  lines.push(
    `### Scale (${SITES} sites × ${BACKENDS} backends per tenant, checks every 1 s, ${o.sharedProbes ? 'shared' : 'one probe loop per tenant backend'}; load ${o.duration} s × ${o.connections} connections on one tenant)`,
    '',
  );
  const tools = Object.keys(r.results[0]?.load ?? {});
  lines.push(
    `| ${r.results.some((x) => x.round > 1) ? 'round | ' : ''}tenants | backends | config load (cold) | parse+validate (warm) | listening after | t0 serving after | RSS idle | RSS after load / peak | idle CPU | probes/s (expected) | CPU µs/probe | ${tools.map((t) => `${t} req/s (vs 1) · p99`).join(' | ')} | tenants moved (frozen): idle / after load |`,
  );
  const multi = r.results.some((x) => x.round > 1);
  lines.push(`|${multi ? '---:|' : ''}---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|${tools.map(() => '---:|').join('')}---:|`);
  for (const x of r.results) {
    lines.push(
      `| ${multi ? `${x.round} | ` : ''}${L.fmt(x.tenants)} | ${L.fmt(x.backends)} | ${L.fmt(x.config.loadMs, 0)} ms | ${L.fmt(x.config.parseMs, 0)} ms | ${L.fmt(x.listenMs, 0)} ms | ${L.fmt(x.readyMs, 0)} ms | ` +
        `${L.fmt(x.rssIdleMb, 0)} MB | ${L.fmt(x.rssAfterLoadMb, 0)} / ${L.fmt(x.rssPeakMb, 0)} MB | ${L.fmt(x.idleCpu * 100, 1)}% | ${L.fmt(x.probesPerSec, 0)} (${L.fmt(x.expectedProbesPerSec)}) | ` +
        `${L.fmt(x.cpuUsPerProbe, 0)} | ${tools.map((t) => `${L.fmt(x.load[t].rps)} (${L.fmt(x.rpsVsOne[t], 2)}×) · ${L.fmt(x.load[t].p99, t === 'wrk' ? 1 : 0)} ms${x.load[t].errors + x.load[t].non2xx ? ` ⚠ ${x.load[t].errors} err / ${x.load[t].non2xx} non-2xx` : ''}`).join(' | ')} | ${x.stateAfterIdle ? `${x.stateAfterIdle.moved} (${x.stateAfterIdle.frozen})` : 'n/a'} / ${x.state.moved} (${x.state.frozen}) of ${x.state.total} |`,
    );
  }
  lines.push('');
  lines.push(
    '"idle CPU": CPU time of the drproxy process per second while no traffic flows (health checks only), 100% = one core. "probes/s": /healthz requests counted by the upstream. ' +
      '"tenants moved (frozen)": tenants whose state file shows a failover (epoch > 1 or active site not s0), and in brackets those whose state is frozen, after the idle window and at the end — all upstreams are healthy, so any is false. ' +
      'Reload itself is timed by bench/reload.js; "parse+validate" is its lower bound.',
    '',
  );
  const notes = lines.length;
  for (const x of r.results) {
    if (x.readyError) lines.push(`- ${x.tenants} tenants: t0 never answered 200: ${x.readyError}`);
    const ev = Object.entries(x.logEvents ?? {}).sort((a, b) => b[1] - a[1]);
    if (ev.length) lines.push(`- ${x.tenants} tenants: drproxy warn/error log lines: ${ev.map(([k, v]) => `${v} × "${k}"`).join('; ')}`);
    if (x.state.moved) lines.push(`- ${x.tenants} tenants: reasons in the state files of the tenants that moved: ${Object.entries(x.state.reasons).map(([k, v]) => `${v} × "${k}"`).join('; ')}`);
  }
  if (lines.length > notes) lines.push('');
  for (const [name, t] of Object.entries(r.targets)) lines.push(`- target ${name} (${t.want}): **${t.met === null ? 'measured elsewhere' : t.met ? 'met' : 'not met'}** — ${t.got}`);
  lines.push('');
  return lines.join('\n');
}

L.runMain(import.meta.url, 'scale', runScale, scaleMarkdown);

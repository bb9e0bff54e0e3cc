/**
 * A whole region hangs (the failure drproxy exists for): N tenants, each with 3 sites × 2
 * backends and its own probes (as bench/scale.js, distinct backends), every tenant's primary
 * site served by one upstream process, which is SIGSTOPped. Nothing is refused or reset: every
 * probe to the primary region times out. Measures how long until every tenant has moved to its
 * second site, against the bound each tenant's checks promise (interval × fall + timeout).
 *
 * --fault blackhole: the region is cut off instead (a partition): the primary's ports listen
 * with a backlog of BLACKHOLE_BACKLOG, and once it is stopped this script fills every accept
 * queue, so that new connections get no answer at all (their SYNs dropped), as across a
 * partition. Also reports the most sockets drproxy held during the fault.
 *
 *   node bench/region-hang.js [--tenants 1000] [--ports 64] [--wait 60] [--repeat 1] [--cli A,B]
 *                             [--fault stop|blackhole] [--quick]
 *
 * --cli: drproxy builds (paths to dist/cli.js) to compare, interleaved (default: this tree's).
 *
 * Health checks as in scale.js: interval 1s, timeout 500ms, rise 2, fall 3 (bound 3.5 s).
 * drproxy on CPU 0; the upstreams and this script on CPU 1. A tenant has moved when its
 * persisted active site is no longer s0 (state files); when it tripped and when it was routed
 * come from drproxy's audit record of the flip.
 */
import path from 'node:path';
import net from 'node:net';
import { readdirSync, writeFileSync } from 'node:fs';
import * as L from './lib.js';
import { flipsFromLog } from './failover.js';

const HC = { interval: 1000, timeout: 500, fall: 3, rise: 2 };
/** Listen backlog of the primary's ports with --fault blackhole. */
const BLACKHOLE_BACKLOG = 64;

/** Sockets (open file descriptors) of a process. */
function fds(pid) {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return NaN;
  }
}

/** Fill the accept queue of every port (its process stopped): further SYNs are dropped. */
async function fillQueues(ports) {
  const sockets = [];
  for (const port of ports) {
    for (let i = 0; i < BLACKHOLE_BACKLOG + 8; i++) sockets.push(net.connect(port, '127.0.0.1').on('error', () => {}));
  }
  await L.sleep(300);
  return sockets;
}

/**
 * N tenants, each with `sites` sites of `backends` backends (default 3 × 2), s0 on the primary's
 * ports; `head`: extra configHead options (bench/cluster.js: admin, etcd).
 */
export function regionConfig({ n, port, stateDir, primaryPorts, otherPorts, sites = 3, backends = 2, head = {} }) {
  const out = [];
  out.push(`${L.configHead(`region-hang.js: ${n} tenant(s), primary region hung`, { port, stateDir, ...head })}defaults:
  health_check: { path: /healthz, interval: ${HC.interval}ms, timeout: ${HC.timeout}ms, rise: ${HC.rise}, fall: ${HC.fall}, jitter: 0.1 }
  failover: { mode: auto, failback: manual, min_interval: 60s }
tenants:`);
  let p = 0;
  let q = 0;
  const next = (ports, i) => `http://127.0.0.1:${ports[i % ports.length]}`;
  for (let i = 0; i < n; i++) {
    out.push(`  t${i}:`, '    tier: BC', `    hosts: [t${i}.bench.local]`, `    health_check: { headers: { x-bench-tenant: t${i} } }`, '    sites:');
    const list = (ports, take) => Array.from({ length: backends }, () => next(ports, take())).join(', ');
    out.push(`      - { name: s0, backends: [${list(primaryPorts, () => p++)}] }`);
    for (let s = 1; s < sites; s++) out.push(`      - { name: s${s}, backends: [${list(otherPorts, () => q++)}] }`);
  }
  return `${out.join('\n')}\n`;
}

async function once(n, cli, o) {
  const tmp = L.tempDir(`drproxy-bench-region-${n}-`);
  const blackhole = o.fault === 'blackhole';
  const primary = await L.startUpstream({ count: o.ports, site: 'primary', ...(blackhole && { backlog: BLACKHOLE_BACKLOG }) });
  const other = await L.startUpstream({ count: o.ports, site: 'other' });
  let dr;
  try {
    const port = await L.freePort();
    const stateDir = path.join(tmp, 'state');
    const cfg = path.join(tmp, 'drproxy.yaml');
    writeFileSync(cfg, regionConfig({ n, port, stateDir, primaryPorts: primary.ports, otherPorts: other.ports }));
    dr = await L.startDrproxy(cfg, port, { timeoutMs: 180_000, cli });
    let log = '';
    dr.child.stdout.on('data', (d) => {
      if (log.length < 64e6) log += d;
    });
    await L.waitForStatus(port, { host: 't0.bench.local', child: dr.child, timeoutMs: 60_000 });
    // Every backend probed `rise` times and more: a steady state.
    await L.sleep(o.settle * 1000);
    const before = await L.committedStates(stateDir);
    const movedBefore = before.filter((s) => s.active !== 's0').length;
    const cpu0 = L.cpuSeconds(dr.pid);
    const fdsBefore = fds(dr.pid);
    const tFault = Date.now();
    process.kill(primary.pid, 'SIGSTOP');
    const fillers = blackhole ? await fillQueues(primary.ports) : [];
    let states = before;
    let fdsPeak = fdsBefore;
    const deadline = tFault + o.wait * 1000;
    while (Date.now() < deadline) {
      await L.sleep(250);
      fdsPeak = Math.max(fdsPeak, fds(dr.pid));
      states = await L.committedStates(stateDir);
      if (states.filter((s) => s.active !== 's0' && s.phase === 'active').length >= n) break;
    }
    // Some seconds more: probes of the cut-off region go on after the flips.
    for (let i = 0; i < 12; i++) {
      await L.sleep(250);
      fdsPeak = Math.max(fdsPeak, fds(dr.pid));
    }
    for (const f of fillers) f.destroy();
    const elapsed = (Date.now() - tFault) / 1000;
    const cpu = (L.cpuSeconds(dr.pid) - cpu0) / elapsed;
    try {
      process.kill(primary.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    await L.sleep(500); // the last audit lines
    const moved = states.filter((s) => s.active !== 's0' && s.phase === 'active');
    const flips = flipsFromLog(log, tFault).filter((f) => f.steps);
    const dist = (xs) => {
      xs.sort((a, b) => a - b);
      return { first: xs[0], median: L.median(xs), p90: L.percentile(xs, 90), last: xs.at(-1) };
    };
    const bound = HC.interval * HC.fall + HC.timeout;
    const tripped = flips.map((f) => f.steps.tripped);
    const routed = flips.map((f) => f.steps.routed);
    const persist = flips.map((f) => f.steps.persisted - f.steps.tripped);
    const flip = flips.map((f) => f.steps.routed - f.steps.tripped);
    const r = {
      tenants: n,
      fault: o.fault,
      fdsBefore,
      fdsPeak,
      cli,
      movedBefore,
      moved: moved.length,
      frozen: states.filter((s) => s.phase === 'frozen').length,
      flipsLogged: flips.length,
      tripped: dist(tripped),
      routed: dist(routed),
      persistMs: dist(persist),
      flipMs: dist(flip),
      trippedWithinBound: tripped.filter((t) => t <= bound).length,
      routedWithinBound: routed.filter((t) => t <= bound).length,
      boundMs: bound,
      cpu,
      inconclusive: (log.match(/drproxy overloaded/g) ?? []).length,
    };
    const d = (x) => `first ${L.fmt(x.first)}, median ${L.fmt(x.median)}, p90 ${L.fmt(x.p90)}, last ${L.fmt(x.last)} ms`;
    L.log(
      `region ${o.fault}, ${n} tenants (${path.relative(L.ROOT, cli)}): ${r.moved}/${n} moved (${movedBefore} before the hang, ${r.frozen} frozen, ${flips.length} flips logged); tripped ${d(r.tripped)}; routed ${d(r.routed)}; each flip, tripped → persisted ${d(r.persistMs)}, tripped → routed ${d(r.flipMs)}; within ${bound} ms: ${r.trippedWithinBound} tripped, ${r.routedWithinBound} routed; drproxy CPU ${L.fmt(cpu * 100)} %; drproxy's sockets ${fdsBefore} before, ${fdsPeak} at most; ${r.inconclusive} inconclusive-probe log lines`,
    );
    return r;
  } finally {
    if (dr) await L.stopChild(dr.child);
    try {
      process.kill(primary.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    await L.stopChild(primary.child, { signal: 'SIGKILL' });
    await L.stopChild(other.child);
  }
}

export async function runRegionHang(options = {}) {
  const o = { tenants: 1000, ports: 64, wait: 60, settle: 6, repeat: 1, cli: L.DRPROXY_CLI, fault: 'stop', ...options };
  if (o.fault !== 'stop' && o.fault !== 'blackhole') throw new Error(`--fault: stop or blackhole, got ${o.fault}`);
  if (o.quick) Object.assign(o, { tenants: options.tenants ?? 100, settle: options.settle ?? 4 });
  const clis = String(o.cli).split(',').map((c) => path.resolve(c));
  L.pinSelf(L.CPU_LOAD);
  const results = [];
  for (let i = 0; i < o.repeat; i++) for (const n of String(o.tenants).split(',').map(Number)) for (const cli of clis) results.push(await once(n, cli, o));
  const result = { kind: 'region-hang', machine: L.machineInfo(), options: o, healthCheck: HC, results };
  L.writeOut('region-hang.json', result);
  L.writeOut('region-hang.md', regionMarkdown(result));
  return result;
}

export function regionMarkdown(r) {
  const lines = [
    `### A region ${r.options.fault === 'blackhole' ? 'cut off (SYNs dropped)' : 'hangs (SIGSTOP)'} (checks every ${r.healthCheck.interval} ms, timeout ${r.healthCheck.timeout} ms, fall ${r.healthCheck.fall}: bound ${r.results[0]?.boundMs} ms)`,
    '',
    '| tenants | build | moved | tripped: first / median / p90 / last | routed: first / median / p90 / last | each flip, tripped → persisted: median / last | tripped within the bound | routed within the bound | drproxy CPU | drproxy sockets: before / most |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const d = (x) => `${L.fmt(x.first)} / ${L.fmt(x.median)} / ${L.fmt(x.p90)} / ${L.fmt(x.last)} ms`;
  for (const x of r.results) {
    lines.push(`| ${x.tenants} | ${path.relative(L.ROOT, x.cli) || '.'} | ${x.moved} | ${d(x.tripped)} | ${d(x.routed)} | ${x.persistMs ? `${L.fmt(x.persistMs.median)} / ${L.fmt(x.persistMs.last)} ms` : 'n/a'} | ${x.trippedWithinBound} | ${x.routedWithinBound} | ${L.fmt(x.cpu * 100)} % | ${x.fdsBefore ?? 'n/a'} / ${x.fdsPeak ?? 'n/a'} |`);
  }
  lines.push('');
  return lines.join('\n');
}

L.runMain(import.meta.url, 'region-hang', runRegionHang, regionMarkdown);

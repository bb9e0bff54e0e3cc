/**
 * Issue 23, item 1: the data plane on worker threads (`server.workers`), measured on drproxy
 * itself (bench/workers-spike.js was the spike without drproxy).
 *
 *   node26 bench/workers.js [--modes isolation,scaling,memory] [--rounds 3] [--duration 8]
 *                           [--warmup 4] [--connections 64] [--ports 64] [--cli PATH]
 *
 * isolation — one tenant's req/s through ONE data-plane worker on its own core, with 1 tenant
 *   and with 1,000 distinct tenants probed every second on the control-plane (main) thread.
 *   The worker thread is pinned to CPU 1 by its thread id; the main thread, upstream and load
 *   generator share CPU 0 (a 2-core machine has no third core). Reported per round: req/s, the
 *   worker thread's CPU per request (/proc/PID/task/TID/stat), and the main thread's CPU. The
 *   same figures with `workers: 0` (one loop on CPU 1: the probes compete with the requests)
 *   show what the thread buys. Target: the 1,000-tenant req/s ≥ 0.95× the same round's 1-tenant req/s.
 * scaling — one tenant, `workers: 1` against `workers: 2`, each worker pinned to its own CPU
 *   (they compete with the upstream and the load generator, which this machine cannot avoid):
 *   req/s and the process's CPU per request. The target (2 workers ≥ 1.7× one) needs cores the
 *   load does not use; the CPU per request says whether the second worker costs work.
 * memory — RSS at 1,000 distinct tenants, idle and after load, for `workers: 0, 1, 2`: what a
 *   further worker adds (target ≤ 40 MB; 1 worker ≤ 256 MB).
 *
 * Rounds interleave the variants (1, 1000, 1, 1000, …); each ratio is taken within a round and
 * the target judged on the median of the rounds' ratios. Needs Node ≥ 22.12 (reusePort) for
 * 2 workers, and taskset.
 */
import path from 'node:path';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import * as L from './lib.js';
import { scaleConfig } from './scale.js';

const WORKER_THREAD = /^drproxy-worker/;

/** The thread ids of a process whose name matches `re` (Node names a Worker's thread by `name`). */
function threads(pid, re) {
  const out = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      if (re.test(readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim())) out.push(Number(tid));
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

function threadCpuSeconds(pid, tid) {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function pinThread(tid, cpu) {
  execFileSync('taskset', ['-p', '-c', String(cpu), String(tid)], { stdio: 'ignore' });
}

async function startProxy(o, { tenants, workers, up }) {
  const tmp = L.tempDir(`drproxy-bench-workers-${tenants}-${workers}-`);
  const port = await L.freePort();
  const cfg = path.join(tmp, 'drproxy.yaml');
  const text = scaleConfig({ n: tenants, port, stateDir: path.join(tmp, 'state'), ports: up.ports, sharedProbes: false });
  writeFileSync(cfg, `${text}server:\n  workers: ${workers}\n`);
  const dr = await L.startDrproxy(cfg, port, { timeoutMs: 180_000, cpu: '0', ...(o.cli && { cli: path.resolve(String(o.cli)) }) });
  await L.waitForStatus(port, { host: 't0.bench.local', child: dr.child, timeoutMs: 60_000 });
  const ws = threads(dr.pid, WORKER_THREAD);
  if (ws.length !== workers) throw new Error(`${ws.length} worker threads named drproxy-worker*, ${workers} expected`);
  return { ...dr, workerTids: ws };
}


async function isolation(o, up) {
  const rows = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const workers of [1, 0]) {
      for (const tenants of [1, 1000]) {
        const dr = await startProxy(o, { tenants, workers, up });
        try {
          // The data plane gets CPU 1 to itself: the worker thread, or with workers 0 the whole
          // process (its one loop serves requests and runs the probes).
          if (workers === 0) execFileSync('taskset', ['-a', '-p', '-c', '1', String(dr.pid)], { stdio: 'ignore' });
          for (const tid of dr.workerTids) pinThread(tid, 1);
          await L.sleep(3000); // the 1,000 tenants' first probes settle
          const base = { port: dr.port, host: 't0.bench.local', connections: o.connections, cpu: '0' };
          await L.runWrk({ ...base, duration: o.warmup });
          // workers 0: the data plane is the main thread itself.
          const tids = dr.workerTids.length ? dr.workerTids : [dr.pid];
          const w0 = tids.map((t) => threadCpuSeconds(dr.pid, t));
          const m0 = threadCpuSeconds(dr.pid, dr.pid);
          const r = await L.runWrk({ ...base, duration: o.duration });
          const w = tids.reduce((a, t, i) => a + threadCpuSeconds(dr.pid, t) - w0[i], 0);
          const main = threadCpuSeconds(dr.pid, dr.pid) - m0;
          const row = { round, workers, tenants, rps: r.rps, p99: r.p99, errors: r.errors + r.non2xx, workerUsPerReq: (w * 1e6) / r.total, mainCpu: main / o.duration };
          L.log(`isolation round ${round} workers ${workers} tenants ${tenants}: ${row.rps.toFixed(0)} req/s, p99 ${row.p99} ms, data-plane thread ${row.workerUsPerReq.toFixed(1)} µs CPU/request, main thread ${(row.mainCpu * 100).toFixed(0)}% of a core`);
          rows.push(row);
        } finally {
          await L.stopChild(dr.child, { graceMs: 30_000 });
        }
      }
    }
  }
  return rows;
}

async function scaling(o, up) {
  const rows = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const workers of [1, 2]) {
      const dr = await startProxy(o, { tenants: 1, workers, up });
      try {
        execFileSync('taskset', ['-a', '-p', '-c', '0,1', String(dr.pid)], { stdio: 'ignore' });
        dr.workerTids.forEach((tid, i) => pinThread(tid, i));
        const base = { port: dr.port, host: 't0.bench.local', connections: o.connections, cpu: '0,1' };
        await L.runWrk({ ...base, duration: o.warmup });
        const c0 = L.cpuSeconds(dr.pid);
        const r = await L.runWrk({ ...base, duration: o.duration });
        const cpu = L.cpuSeconds(dr.pid) - c0;
        const row = { round, workers, rps: r.rps, p99: r.p99, errors: r.errors + r.non2xx, usPerReq: (cpu * 1e6) / r.total };
        L.log(`scaling round ${round} workers ${workers}: ${row.rps.toFixed(0)} req/s, p99 ${row.p99} ms, ${row.usPerReq.toFixed(1)} µs CPU/request`);
        rows.push(row);
      } finally {
        await L.stopChild(dr.child, { graceMs: 30_000 });
      }
    }
  }
  return rows;
}

async function memory(o, up) {
  const rows = [];
  for (const workers of [0, 1, 2]) {
    const dr = await startProxy(o, { tenants: 1000, workers, up });
    try {
      await L.sleep(5000);
      const idle = L.rssMb(dr.pid);
      await L.runWrk({ port: dr.port, host: 't0.bench.local', connections: o.connections, duration: o.duration, cpu: '1' });
      const row = { workers, idleMb: idle, afterLoadMb: L.rssMb(dr.pid) };
      L.log(`memory workers ${workers}: RSS ${row.idleMb.toFixed(1)} MB idle, ${row.afterLoadMb.toFixed(1)} MB after load`);
      rows.push(row);
    } finally {
      await L.stopChild(dr.child, { graceMs: 30_000 });
    }
  }
  return rows;
}

const ratio = (a, b) => (b > 0 ? a / b : NaN);

function markdown(r) {
  const out = [`node ${process.version}; ${r.uptime}`, ''];
  if (r.isolation) {
    out.push('| round | workers | tenants | req/s | p99 ms | data-plane µs CPU/req | main thread CPU | ratio to 1 tenant |', '|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const x of r.isolation) {
      const one = r.isolation.find((y) => y.round === x.round && y.workers === x.workers && y.tenants === 1);
      out.push(`| ${x.round} | ${x.workers} | ${x.tenants} | ${L.fmt(x.rps)} | ${x.p99} | ${L.fmt(x.workerUsPerReq, 1)} | ${L.fmt(x.mainCpu * 100)}% | ${L.fmt(ratio(x.rps, one.rps), 3)} |`);
    }
    for (const w of [1, 0]) {
      const rs = r.isolation.filter((x) => x.workers === w && x.tenants === 1000).map((x) => ratio(x.rps, r.isolation.find((y) => y.round === x.round && y.workers === w && y.tenants === 1).rps));
      out.push('', `workers ${w}: 1,000-tenant req/s over 1-tenant, median of rounds ${L.fmt(L.median(rs), 3)}`);
    }
  }
  if (r.scaling) {
    out.push('', '| round | workers | req/s | p99 ms | µs CPU/req | ratio to 1 worker |', '|---:|---:|---:|---:|---:|---:|');
    for (const x of r.scaling) {
      const one = r.scaling.find((y) => y.round === x.round && y.workers === 1);
      out.push(`| ${x.round} | ${x.workers} | ${L.fmt(x.rps)} | ${x.p99} | ${L.fmt(x.usPerReq, 1)} | ${L.fmt(ratio(x.rps, one.rps), 3)} |`);
    }
  }
  if (r.memory) {
    out.push('', '| workers | RSS idle MB | RSS after load MB |', '|---:|---:|---:|');
    for (const x of r.memory) out.push(`| ${x.workers} | ${L.fmt(x.idleMb, 1)} | ${L.fmt(x.afterLoadMb, 1)} |`);
  }
  return `${out.join('\n')}\n`;
}

async function run(o) {
  o = { rounds: 3, duration: 8, warmup: 4, connections: 64, ports: 64, modes: 'isolation,scaling,memory', ...o };
  if (!L.HAS_TASKSET || !L.HAS_WRK) throw new Error('bench/workers.js needs taskset and wrk');
  const modes = String(o.modes).split(',');
  L.log(`uptime before: ${execFileSync('uptime').toString().trim()}`);
  const up = await L.startUpstream({ count: o.ports, cpu: '0' });
  const r = {};
  try {
    if (modes.includes('isolation')) r.isolation = await isolation(o, up);
    if (modes.includes('scaling')) r.scaling = await scaling(o, up);
    if (modes.includes('memory')) r.memory = await memory(o, up);
  } finally {
    await L.stopChild(up.child);
  }
  r.uptime = execFileSync('uptime').toString().trim();
  L.writeOut('workers', { machine: L.machineInfo(), ...r });
  return r;
}

L.runMain(import.meta.url, 'workers', run, markdown);

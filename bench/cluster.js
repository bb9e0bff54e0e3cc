/**
 * Issue 18's targets for clustered mode, each against one drproxy process measured in the same
 * run with the same load and config, less `state.etcd`:
 *   1. three replicas under load (1,000 req/s spread over them), the primary SIGKILLed: kill →
 *      first backup answer (target: the single process's + 50 ms), first → last replica routed
 *      (≤ 100 ms), failed requests;
 *   2. the leader SIGKILLed, then at once a forced failover sent to a follower (which forwards
 *      it to the leader), or the primary SIGKILLed too (`--flip`): kill → the flip committed
 *      (≤ lease TTL + 1 s); the single figure is the same failover on one process;
 *   3. 1,000 tenants whose primary region hangs (SIGSTOP, as bench/region-hang.js): the last
 *      tenant routed on every replica (≤ the single process's + 1 s);
 *   4. a replica's CPU over `--idle` seconds at 1,000 tenants, idle (before the hang of 3):
 *      clustered minus single (≤ 5 % of a core).
 *
 *   node bench/cluster.js [--only 1,2,3,4] [--replicas 3] [--tenants 1000] [--repeat 1]
 *                         [--rate 1000] [--ttl 2] [--members 1] [--idle 30] [--max-minutes 30]
 *                         [--variants single,cluster] [--flip forced,primary] [--proxy-cpu 0,1]
 *
 * --proxy-cpu: the CPU(s) of drproxy in parts 1-2 (taskset list; default `0,1`: unpinned, as
 * parts 3-4; three replicas pinned to one CPU stalled for seconds on this loaded machine).
 *
 * Real etcd (`etcd` on PATH: `--members` members on 127.0.0.1, free ports, temp data dirs, fast
 * heartbeats as test/helpers/etcd.ts) and real drproxy child processes (dist/cli.js; replica i
 * is `r<i>`, started in order so that r0 leads first). When a follower routed comes from its
 * acknowledgement in etcd (`P/acks/<id>/<t>`, stage `routed`, its `at` stamp: same machine,
 * same clock); the leader's from its flip record (it acknowledges after its completion commit).
 * Upstreams and the load on CPU 1, etcd unpinned, drproxy as --proxy-cpu (parts 1-2) or
 * unpinned (parts 3-4: three replicas of 1,000 tenants do not fit one core); the single process
 * placed as the replicas. Parts 3-4: tenants of 2 sites × 1 backend (3 × 2 as region-hang.js
 * would be 18,000 probes a second over three replicas on two cores).
 * The load average is recorded before each part: other sessions share this machine.
 */
import os from 'node:os';
import * as L from './lib.js';
import { adminCall, clusterMetrics, etcdDisk, etcdEpochs, etcdPinger, etcdRange, leaderIndex, linesSince, metricsDiff, ready, routedAcks, startSet, stopSet } from './cluster-lib.js';
import { analyse, failoverConfig, flipsFromLog, startLoad } from './failover.js';
import { regionConfig } from './region-hang.js';

const HOST = 'bench.local';
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

// ---------------------------------------------------------------------------------------------
// 1. The primary killed under load

const oneTenant = (primary, backup) => (port, stateDir, head) =>
  failoverConfig({ port, stateDir, primary: primary.ports, backup: backup.ports, retry503: false, standby: 0, slowAfter: 0, slowConfirm: true, refused: 1, head });

async function primaryKill(variant, o) {
  const loadavg = load();
  const primary = await L.startUpstream({ count: 2, site: 'primary' });
  const backup = await L.startUpstream({ count: 2, site: 'backup' });
  let set;
  try {
    set = await startSet(variant, o, oneTenant(primary, backup), { cpu: String(o.proxyCpu) });
    await ready(set, HOST);
    await L.sleep(1000);
    const loads = set.procs.map((p) => startLoad(p.port, { rate: o.rate / set.procs.length }));
    await L.sleep(o.pre * 1000);
    const tFault = L.wall();
    process.kill(primary.pid, 'SIGKILL');
    await L.sleep(o.post * 1000);
    for (const l of loads) l.stop();
    await Promise.all(loads.map((l) => l.drain(12_000)));
    const all = analyse(loads.flatMap((l) => l.records), tFault, 'kill');
    const per = loads.map((l) => analyse(l.records, tFault, 'kill'));
    const firstBackup = per.map((x) => x.firstBackupMs);
    // What each replica's first backup answers were: sent and answered when, after the fault.
    const firstAnswers = loads.map((l) =>
      l.records
        .filter((x) => x.site === 'backup' && x.status === 200)
        .sort((a, b) => a.t1 - b.t1)
        .slice(0, 3)
        .map((x) => ({ sentMs: Math.round(x.t0 - tFault), answeredMs: Math.round(x.t1 - tFault) })),
    );
    const acks = set.etcd ? (await routedAcks(set)).map((a) => ({ replica: a.replica, ms: a.at - tFault })) : [];
    const leaderLog = set.procs[set.leader ?? 0].log;
    const flips = flipsFromLog(leaderLog, tFault);
    // When each replica routed: a follower when it acknowledged `routed` (it does so as it
    // publishes the route); the leader from its flip record (its ack comes after the completion
    // commit, which it makes after routing its own data plane).
    const leaderRouted = flips.find((f) => f.to === 'backup' && f.steps)?.steps.routed;
    const routed = set.etcd ? set.procs.map((p, i) => (i === set.leader ? leaderRouted : acks.find((a) => a.replica === p.id)?.ms)) : [];
    return {
      part: 1, variant, loadavg, requests: all.requests, failed: all.failed, failures: all.failures, p50BeforeMs: all.p50BeforeMs, p99BeforeMs: all.p99BeforeMs,
      firstBackupMs: all.firstBackupMs, allOnBackupMs: all.allOnBackupMs, perReplicaFirstBackupMs: firstBackup,
      firstBackupSpreadMs: Math.max(...firstBackup) - Math.min(...firstBackup), firstAnswers, timelines: per.map((x) => x.timeline.filter((b) => b.fromMs >= -200 && b.fromMs < 2000)),
      routedAcks: acks, routedMs: routed, routedSpreadMs: routed.every(Number.isFinite) ? Math.max(...routed) - Math.min(...routed) : NaN,
      flips,
    };
  } finally {
    if (set) await stopSet(set);
    await L.stopChild(primary.child, { signal: 'SIGKILL' });
    await L.stopChild(backup.child);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. The leader killed: how soon can a flip be committed again

/** POST a forced failover to `p` until it is answered 200 (or the deadline): {ms, attempts, answers}. */
async function failoverUntilDone(p, t0, deadlineMs) {
  const answers = {};
  for (let attempts = 1; ; attempts++) {
    const r = await adminCall(p, 'POST', '/tenants/bench/failover', { to: 'backup', reason: 'bench/cluster.js' });
    const key = `${r.status} ${r.body?.code ?? r.body?.error ?? ''}`.trim();
    answers[key] = (answers[key] ?? 0) + 1;
    if (r.status === 200) return { ms: L.wall() - t0, attempts, answers, epoch: r.body.epoch };
    if (L.wall() - t0 > deadlineMs) return { ms: NaN, attempts, answers };
    await L.sleep(20);
  }
}

/** Poll the committed state until the tenant is active on the backup: ms from t0 (NaN at the deadline). */
async function committedOnBackup(set, t0, deadlineMs) {
  for (;;) {
    const states = set.etcd
      ? (await etcdRange(set.etcd.endpoints[0], `${set.prefix}/tenants/`)).map((kv) => JSON.parse(kv.value))
      : await L.committedStates(set.procs[0].stateDir);
    if (states.some((x) => x.active === 'backup' && x.phase === 'active')) return { ms: L.wall() - t0, attempts: 1, answers: {}, epoch: states[0].epoch };
    if (L.wall() - t0 > deadlineMs) return { ms: NaN, attempts: 1, answers: {} };
    await L.sleep(10);
  }
}

/**
 * The leader killed, then a flip made necessary at once: `how` 'forced' (a forced failover sent
 * to a follower) or 'primary' (the primary SIGKILLed too: the next leader must see it down).
 */
async function leaderKill(variant, o, how) {
  const loadavg = load();
  const primary = await L.startUpstream({ count: 2, site: 'primary' });
  const backup = await L.startUpstream({ count: 2, site: 'backup' });
  let set;
  try {
    set = await startSet(variant, o, oneTenant(primary, backup), { cpu: String(o.proxyCpu) });
    await ready(set, HOST);
    await L.sleep(1000);
    const leader = set.leader ?? 0;
    const follower = (leader + 1) % set.procs.length;
    const others = set.procs.map((_, i) => i).filter((i) => i !== leader);
    const t0 = L.wall();
    if (variant === 'cluster') process.kill(set.procs[leader].pid, 'SIGKILL');
    if (how === 'primary') process.kill(primary.pid, 'SIGKILL');
    const [committed, newLeaderMs] = await Promise.all([
      how === 'primary' ? committedOnBackup(set, t0, 15_000) : failoverUntilDone(set.procs[follower], t0, 15_000),
      variant === 'cluster' ? leaderIndex(set, { among: others, timeoutMs: 15_000 }).then(() => L.wall() - t0, () => NaN) : NaN,
    ]);
    return { part: 2, variant, how, loadavg, killed: set.procs[leader].id, via: set.procs[follower].id, committed, newLeaderMs };
  } finally {
    if (set) await stopSet(set);
    await L.stopChild(primary.child, { signal: 'SIGKILL' });
    await L.stopChild(backup.child);
  }
}

// ---------------------------------------------------------------------------------------------
// 3-4. 1,000 tenants: idle CPU, then the primary region hangs

async function idleCpu(set, seconds) {
  const pids = set.procs.map((p) => p.pid);
  const etcdPids = set.etcd?.members.map((m) => m.child.pid) ?? [];
  const c0 = pids.map(L.cpuSeconds);
  const e0 = etcdPids.map(L.cpuSeconds);
  const t0 = performance.now();
  await L.sleep(seconds * 1000);
  const dt = (performance.now() - t0) / 1000;
  return { perProc: pids.map((pid, i) => (L.cpuSeconds(pid) - c0[i]) / dt), etcd: etcdPids.map((pid, i) => (L.cpuSeconds(pid) - e0[i]) / dt) };
}

/** Wait until every tenant is routed off s0 (every replica): {lastMs, perReplicaLastMs, routed}. */
async function waitRouted(set, o, tFault, before, movedBefore) {
  // Tenants that moved before the hang (none expected) do not move again.
  const want = (o.tenants - movedBefore) * set.procs.length;
  const deadline = tFault + o.wait * 1000;
  let routed = [];
  while (Date.now() < deadline) {
    await L.sleep(250);
    if (set.etcd) routed = await routedAcks(set, before);
    else {
      const states = await L.committedStates(set.procs[0].stateDir);
      const done = states.filter((s) => s.active !== 's0' && s.phase === 'active').length;
      routed = flipsFromLog(set.procs[0].log, tFault).filter((f) => f.steps?.tripped >= 0).map((f) => ({ replica: 'r0', ms: f.steps.routed }));
      if (done >= o.tenants) break;
      continue;
    }
    if (routed.length >= want) break;
  }
  if (set.etcd) routed = routed.map((a) => ({ replica: a.replica, ms: a.at - tFault }));
  const per = set.procs.map((p) => Math.max(...routed.filter((r) => r.replica === p.id).map((r) => r.ms)));
  return { routed: routed.length, want, lastMs: routed.length >= want ? Math.max(...routed.map((r) => r.ms)) : NaN, medianMs: L.median(routed.map((r) => r.ms)), perReplicaLastMs: per };
}


/** The primary region hangs (SIGSTOP): until every tenant is routed off it, and why it took that long. */
async function regionHang(set, primary, o) {
  const r = { loadavgHang: load() };
  const before = set.etcd ? await etcdEpochs(set) : new Map();
  r.movedBefore = set.etcd ? [...before.values()].filter((e) => e > 1).length : (await L.committedStates(set.procs[0].stateDir)).filter((s) => s.active !== 's0').length;
  const diag = set.etcd && (await clusterDiagnostics(set));
  const c0 = set.procs.map((p) => L.cpuSeconds(p.pid));
  const tFault = Date.now();
  process.kill(primary.pid, 'SIGSTOP');
  const ping = set.etcd && etcdPinger(set);
  Object.assign(r, await waitRouted(set, o, tFault, before, r.movedBefore));
  // Each drproxy's CPU from the hang until all routed (1 = a whole core: its event loop saturated).
  r.hangCpu = set.procs.map((p, i) => Math.round(((L.cpuSeconds(p.pid) - c0[i]) / ((Date.now() - tFault) / 1000)) * 100) / 100);
  if (diag) Object.assign(r, await diag.done(ping));
  const all = flipsFromLog(set.procs[set.leader ?? 0].log, tFault);
  // Flips tripped before the hang (none expected): why, by reason. (Detection may start
  // before the fault: a probe sent just before it times out after it.)
  r.flipsBefore = {};
  for (const f of all.filter((x) => x.steps?.tripped < 0)) r.flipsBefore[`${f.from}→${f.to}: ${f.reason}`] = (r.flipsBefore[`${f.from}→${f.to}: ${f.reason}`] ?? 0) + 1;
  const flips = all.filter((f) => f.steps?.tripped >= 0);
  r.trippedMedianMs = L.median(flips.map((f) => f.steps.tripped));
  r.leaderRoutedLastMs = Math.max(...flips.map((f) => f.steps.routed));
  r.flipsLogged = flips.length;
  // The leader's flip steps, median ms after each flip's trip: where a clustered flip's time goes.
  r.stepsMedianMs = Object.fromEntries(Object.keys(flips[0]?.steps ?? {}).map((k) => [k, Math.round(L.median(flips.map((f) => f.steps[k] - f.steps.tripped)))]));
  return r;
}

/**
 * Readings before the hang, and done(ping) after it: each replica's etcd requests and ack waits
 * (/metrics), etcd's own disk times, a put's latency from outside, leadership and lease events.
 */
async function clusterDiagnostics(set) {
  const m0 = await Promise.all(set.procs.map(clusterMetrics));
  const d0 = await etcdDisk(set);
  const offsets = set.procs.map((p) => p.log.length);
  return {
    async done(ping) {
      const d1 = await etcdDisk(set);
      return {
        etcdPutFromOutside: await ping(),
        etcdRequests: metricsDiff(m0, await Promise.all(set.procs.map(clusterMetrics))),
        etcdDisk: Object.fromEntries(Object.keys(d1).map((k) => [k, { count: d1[k].count - (d0[k]?.count ?? 0), meanMs: Math.round(((d1[k].sum - (d0[k]?.sum ?? 0)) / Math.max(1, d1[k].count - (d0[k]?.count ?? 0))) * 10000) / 10 }])),
        leaderChangesSeen: linesSince(set, offsets, /"event":"leader_changed"/),
        leaseLostLines: linesSince(set, offsets, /lease|DRP_ETCD/i),
        // The first leadership and lease events of each replica after the hang, as logged.
        leaderEvents: set.procs.map((p, i) =>
          p.log
            .slice(offsets[i])
            .split('\n')
            .filter((l) => /leader_changed|lease lost|steps? down|not the leader/i.test(l))
            .slice(0, 6)
            .map((l) => l.slice(0, 400)),
        ),
      };
    },
  };
}

async function regionParts(variant, o, { idle, hang }) {
  const loadavg = load();
  const primary = await L.startUpstream({ count: o.ports, site: 'primary' });
  const other = await L.startUpstream({ count: o.ports, site: 'other' });
  let set;
  try {
    const config = (port, stateDir, head) => regionConfig({ n: o.tenants, port, stateDir, primaryPorts: primary.ports, otherPorts: other.ports, sites: 2, backends: 1, head });
    set = await startSet(variant, o, config, { cpu: '0,1' });
    await ready(set, 't0.bench.local');
    await L.sleep(o.settle * 1000);
    const r = { variant, loadavg, tenants: o.tenants, replicas: set.procs.length };
    if (idle) {
      r.cpu = await idleCpu(set, o.idle);
      if (set.leader !== undefined) r.cpu.leader = set.procs[set.leader].id;
    }
    if (!hang) return r;
    return Object.assign(r, await regionHang(set, primary, o));
  } finally {
    try {
      process.kill(primary.pid, 'SIGCONT');
    } catch {
      /* gone */
    }
    if (set) await stopSet(set);
    await L.stopChild(primary.child, { signal: 'SIGKILL' });
    await L.stopChild(other.child);
  }
}

// ---------------------------------------------------------------------------------------------

export async function runCluster(options = {}) {
  const o = { only: '1,2,3,4', flip: 'forced,primary', variants: 'single,cluster', proxyCpu: '0,1', replicas: 3, tenants: 1000, repeat: 1, rate: 1000, pre: 3, post: 4, ttl: 2, members: 1, idle: 30, settle: 6, wait: 60, ports: 64, maxMinutes: 30, ...options };
  const only = new Set(String(o.only).split(',').map(Number));
  // Bounded: whatever happens, everything is killed (lib.js's exit handler) after maxMinutes.
  setTimeout(() => {
    L.log(`cluster: still running after ${o.maxMinutes} min: giving up`);
    process.exit(2);
  }, o.maxMinutes * 60_000).unref();
  L.pinSelf(L.CPU_LOAD);
  process.setMaxListeners(100); // lib.js's tempDir() adds an exit listener per directory
  const machine = L.machineInfo();
  const results = [];
  const chosen = String(o.variants).split(',');
  const variants = (round) => (round % 2 === 0 ? ['single', 'cluster'] : ['cluster', 'single']).filter((v) => chosen.includes(v));
  for (let round = 0; round < o.repeat; round++) {
    for (const v of variants(round)) {
      if (only.has(1)) results.push(logged(await primaryKill(v, o)));
      if (only.has(2)) for (const how of String(o.flip).split(',')) results.push(logged(await leaderKill(v, o, how)));
      if (only.has(3) || only.has(4)) results.push(logged({ part: only.has(3) ? '3+4' : 4, ...(await regionParts(v, o, { idle: only.has(4), hang: only.has(3) })) }));
    }
  }
  const result = { kind: 'cluster', machine, options: o, results, summary: summarise(results, o) };
  L.writeOut('cluster.json', result);
  L.writeOut('cluster.md', clusterMarkdown(result));
  return result;
}

function logged(r) {
  L.log(`cluster part ${r.part} ${r.variant}: ${JSON.stringify({ ...r, flips: undefined, routedAcks: undefined, timelines: undefined })}`);
  return r;
}

const cpuOf = (r) => (r.cpu ? L.median(r.cpu.perProc) : NaN);

function summarise(results, o) {
  const of = (part, variant, f) => results.filter((r) => String(r.part).includes(String(part)) && r.variant === variant).map(f);
  const med = (part, variant, f) => L.median(of(part, variant, f));
  const s = {
    firstBackup: { single: med(1, 'single', (r) => r.firstBackupMs), cluster: med(1, 'cluster', (r) => r.firstBackupMs) },
    routedSpread: { cluster: med(1, 'cluster', (r) => r.routedSpreadMs), firstBackupSpread: med(1, 'cluster', (r) => r.firstBackupSpreadMs) },
    failed: { single: of(1, 'single', (r) => r.failed), cluster: of(1, 'cluster', (r) => r.failed) },
    commitAfterLeaderKill: Object.fromEntries(
      String(o.flip).split(',').map((how) => [how, { single: med(2, 'single', (r) => (r.how === how ? r.committed.ms : NaN)), cluster: med(2, 'cluster', (r) => (r.how === how ? r.committed.ms : NaN)) }]),
    ),
    newLeader: med(2, 'cluster', (r) => r.newLeaderMs),
    regionRouted: { single: med(3, 'single', (r) => r.lastMs), cluster: med(3, 'cluster', (r) => r.lastMs) },
    idleCpu: { single: med(4, 'single', cpuOf), cluster: med(4, 'cluster', cpuOf), clusterMax: med(4, 'cluster', (r) => (r.cpu ? Math.max(...r.cpu.perProc) : NaN)), etcd: med(4, 'cluster', (r) => (r.cpu ? r.cpu.etcd.reduce((a, b) => a + b, 0) : NaN)) },
  };
  s.targets = [
    { part: 1, name: 'primary killed: first backup answer ≤ single + 50 ms', single: s.firstBackup.single, cluster: s.firstBackup.cluster, met: s.firstBackup.cluster <= s.firstBackup.single + 50 },
    { part: 1, name: 'primary killed: last replica routed ≤ 100 ms after the first', cluster: s.routedSpread.cluster, met: s.routedSpread.cluster <= 100 },
    { part: 1, name: '(the same, by each replica\'s first backup answer)', cluster: s.routedSpread.firstBackupSpread, met: s.routedSpread.firstBackupSpread <= 100 },
    ...Object.entries(s.commitAfterLeaderKill).map(([how, c]) => ({
      part: 2,
      name: `leader killed, then ${how === 'forced' ? 'a forced failover sent to a follower' : 'the primary killed'}: flip committed ≤ lease TTL + 1 s (${o.ttl + 1} s)`,
      ...c,
      met: c.cluster <= (o.ttl + 1) * 1000,
    })),
    { part: 3, name: `${o.tenants} tenants, region hangs: all routed ≤ single + 1 s`, single: s.regionRouted.single, cluster: s.regionRouted.cluster, met: s.regionRouted.cluster <= s.regionRouted.single + 1000 },
    { part: 4, name: `${o.tenants} tenants idle: a replica's CPU ≤ single + 5 % of a core`, single: s.idleCpu.single * 100, cluster: s.idleCpu.cluster * 100, met: s.idleCpu.cluster - s.idleCpu.single <= 0.05, unit: '%' },
  ].filter((t) => results.some((r) => String(r.part).includes(String(t.part))));
  return s;
}

export function clusterMarkdown(r) {
  const o = r.options;
  const lines = [
    `### Clustered mode (${o.replicas} replicas, ${o.members} etcd member(s), lease_ttl ${o.ttl}s, ${o.repeat} round(s); load average at start ${r.machine.loadavg.join(' / ')})`,
    '',
    '| target | single process | clustered | met? |',
    '|---|---:|---:|---|',
  ];
  for (const t of r.summary.targets) {
    const v = (x) => (Number.isFinite(x) ? `${L.fmt(x, 1)} ${t.unit ?? 'ms'}` : 'n/a');
    lines.push(`| ${t.name} | ${t.single === undefined ? '—' : v(t.single)} | ${v(t.cluster)} | **${t.met ? 'met' : 'not met'}** |`);
  }
  lines.push('', '| part | variant | load avg (1/5/15) | figures |', '|---|---|---|---|');
  for (const x of r.results) {
    let f;
    if (x.part === 1) {
      f = `p50 / p99 in the second before the kill ${L.fmt(x.p50BeforeMs, 1)} / ${L.fmt(x.p99BeforeMs, 1)} ms; ${x.requests} requests, ${x.failed} failed${x.failed ? ` (${Object.entries(x.failures).map(([k, n]) => `${n} × ${k}`).join(', ')})` : ''}; first backup ${L.fmt(x.firstBackupMs, 1)} ms; per replica ${x.perReplicaFirstBackupMs.map((m) => L.fmt(m, 1)).join(' / ')} ms; all on backup ${L.fmt(x.allOnBackupMs, 1)} ms` +
        (x.variant === 'cluster' ? `; routed (leader's flip record, followers' acks) ${x.routedMs.map((m) => L.fmt(m, 0)).join(' / ')} ms, spread ${L.fmt(x.routedSpreadMs, 0)} ms (routed acks ${x.routedAcks.map((a) => `${a.replica} ${L.fmt(a.ms, 0)}`).join(', ')} ms)` : '') +
        `; flip: ${x.flips.map((d) => `detected ${L.fmt(d.detectedMs, 0)} ms, ${d.steps ? Object.entries(d.steps).map(([k, v]) => `${k} ${L.fmt(v, 0)}`).join(', ') : ''}`).join('; ') || 'none logged'}`;
    } else if (x.part === 2) {
      const c = x.committed;
      const killed = x.variant === 'cluster' ? `leader ${x.killed} killed, ` : '';
      f =
        x.how === 'primary'
          ? `${killed}primary killed; ${x.variant === 'cluster' ? `new leader seen ${L.fmt(x.newLeaderMs, 0)} ms; ` : ''}backup committed ${L.fmt(c.ms, 0)} ms (epoch ${c.epoch})`
          : `${killed}forced failover sent to ${x.via}; ${x.variant === 'cluster' ? `new leader seen ${L.fmt(x.newLeaderMs, 0)} ms; ` : ''}committed and answered ${L.fmt(c.ms, 0)} ms (epoch ${c.epoch}, ${c.attempts} attempt(s): ${Object.entries(c.answers).map(([k, n]) => `${n} × ${k}`).join(', ')})`;
    } else {
      f = (x.cpu ? `idle CPU ${x.cpu.perProc.map((c) => `${L.fmt(c * 100, 1)} %`).join(' / ')}${x.cpu.etcd.length ? ` (etcd ${x.cpu.etcd.map((c) => `${L.fmt(c * 100, 1)} %`).join(' / ')}; leader ${x.cpu.leader})` : ''}` : '') +
        (x.want !== undefined ? `; region hang: drproxy CPU until all routed ${x.hangCpu?.map((c) => `${L.fmt(c * 100)} %`).join(' / ')}; ${x.routed}/${x.want} routed (${x.movedBefore} moved before the hang), last ${L.fmt(x.lastMs, 0)} ms, median ${L.fmt(x.medianMs, 0)} ms, per replica last ${x.perReplicaLastMs.map((m) => L.fmt(m, 0)).join(' / ')} ms; leader tripped median ${L.fmt(x.trippedMedianMs, 0)} ms, ${x.flipsLogged} flips logged, each flip's steps after its trip (medians): ${Object.entries(x.stepsMedianMs ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')} ms${Object.keys(x.flipsBefore ?? {}).length ? `; flips BEFORE the hang: ${JSON.stringify(x.flipsBefore)}` : ''}${x.etcdDisk ? `; leader changes seen per replica ${x.leaderChangesSeen.join(' / ')}, lease/etcd log lines ${x.leaseLostLines.join(' / ')}; a put from this process ${x.etcdPutFromOutside.median} ms median, ${x.etcdPutFromOutside.p90} p90, ${x.etcdPutFromOutside.max} max; etcd WAL fsyncs ${x.etcdDisk.wal_fsync?.count} × ${x.etcdDisk.wal_fsync?.meanMs} ms, backend commits ${x.etcdDisk.backend_commit?.count} × ${x.etcdDisk.backend_commit?.meanMs} ms` : ''}${x.etcdRequests ? `; etcd requests during the hang (count, mean ms) ${x.etcdRequests.map((e, i) => `r${i}: ${Object.entries(e).map(([k, v]) => `${k} ${v.count} × ${L.fmt(v.meanMs, 1)}`).join(', ')}`).join('; ')}` : ''} (load ${x.loadavgHang.join(' / ')})` : '');
    }
    lines.push(`| ${x.part}${x.how ? ` (${x.how})` : ''} | ${x.variant} | ${x.loadavg.join(' / ')} | ${f} |`);
  }
  lines.push('');
  return lines.join('\n');
}

L.runMain(import.meta.url, 'cluster', runCluster, clusterMarkdown);

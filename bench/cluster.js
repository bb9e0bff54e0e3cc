/**
 * Issue 18's targets for clustered mode, each against one drproxy process measured in the same
 * run with the same load and config, less `state.etcd`:
 *   1. three replicas under load (1,000 req/s spread over them), the primary SIGKILLed: kill →
 *      first backup answer (target: the single process's + 50 ms), first → last replica routed
 *      (≤ 100 ms), failed requests;
 *   2. the leader SIGKILLed, then at once a forced failover sent to a follower (which forwards
 *      it to the leader): kill → the flip committed and answered (≤ lease TTL + 1 s); the single
 *      figure is the same forced failover on one process;
 *   3. 1,000 tenants whose primary region hangs (SIGSTOP, as bench/region-hang.js): the last
 *      tenant routed on every replica (≤ the single process's + 1 s);
 *   4. a replica's CPU over `--idle` seconds at 1,000 tenants, idle (before the hang of 3):
 *      clustered minus single (≤ 5 % of a core).
 *
 *   node bench/cluster.js [--only 1,2,3,4] [--replicas 3] [--tenants 1000] [--repeat 1]
 *                         [--rate 1000] [--ttl 2] [--members 1] [--idle 30] [--max-minutes 30]
 *                         [--variants single,cluster] [--flip forced,primary] [--proxy-cpu 0]
 *
 * --proxy-cpu: the CPU(s) of drproxy in parts 1-2 (taskset list; `0,1` leaves them unpinned).
 *
 * Real etcd (`etcd` on PATH: `--members` members on 127.0.0.1, free ports, temp data dirs, fast
 * heartbeats as test/helpers/etcd.ts) and real drproxy child processes (dist/cli.js; replica i
 * is `r<i>`, started in order so that r0 leads first). When a replica routed comes from its
 * acknowledgement in etcd (`P/acks/<id>/<t>`, stage `routed`, its `at` stamp: same machine,
 * same clock). Parts 1-2: drproxy on CPU 0 (the replicas share it: the same CPU as the single
 * process), upstreams and load on CPU 1, etcd unpinned. Parts 3-4: drproxy unpinned (three
 * replicas of 1,000 tenants do not fit one core), tenants of 2 sites × 1 backend (3 × 2 as
 * region-hang.js would be 18,000 probes a second over three replicas on two cores).
 * The load average is recorded before each part: other sessions share this machine.
 */
import os from 'node:os';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import * as L from './lib.js';
import { analyse, failoverConfig, flipsFromLog, startLoad } from './failover.js';
import { regionConfig } from './region-hang.js';

const HOST = 'bench.local';
const TOKEN_ENV = 'DRP_BENCH_OPERATOR';
const TOKEN = 'bench-operator-token-0123456789abcdef';
const TOKENS = [{ name: 'bench', role: 'operator', env: TOKEN_ENV }];
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

// ---------------------------------------------------------------------------------------------
// etcd

async function waitEtcd(m, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!L.alive(m.child)) throw new Error(`etcd ${m.name} exited: ${m.child.tail.join('')}`);
    const ok = await fetch(`${m.client}/health`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.json())
      .then((b) => b.health === 'true', () => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`etcd ${m.name} not healthy after ${timeoutMs} ms: ${m.child.tail.join('')}`);
    await L.sleep(50);
  }
}

/** `size` etcd members on 127.0.0.1 (free ports, a temp dir removed at exit). */
async function startEtcd(size) {
  const root = L.tempDir('drproxy-bench-etcd-');
  const members = [];
  for (let i = 0; i < size; i++) {
    members.push({ name: `m${i}`, client: `http://127.0.0.1:${await L.freePort()}`, peer: `http://127.0.0.1:${await L.freePort()}`, dir: path.join(root, `m${i}`) });
  }
  const initial = members.map((m) => `${m.name}=${m.peer}`).join(',');
  for (const m of members) {
    m.child = L.spawnPinned('etcd', [
      `--name=${m.name}`, `--data-dir=${m.dir}`, `--listen-client-urls=${m.client}`, `--advertise-client-urls=${m.client}`,
      `--listen-peer-urls=${m.peer}`, `--initial-advertise-peer-urls=${m.peer}`, `--initial-cluster=${initial}`,
      '--initial-cluster-state=new', '--initial-cluster-token=drproxy-bench',
      '--heartbeat-interval=50', '--election-timeout=500', '--logger=zap', '--log-level=error',
    ]);
  }
  await Promise.all(members.map((m) => waitEtcd(m)));
  return {
    members,
    endpoints: members.map((m) => m.client),
    stop: () => Promise.all(members.map((m) => L.stopChild(m.child, { signal: 'SIGKILL' }))),
  };
}

/** Every key under `prefix` (etcd's JSON gateway): [{key, value}]. */
async function etcdRange(endpoint, prefix) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const res = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }), signal: AbortSignal.timeout(5000) });
  const j = await res.json();
  return (j.kvs ?? []).map((kv) => ({ key: Buffer.from(kv.key, 'base64').toString(), value: Buffer.from(kv.value ?? '', 'base64').toString() }));
}

/** Routed acknowledgements above each tenant's `before` epoch: [{replica, tenant, epoch, at (wall ms)}]. */
async function routedAcks(set, before = new Map()) {
  const out = [];
  for (const { key, value } of await etcdRange(set.etcd.endpoints[0], `${set.prefix}/acks/`)) {
    const [replica, tenant] = key.slice(set.prefix.length + 6).split('/');
    const a = JSON.parse(value);
    if (a.stage === 'routed' && a.epoch > (before.get(tenant) ?? 1)) out.push({ replica, tenant, epoch: a.epoch, at: Date.parse(a.at) });
  }
  return out;
}

/** Each tenant's committed epoch in etcd. */
async function etcdEpochs(set) {
  const m = new Map();
  for (const { key, value } of await etcdRange(set.etcd.endpoints[0], `${set.prefix}/tenants/`)) m.set(key.slice(set.prefix.length + 9), JSON.parse(value).epoch);
  return m;
}

// ---------------------------------------------------------------------------------------------
// drproxy: one process, or replicas on etcd

/**
 * `variant` 'single' (one process) or 'cluster' (etcd + `o.replicas` replicas). `config(port,
 * stateDir, head)` writes the YAML; replicas get the same plus state.etcd.
 */
async function startSet(variant, o, config, { cpu }) {
  const tmp = L.tempDir(`drproxy-bench-cluster-${variant}-`);
  const set = { variant, procs: [], tmp };
  try {
    if (variant === 'cluster') {
      set.etcd = await startEtcd(o.members);
      set.prefix = `/drproxy-bench-${process.pid}-${Date.now().toString(36)}`;
    }
    const n = variant === 'cluster' ? o.replicas : 1;
    for (let i = 0; i < n; i++) {
      const port = await L.freePort();
      const adminPort = await L.freePort();
      const stateDir = path.join(tmp, `r${i}`);
      const etcd = set.etcd && { endpoints: set.etcd.endpoints, prefix: set.prefix, lease_ttl: `${o.ttl}s`, replica_id: `r${i}` };
      const file = path.join(tmp, `r${i}.yaml`);
      writeFileSync(file, config(port, stateDir, { adminPort, tokens: TOKENS, ...(etcd && { etcd }) }));
      const dr = await L.startDrproxy(file, port, { cpu, timeoutMs: 180_000, env: { [TOKEN_ENV]: TOKEN } });
      const p = { ...dr, id: `r${i}`, adminPort, stateDir, log: '' };
      dr.child.stdout.on('data', (d) => {
        if (p.log.length < 64e6) p.log += d;
      });
      set.procs.push(p);
    }
    return set;
  } catch (err) {
    await stopSet(set);
    throw err;
  }
}

async function stopSet(set) {
  await Promise.all(set.procs.map((p) => L.stopChild(p.child)));
  await set.etcd?.stop();
}

async function adminCall(p, method, urlPath, body) {
  try {
    const res = await fetch(`http://127.0.0.1:${p.adminPort}${urlPath}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body && { 'content-type': 'application/json' }) },
      ...(body && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: await res.json().catch(() => ({})) };
  } catch (err) {
    return { status: 0, body: { error: err.message } };
  }
}

/** The index of the replica that says it leads (polled; among `among`). */
async function leaderIndex(set, { among = set.procs.map((_, i) => i), timeoutMs = 20_000, not } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const i of among) {
      const s = await adminCall(set.procs[i], 'GET', '/status');
      const c = s.body?.cluster;
      if (c?.leader !== undefined && c.leader === c.replica && i !== not) return i;
    }
    if (Date.now() > deadline) throw new Error(`no leader among ${among.map((i) => set.procs[i].id)} after ${timeoutMs} ms`);
    await L.sleep(20);
  }
}

async function ready(set, host) {
  for (const p of set.procs) await L.waitForStatus(p.port, { host, child: p.child, timeoutMs: 120_000 });
  if (set.variant === 'cluster') set.leader = await leaderIndex(set);
}

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

/** etcd request and ack histograms' count and sum from a replica's /metrics: {'etcd txn ok': {count, sum}, 'ack drained': …}. */
async function clusterMetrics(p) {
  const text = await fetch(`http://127.0.0.1:${p.adminPort}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text(), () => '');
  const out = {};
  const re = /^drproxy_(etcd_request|cluster_ack)_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$/gm;
  for (let m; (m = re.exec(text)); ) {
    const labels = Object.fromEntries([...m[3].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = m[1] === 'etcd_request' ? `etcd ${labels.op} ${labels.result}` : `ack ${labels.stage}`;
    (out[key] ??= { count: 0, sum: 0 })[m[2]] = Number(m[4]);
  }
  return out;
}

/** etcd's own WAL fsync and backend commit histograms (count, sum) from its /metrics. */
async function etcdDisk(set) {
  const text = await fetch(`${set.etcd.endpoints[0]}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => '');
  const out = {};
  for (const m of text.matchAll(/^etcd_disk_(wal_fsync|backend_commit)_duration_seconds_(sum|count) (\S+)$/gm)) (out[m[1]] ??= {})[m[2]] = Number(m[3]);
  return out;
}

/**
 * Puts to etcd from this process every 100 ms until stop(): etcd's latency as seen from outside
 * the replicas' event loops (to tell a slow etcd from a busy replica). stop() → {median, p90, max}.
 */
function etcdPinger(set) {
  const ms = [];
  let on = true;
  const b64 = (x) => Buffer.from(x).toString('base64');
  const loop = (async () => {
    while (on) {
      const t0 = performance.now();
      await fetch(`${set.etcd.endpoints[0]}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(`${set.prefix}-bench-ping`), value: b64(String(t0)) }), signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => '');
      ms.push(performance.now() - t0);
      await L.sleep(100);
    }
  })();
  return async () => {
    on = false;
    await loop;
    return { count: ms.length, median: Math.round(L.median(ms) * 10) / 10, p90: Math.round(L.percentile(ms, 90) * 10) / 10, max: Math.round(Math.max(...ms) * 10) / 10 };
  };
}

/** Log lines of each replica since `offsets` (the log lengths then) that match `re`. */
const linesSince = (set, offsets, re) => set.procs.map((p, i) => p.log.slice(offsets[i]).split('\n').filter((l) => re.test(l)).length);

/** What each replica's etcd requests and the leader's ack waits did between two clusterMetrics(): count and mean ms. */
function metricsDiff(a, b) {
  return b.map((after, i) =>
    Object.fromEntries(
      Object.entries(after)
        .map(([k, v]) => [k, v.count - (a[i][k]?.count ?? 0), v.sum - (a[i][k]?.sum ?? 0)])
        .filter(([, n]) => n > 0)
        .map(([k, n, sum]) => [k, { count: n, meanMs: Math.round((sum / n) * 10000) / 10 }]),
    ),
  );
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
    r.loadavgHang = load();
    const before = set.etcd ? await etcdEpochs(set) : new Map();
    r.movedBefore = set.etcd ? [...before.values()].filter((e) => e > 1).length : (await L.committedStates(set.procs[0].stateDir)).filter((s) => s.active !== 's0').length;
    const m0 = set.etcd ? await Promise.all(set.procs.map(clusterMetrics)) : undefined;
    const d0 = set.etcd ? await etcdDisk(set) : undefined;
    const offsets = set.procs.map((p) => p.log.length);
    const c0 = set.procs.map((p) => L.cpuSeconds(p.pid));
    const tFault = Date.now();
    process.kill(primary.pid, 'SIGSTOP');
    const ping = set.etcd && etcdPinger(set);
    Object.assign(r, await waitRouted(set, o, tFault, before, r.movedBefore));
    // Each drproxy's CPU from the hang until all routed (1 = a whole core: its event loop saturated).
    r.hangCpu = set.procs.map((p, i) => Math.round(((L.cpuSeconds(p.pid) - c0[i]) / ((Date.now() - tFault) / 1000)) * 100) / 100);
    if (m0) {
      r.etcdPutFromOutside = await ping();
      r.etcdRequests = metricsDiff(m0, await Promise.all(set.procs.map(clusterMetrics)));
      const d1 = await etcdDisk(set);
      r.etcdDisk = Object.fromEntries(Object.keys(d1).map((k) => [k, { count: d1[k].count - (d0[k]?.count ?? 0), meanMs: Math.round(((d1[k].sum - (d0[k]?.sum ?? 0)) / Math.max(1, d1[k].count - (d0[k]?.count ?? 0))) * 10000) / 10 }]));
      r.leaderChangesSeen = linesSince(set, offsets, /"event":"leader_changed"/);
      r.leaseLostLines = linesSince(set, offsets, /lease|DRP_ETCD/i);
      // The first leadership and lease events of each replica after the hang, as logged.
      r.leaderEvents = set.procs.map((p, i) =>
        p.log
          .slice(offsets[i])
          .split('\n')
          .filter((l) => /leader_changed|lease lost|steps? down|not the leader/i.test(l))
          .slice(0, 6)
          .map((l) => l.slice(0, 400)),
      );
    }
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
  const o = { only: '1,2,3,4', flip: 'forced,primary', variants: 'single,cluster', proxyCpu: L.CPU_PROXY, replicas: 3, tenants: 1000, repeat: 1, rate: 1000, pre: 3, post: 4, ttl: 2, members: 1, idle: 30, settle: 6, wait: 60, ports: 64, maxMinutes: 30, ...options };
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

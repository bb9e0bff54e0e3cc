/**
 * Helpers of bench/cluster.js: etcd members for a benchmark (started, read through etcd's JSON
 * gateway, timed from outside), and sets of drproxy processes, one or several replicas sharing
 * etcd, with their admin API, leader and /metrics.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import * as L from './lib.js';

export const TOKEN_ENV = 'DRP_BENCH_OPERATOR';
export const TOKEN = 'bench-operator-token-0123456789abcdef';
const TOKENS = [{ name: 'bench', role: 'operator', env: TOKEN_ENV }];

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
export async function startEtcd(size) {
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
export async function etcdRange(endpoint, prefix) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
  const res = await fetch(`${endpoint}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64(prefix), range_end: b64(end) }), signal: AbortSignal.timeout(5000) });
  const j = await res.json();
  return (j.kvs ?? []).map((kv) => ({ key: Buffer.from(kv.key, 'base64').toString(), value: Buffer.from(kv.value ?? '', 'base64').toString() }));
}

/** Routed acknowledgements above each tenant's `before` epoch: [{replica, tenant, epoch, at (wall ms)}]. */
export async function routedAcks(set, before = new Map()) {
  const out = [];
  for (const { key, value } of await etcdRange(set.etcd.endpoints[0], `${set.prefix}/acks/`)) {
    const [replica, tenant] = key.slice(set.prefix.length + 6).split('/');
    const a = JSON.parse(value);
    if (a.stage === 'routed' && a.epoch > (before.get(tenant) ?? 1)) out.push({ replica, tenant, epoch: a.epoch, at: Date.parse(a.at) });
  }
  return out;
}

/** Each tenant's committed epoch in etcd. */
export async function etcdEpochs(set) {
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
export async function startSet(variant, o, config, { cpu }) {
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

export async function stopSet(set) {
  await Promise.all(set.procs.map((p) => L.stopChild(p.child)));
  await set.etcd?.stop();
}

export async function adminCall(p, method, urlPath, body) {
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
export async function leaderIndex(set, { among = set.procs.map((_, i) => i), timeoutMs = 20_000, not } = {}) {
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

export async function ready(set, host) {
  for (const p of set.procs) await L.waitForStatus(p.port, { host, child: p.child, timeoutMs: 120_000 });
  if (set.variant === 'cluster') set.leader = await leaderIndex(set);
}


/** etcd request and ack histograms' count and sum from a replica's /metrics: {'etcd txn ok': {count, sum}, 'ack drained': …}. */
export async function clusterMetrics(p) {
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
export async function etcdDisk(set) {
  const text = await fetch(`${set.etcd.endpoints[0]}/metrics`, { signal: AbortSignal.timeout(5000) }).then((r) => r.text(), () => '');
  const out = {};
  for (const m of text.matchAll(/^etcd_disk_(wal_fsync|backend_commit)_duration_seconds_(sum|count) (\S+)$/gm)) (out[m[1]] ??= {})[m[2]] = Number(m[3]);
  return out;
}

/**
 * Puts to etcd from this process every 100 ms until stop(): etcd's latency as seen from outside
 * the replicas' event loops (to tell a slow etcd from a busy replica). stop() → {median, p90, max}.
 */
export function etcdPinger(set) {
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
export const linesSince = (set, offsets, re) => set.procs.map((p, i) => p.log.slice(offsets[i]).split('\n').filter((l) => re.test(l)).length);

/** What each replica's etcd requests and the leader's ack waits did between two clusterMetrics(): count and mean ms. */
export function metricsDiff(a, b) {
  return b.map((after, i) =>
    Object.fromEntries(
      Object.entries(after)
        .map(([k, v]) => [k, v.count - (a[i][k]?.count ?? 0), v.sum - (a[i][k]?.sum ?? 0)])
        .filter(([, n]) => n > 0)
        .map(([k, n, sum]) => [k, { count: n, meanMs: Math.round((sum / n) * 10000) / 10 }]),
    ),
  );
}

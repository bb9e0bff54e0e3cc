/**
 * Issue 19: a drill's overhead on the tenant's traffic. One tenant, two sites (primary, backup)
 * of two backends each, each site one upstream process naming its site in `x-upstream-site`
 * (the drill verifies with `served_by_header`). A fixed-rate open-loop load runs through
 * drproxy; after `--before` seconds a drill is started through the admin API (planned failover
 * to the backup, verification, `--dwell` on the backup, failback, verification) and the load
 * goes on until the drill's report is final plus one second.
 *
 *   node bench/drill.js [--rate 500] [--before 10] [--dwell 10s] [--rounds 3]
 *
 * Reported per round and as medians: p50/p99/max latency of the requests sent in the
 * `--before` seconds before the drill, during the whole drill (both flips included), during
 * the dwell alone (no flip: the drill's own cost, verification and guard sampling), failed
 * requests, and the drill's measured RTO. Latency is from each request's scheduled send time.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { request } from 'undici';
import * as L from './lib.js';
import { failoverConfig, startLoad } from './failover.js';

const HOST = 'bench.local';
const TOKEN = 'bench-drill-operator-token';

async function admin(adminPort, method, p, body) {
  const res = await request(`http://127.0.0.1:${adminPort}${p}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body && { 'content-type': 'application/json' }) },
    ...(body && { body: JSON.stringify(body) }),
  });
  const json = await res.body.json();
  if (res.statusCode >= 400) throw new Error(`${method} ${p}: ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

function stats(records, from, to) {
  const inWindow = records.filter((r) => r.t0 >= from && r.t0 < to);
  const lat = inWindow.map((r) => (r.t1 || Infinity) - r.t0);
  const failed = inWindow.filter((r) => r.status !== 200 || r.err).length;
  return { requests: inWindow.length, failed, p50: L.percentile(lat, 50), p99: L.percentile(lat, 99), max: Math.max(...lat.filter(Number.isFinite)) };
}

async function round(o, i) {
  const tmp = L.tempDir(`drproxy-bench-drill-${i}-`);
  const primary = await L.startUpstream({ count: 2, site: 'primary' });
  const backup = await L.startUpstream({ count: 2, site: 'backup' });
  let dr;
  try {
    const port = await L.freePort();
    const adminPort = await L.freePort();
    const cfg = path.join(tmp, 'drproxy.yaml');
    const head = { adminPort, tokens: [{ name: 'bench', role: 'operator', env: 'DRPROXY_BENCH_TOKEN' }] };
    const base = failoverConfig({ port, stateDir: path.join(tmp, 'state'), primary: primary.ports, backup: backup.ports, retry503: false, standby: 0, slowAfter: 0, slowConfirm: true, refused: 1, head });
    // min_interval 0: each round starts right after start-up; the drill's preflight checks it.
    const drills = `drills:\n  verify: { path: /, served_by_header: x-upstream-site, interval: 20ms, timeout: 10s }\n  guard: { max_error_rate: 0.01 }\n`;
    writeFileSync(cfg, `${base.replace('min_interval: 10s', 'min_interval: 0s')}${drills}`);
    dr = await L.startDrproxy(cfg, port, { env: { ...process.env, DRPROXY_BENCH_TOKEN: TOKEN } });
    await L.waitForStatus(port, { host: HOST, child: dr.child, timeoutMs: 15_000 });
    await L.sleep(1500); // every backend's first checks land; the backup is ready

    const load = startLoad(port, { rate: o.rate });
    await L.sleep(1000 + o.before * 1000);
    const tDrill = L.wall();
    const started = await admin(adminPort, 'POST', '/tenants/bench/drills', { reason: 'bench/drill.js', dwell: o.dwell });
    let report;
    const deadline = Date.now() + 120_000;
    for (;;) {
      report = await admin(adminPort, 'GET', `/drills/${started.id}`);
      if (report.status !== 'running' || Date.now() > deadline) break;
      await L.sleep(100);
    }
    const tEnd = L.wall();
    await L.sleep(1000);
    load.stop();
    await load.drain(12_000);
    const dwell = report.steps.find((s) => s.name === 'dwell');
    const r = {
      round: i,
      status: report.status,
      reasons: report.reasons,
      measuredRtoMs: report.measured_rto_ms,
      failbackRtoMs: report.failback_rto_ms,
      drillMs: tEnd - tDrill,
      before: stats(load.records, tDrill - o.before * 1000, tDrill),
      during: stats(load.records, tDrill, tEnd),
      dwell: dwell?.ended_at ? stats(load.records, Date.parse(dwell.started_at), Date.parse(dwell.ended_at)) : undefined,
    };
    L.log(
      `drill round ${i}: ${r.status}; RTO ${L.fmt(r.measuredRtoMs, 1)} ms; p99 before ${L.fmt(r.before.p99, 1)} ms, during ${L.fmt(r.during.p99, 1)} ms, dwell ${L.fmt(r.dwell?.p99, 1)} ms; failed ${r.during.failed} of ${r.during.requests}`,
    );
    return r;
  } finally {
    if (dr) await L.stopChild(dr.child);
    await L.stopChild(primary.child);
    await L.stopChild(backup.child);
  }
}

export async function runDrill(options = {}) {
  const o = { rate: 500, before: 10, dwell: '10s', rounds: 3, ...options };
  if (o.quick) Object.assign(o, { before: options.before ?? 3, dwell: options.dwell ?? '3s', rounds: options.rounds ?? 1 });
  L.pinSelf(L.CPU_LOAD);
  const machine = L.machineInfo();
  L.log(`drill: ${o.rate} req/s, ${o.before} s before, dwell ${o.dwell}, ${o.rounds} round(s)`);
  const rounds = [];
  for (let i = 0; i < o.rounds; i++) rounds.push(await round(o, i));
  const med = (f) => L.median(rounds.map(f));
  const summary = {
    p99BeforeMs: med((r) => r.before.p99),
    p99DuringMs: med((r) => r.during.p99),
    p99DwellMs: med((r) => r.dwell?.p99),
    p50BeforeMs: med((r) => r.before.p50),
    p50DwellMs: med((r) => r.dwell?.p50),
    measuredRtoMs: med((r) => r.measuredRtoMs),
    failed: rounds.reduce((n, r) => n + r.during.failed, 0),
  };
  summary.p99DuringRatio = summary.p99DuringMs / summary.p99BeforeMs;
  summary.p99DwellRatio = summary.p99DwellMs / summary.p99BeforeMs;
  const result = { kind: 'drill', machine, options: o, rounds, summary };
  L.writeOut('drill.json', result);
  L.writeOut('drill.md', drillMarkdown(result));
  return result;
}

export function drillMarkdown(r) {
  const o = r.options;
  const ms = (x) => (Number.isFinite(x) ? `${L.fmt(x, 1)} ms` : 'n/a');
  const lines = [`### A drill's overhead on the tenant's traffic (${o.rate} req/s open loop, ${o.before} s before, dwell ${o.dwell}, ${o.rounds} round(s))`, ''];
  lines.push('| round | status | measured RTO | p50 / p99 before | p99 during the drill | p50 / p99 during the dwell | failed during |');
  lines.push('|---:|---|---:|---:|---:|---:|---:|');
  for (const x of r.rounds) {
    lines.push(`| ${x.round} | ${x.status} | ${ms(x.measuredRtoMs)} | ${ms(x.before.p50)} / ${ms(x.before.p99)} | ${ms(x.during.p99)} | ${ms(x.dwell?.p50)} / ${ms(x.dwell?.p99)} | ${x.during.failed} of ${x.during.requests} |`);
  }
  const s = r.summary;
  lines.push('', `Medians: p99 before ${ms(s.p99BeforeMs)}, during the drill ${ms(s.p99DuringMs)} (×${L.fmt(s.p99DuringRatio, 2)}), during the dwell ${ms(s.p99DwellMs)} (×${L.fmt(s.p99DwellRatio, 2)}); measured RTO ${ms(s.measuredRtoMs)}; ${s.failed} failed request(s) in all rounds.`, '');
  return lines.join('\n');
}

L.runMain(import.meta.url, 'drill', runDrill, drillMarkdown);

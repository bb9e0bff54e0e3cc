/**
 * Issue 5, item 2: failover under steady load. One tenant, two sites (primary, backup) of two
 * backends each; each site is one upstream process listening on two ports that names its site
 * in an `x-upstream-site` header. While a fixed-rate open-loop load runs through drproxy, the
 * primary is
 *   kill — SIGKILLed,
 *   stop — SIGSTOPped (hung: connections stay open, nothing answers),
 *   503  — switched to answer 503 to everything (health checks included),
 * and every request's send time, answer time, status and answering site is recorded.
 *
 *   node bench/failover.js [--rate 1000] [--pre 3] [--post 5] [--kinds kill,stop,503] [--quick]
 *                          [--standby 0] [--slow-after 0,100] [--slow-confirm on] [--refused 1] [--proxy drproxy]
 *                          [--repeat 1] [--workers 0,1]
 *
 * --standby: values of proxy.standby_connections (pre-connected sockets to each backup
 * backend) to compare; each fault runs once per value, interleaved, `--repeat` times over.
 * --slow-after: values (ms) of passive_health.slow_after to compare the same way (default
 * `0,100`: off, drproxy's default, where a hang is found by the probes alone; and 100 ms, where
 * it is found from the unanswered requests).
 * --slow-confirm: values of passive_health.slow_confirm to compare the same way, `on` and/or
 * `off` (default `on`, drproxy's default: the slow answers eject once a probe sent then fails
 * too; `off`: they eject on their own). Only variants with slow_after set run both.
 * --refused: values of passive_health.consecutive_refused to compare the same way (default `1`,
 * drproxy's default: a refused connection ejects at once; `0` leaves refusals to
 * consecutive_failures, 3).
 * --proxy: `drproxy`, and/or `oracle` (bench/oracle-failover.js: a bare undici proxy that moves
 * to the backup at the primary's first failed request, with none of drproxy's safety: the floor
 * of a failover on this machine). The oracle runs the kill and 503 faults only (it has no way
 * to see a hang) and once per round, whatever the drproxy variants.
 * --workers: values of server.workers to compare the same way (default: none set, drproxy's
 * default `auto`).
 *
 * Health checks: interval 250ms, timeout 200ms, rise 2, fall 2; the 503 case adds
 * proxy.retry_on: [503]. drproxy on CPU 0; upstreams and the load loop on CPU 1.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { Pool } from 'undici';
import * as L from './lib.js';

const HOST = 'bench.local';
const HC = { interval: 250, timeout: 200, fall: 2, rise: 2 };

/** The failover benchmark's config; `head`: extra configHead options (bench/cluster.js: admin, etcd). */
export function failoverConfig({ port, stateDir, primary, backup, retry503, standby, slowAfter, slowConfirm, refused, head = {} }) {
  return `${L.configHead('failover.js', { port, stateDir, ...head })}defaults:
  health_check: { path: /healthz, interval: ${HC.interval}ms, timeout: ${HC.timeout}ms, rise: ${HC.rise}, fall: ${HC.fall}, jitter: 0.1 }
  failover: { mode: auto, failback: manual, min_interval: 10s, drain_timeout: 2s, hold_requests: 5s }
  proxy: { connect_timeout: 500ms, response_timeout: 5s, standby_connections: ${standby}${retry503 ? ', retry_on: [503]' : ''} }
  passive_health: { slow_after: ${slowAfter}ms, slow_confirm: ${slowConfirm}, consecutive_refused: ${refused} }
${L.twoSiteTenant(HOST, ['primary', primary], ['backup', backup])}`;
}

const LOAD_HEADERS = { host: HOST };

/** One load request: records status, answering site (drproxy's own error text) and end time. */
export class LoadHandler {
  constructor(rec, done) {
    this.rec = rec;
    this.done = done;
    this.body = null;
  }
  onConnect() {}
  onHeaders(status, raw) {
    this.rec.status = status;
    for (let i = 0; i < raw.length; i += 2) {
      if (raw[i].length === 15 && raw[i].toString('latin1').toLowerCase() === 'x-upstream-site') {
        this.rec.site = raw[i + 1].toString('latin1');
        return true;
      }
    }
    // drproxy's own answers (errors) say why in their body: keep it for the report.
    this.rec.site = 'drproxy';
    this.body = [];
    return true;
  }
  onData(chunk) {
    this.body?.push(chunk);
    return true;
  }
  onComplete() {
    if (this.body) this.rec.msg = Buffer.concat(this.body).toString().slice(0, 160).replace(/\s+/g, ' ');
    this.end();
  }
  onError(err) {
    this.rec.err = err.code ?? err.message;
    this.end();
  }
  end() {
    this.rec.t1 = L.wall();
    this.done();
  }
}

/**
 * Open-loop load at `rate` req/s for as long as `running()` says, each request timed from its
 * scheduled send time (so a stall shows up as latency, not as fewer requests).
 */
export function startLoad(port, { rate, maxConnections = 1024, timeoutMs = 15_000 }) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: maxConnections, pipelining: 1, keepAliveTimeout: 10_000 });
  const records = [];
  let outstanding = 0;
  let stopped = false;
  const start = L.wall();
  let sent = 0;
  // A raw undici dispatch handler per request, not `pool.request()`: no promise, no body
  // stream. The load generator shares a core with the backup upstream; in a hang's burst
  // `request()` cost it ~2.5x the backup's CPU on that core (bench/RESULTS.md), slowing the
  // very answers being timed.
  const fire = (t0) => {
    const rec = { t0, t1: 0, status: 0, site: '', err: '' };
    records.push(rec);
    outstanding++;
    pool.dispatch({ path: '/', method: 'GET', headers: LOAD_HEADERS, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, new LoadHandler(rec, () => outstanding--));
  };
  const tick = () => {
    if (stopped) return;
    const now = L.wall();
    const due = Math.floor(((now - start) * rate) / 1000);
    while (sent < due) {
      fire(start + (sent * 1000) / rate);
      sent++;
    }
    setTimeout(tick, 1);
  };
  tick();
  return {
    records,
    get outstanding() {
      return outstanding;
    },
    stop() {
      stopped = true;
    },
    async drain(maxMs) {
      const deadline = Date.now() + maxMs;
      while (outstanding > 0 && Date.now() < deadline) await L.sleep(20);
      await pool.destroy().catch(() => {});
    },
  };
}

/**
 * drproxy's failover log lines, each flip's steps placed after the fault: detection (wall
 * clock, `detected_at`) minus the fault time, plus each step's `steps_ms`.
 */
export function flipsFromLog(drLog, tFault) {
  return drLog
    .split('\n')
    .filter((l) => l.includes('"event":"failover"'))
    .map((l) => {
      try {
        const j = JSON.parse(l);
        const detectedMs = j.detected_at ? Date.parse(j.detected_at) - tFault : undefined;
        const steps = j.steps_ms && detectedMs !== undefined ? Object.fromEntries(Object.entries(j.steps_ms).map(([k, v]) => [k, detectedMs + v])) : undefined;
        return { from: j.from, to: j.to, epoch: j.epoch, durationMs: j.duration_ms, reason: j.reason, detectedMs, steps };
      } catch {
        return { raw: l };
      }
    });
}

export function analyse(records, tFault, kind) {
  const ok = (r) => r.status === 200 && !r.err;
  const lat = (r) => (r.t1 || Infinity) - r.t0;
  const before = records.filter((r) => r.t0 < tFault && r.t0 >= tFault - 1000); // steady-state baseline
  const after = records.filter((r) => r.t0 >= tFault);
  const failed = records.filter((r) => !ok(r));
  const failures = {};
  for (const r of failed) {
    const key = r.err ? `error ${r.err}` : `${r.status} from ${r.site}${r.msg ? ` "${r.msg}"` : ''}${r.t0 < tFault ? ' (scheduled before the fault)' : ''}`;
    failures[key] = (failures[key] ?? 0) + 1;
  }
  const backupOk = records.filter((r) => ok(r) && r.site === 'backup' && r.t1 >= tFault);
  const firstBackup = backupOk.length ? Math.min(...backupOk.map((r) => r.t1)) - tFault : NaN;
  // "All traffic on the backup": the time from the fault until the last disturbed request got
  // its answer, a request being disturbed when it failed, was answered by the primary, or
  // waited longer than `slowMs` (10 × the steady-state p50 before the fault, at least 50 ms).
  // The disturbance ends with the first 100 ms (by send time) whose requests were all answered
  // by the backup at normal latency: a slow request seconds later (this VM stalls for tens of
  // ms now and then, failover or not) is not the failover's. After the disturbance, every
  // request must still be answered 200 by the backup, or the figure is n/a.
  const baseP99 = L.percentile(before.map(lat), 99);
  const slowMs = Math.max(50, 10 * L.percentile(before.map(lat), 50));
  const isDisturbed = (r) => !ok(r) || r.site !== 'backup' || lat(r) > slowMs;
  const sent = records.filter((r) => r.t0 >= tFault).sort((a, b) => a.t0 - b.t0);
  let calmFrom = Infinity;
  for (let i = 0, j = 0, bad = 0; i < sent.length; i++) {
    // Window [sent[i].t0, sent[i].t0 + 100): j is its end, bad its disturbed requests.
    while (j < sent.length && sent[j].t0 < sent[i].t0 + 100) bad += isDisturbed(sent[j++]) ? 1 : 0;
    if (bad === 0 && sent[j - 1].t0 - sent[i].t0 >= 90) {
      calmFrom = sent[i].t0;
      break;
    }
    bad -= isDisturbed(sent[i]) ? 1 : 0;
  }
  const disturbed = records.filter((r) => r.t1 >= tFault && r.t0 < calmFrom && isDisturbed(r));
  const lastDisturbed = disturbed.length ? Math.max(...disturbed.map((r) => r.t1)) - tFault : 0;
  const tail = records.filter((r) => r.t0 >= tFault + lastDisturbed);
  const allOnBackup = tail.length > 0 && tail.every((r) => ok(r) && r.site === 'backup') ? lastDisturbed : NaN;
  const primaryAnswers = records.filter((r) => r.site === 'primary' && r.t1 >= tFault);
  const lastPrimary = primaryAnswers.length ? Math.max(...primaryAnswers.map((r) => r.t1)) - tFault : NaN;
  const inSecond = records.filter((r) => r.t0 >= tFault && r.t0 < tFault + 1000).map(lat);
  const lastFailed = failed.length ? Math.max(...failed.map((r) => r.t1)) - tFault : NaN;
  // 100 ms buckets by send time, relative to the fault: what was sent then and how it went.
  const timeline = [];
  const t0min = Math.min(...records.map((r) => r.t0));
  const t0max = Math.max(...records.map((r) => r.t0));
  for (let b = Math.floor((t0min - tFault) / 100) * 100; b <= t0max - tFault; b += 100) {
    const rs = records.filter((r) => r.t0 - tFault >= b && r.t0 - tFault < b + 100);
    timeline.push({
      fromMs: b,
      sent: rs.length,
      primary: rs.filter((r) => ok(r) && r.site === 'primary').length,
      backup: rs.filter((r) => ok(r) && r.site === 'backup').length,
      failed: rs.filter((r) => !ok(r)).length,
      p50: Math.round(L.percentile(rs.map(lat), 50) * 10) / 10,
      p99: Math.round(L.percentile(rs.map(lat), 99) * 10) / 10,
    });
  }
  return {
    kind,
    timeline,
    requests: records.length,
    requestsAfterFault: after.length,
    failed: failed.length,
    failures,
    lastFailedMs: lastFailed,
    firstBackupMs: firstBackup,
    allOnBackupMs: allOnBackup,
    slowMs,
    disturbed: disturbed.length,
    lastPrimaryAnswerMs: lastPrimary,
    p50BeforeMs: L.percentile(before.map(lat), 50),
    p99BeforeMs: baseP99,
    p50SecondAfterMs: L.percentile(inSecond, 50),
    p99SecondAfterMs: L.percentile(inSecond, 99),
    maxSecondAfterMs: inSecond.length ? Math.max(...inSecond) : NaN,
    unanswered: records.filter((r) => r.t1 === 0).length,
  };
}

async function scenario(kind, { proxy = 'drproxy', standby, slowAfter, slowConfirm = true, refused, workers }, o) {
  const tmp = L.tempDir(`drproxy-bench-fo-${kind}-`);
  const primary = await L.startUpstream({ count: 2, site: 'primary' });
  const backup = await L.startUpstream({ count: 2, site: 'backup' });
  let dr;
  try {
    const port = await L.freePort();
    if (proxy === 'oracle') {
      const args = ['--primary', primary.ports.join(','), '--backup', backup.ports.join(','), '--port', String(port)];
      if (kind === '503') args.push('--retry-503');
      dr = { child: L.spawnNode(path.join(L.BENCH_DIR, 'oracle-failover.js'), args, { cpu: L.CPU_PROXY }) };
      await L.waitForListen(port, { child: dr.child });
    } else {
      const cfg = path.join(tmp, 'drproxy.yaml');
      const text = failoverConfig({ port, stateDir: path.join(tmp, 'state'), primary: primary.ports, backup: backup.ports, retry503: kind === '503', standby, slowAfter, slowConfirm, refused });
      writeFileSync(cfg, workers === undefined ? text : `${text}server:\n  workers: ${workers}\n`);
      dr = await L.startDrproxy(cfg, port);
    }
    let drLog = '';
    dr.child.stdout.on('data', (d) => (drLog += d));
    await L.waitForStatus(port, { host: HOST, child: dr.child, timeoutMs: 15_000 });
    await L.sleep(1000); // let every backend's first checks land

    const m0 = L.cpuTimes();
    const load = startLoad(port, { rate: o.rate });
    await L.sleep(o.pre * 1000);
    let tFault;
    // When a kill becomes visible at all: an idle connection of ours to the primary, closed by
    // the kernel once the process is torn down (seen from this process, on the primary's CPU).
    const watch = kind === 'kill' ? await watchClose(primary.ports[0]) : undefined;
    if (kind === 'kill') {
      tFault = L.wall();
      process.kill(primary.pid, 'SIGKILL');
    } else if (kind === 'stop') {
      tFault = L.wall();
      process.kill(primary.pid, 'SIGSTOP');
    } else {
      tFault = (await primary.setStatus(503)).at;
    }
    await L.sleep(o.post * 1000);
    load.stop();
    await load.drain(12_000);
    if (kind === 'stop') {
      // Resume before killing so that nothing is left stopped.
      try {
        process.kill(primary.pid, 'SIGCONT');
      } catch {
        /* gone */
      }
    }
    const res = analyse(load.records, tFault, kind);
    if (watch) res.killVisibleMs = watch.closedAt ? watch.closedAt - tFault : NaN;
    res.proxy = proxy;
    res.standby = standby;
    res.slowAfter = slowAfter;
    res.slowConfirm = slowConfirm;
    res.refused = refused;
    res.workers = workers;
    res.machineBusy = L.cpuBusy(m0, L.cpuTimes());
    res.drproxyFailovers = proxy === 'oracle' ? oracleSwitches(drLog, tFault) : flipsFromLog(drLog, tFault);
    const budget = HC.interval * HC.fall + HC.timeout;
    res.targets =
      kind === 'kill'
        ? {
            noFailures: { want: '0 failed', met: res.failed === 0 },
            firstBackup: { want: '≤ 10 ms', met: res.firstBackupMs <= 10 },
          }
        : kind === 'stop'
          ? {
              noFailures: { want: '0 failed', met: res.failed === 0 },
              allOnBackup: { want: `≤ ${budget} ms (interval × fall + timeout)`, met: res.allOnBackupMs <= budget },
            }
          : {};
    return res;
  } finally {
    if (dr) await L.stopChild(dr.child);
    await L.stopChild(primary.child, { signal: 'SIGKILL' });
    await L.stopChild(backup.child);
  }
}

/** The oracle's switch to the backup, in the shape of a drproxy flip: routed at that moment. */
function oracleSwitches(log, tFault) {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{"switched"'))
    .map((l) => {
      const routed = JSON.parse(l).switched - tFault;
      return { from: 'primary', to: 'backup', steps: { routed } };
    });
}

/** An idle connection to `port`; `closedAt` is set (wall ms) when the other side closes it. */
function watchClose(port) {
  return new Promise((resolve, reject) => {
    const w = { closedAt: 0 };
    let connected = false;
    const s = net.connect(port, '127.0.0.1', () => {
      connected = true;
      resolve(w);
    });
    s.on('error', (err) => connected || reject(err)); // after connecting: a reset is the close
    s.once('close', () => (w.closedAt = L.wall()));
  });
}

export async function runFailover(options = {}) {
  const o = { rate: 1000, pre: 3, post: 5, kinds: 'kill,stop,503', standby: '0', slowAfter: '0,100', slowConfirm: 'on', refused: '1', proxy: 'drproxy', repeat: 1, ...options };
  if (o.quick) Object.assign(o, { pre: options.pre ?? 1.5, post: options.post ?? 2.5 });
  L.pinSelf(L.CPU_LOAD);
  const machine = L.machineInfo();
  const kinds = String(o.kinds).split(',');
  L.log(`failover: ${kinds.join(', ')} at ${o.rate} req/s, ${o.pre}s before and ${o.post}s after the fault`);
  const variants = [];
  const list = (v) => String(v).split(',').map(Number);
  const proxies = String(o.proxy).split(',');
  const confirms = String(o.slowConfirm).split(',').map((c) => {
    if (c !== 'on' && c !== 'off') throw new Error(`--slow-confirm: on or off, got ${c}`);
    return c === 'on';
  });
  for (const standby of proxies.includes('drproxy') ? list(o.standby) : []) {
    for (const slowAfter of list(o.slowAfter)) {
      for (const slowConfirm of slowAfter === 0 ? [true] : confirms) {
        for (const refused of list(o.refused)) for (const workers of o.workers === undefined ? [undefined] : list(o.workers)) variants.push({ proxy: 'drproxy', standby, slowAfter, slowConfirm, refused, workers });
      }
    }
  }
  if (proxies.includes('oracle')) variants.push({ proxy: 'oracle', standby: 0, slowAfter: 0, refused: 1 });
  const results = [];
  for (let round = 0; round < o.repeat; round++) for (const kind of kinds) for (const v of variants) {
    if (v.proxy === 'oracle' && kind === 'stop') continue;
    const r = await scenario(kind, v, o);
    results.push(r);
    L.log(
      `failover ${kind.padEnd(4)} ${v.proxy === 'oracle' ? 'ORACLE ' : ''}standby ${String(v.standby).padStart(3)} slow_after ${String(v.slowAfter).padStart(3)}${v.slowAfter ? (v.slowConfirm ? ' confirmed' : ' unconfirmed') : ''} refused ${v.refused}${v.workers === undefined ? '' : ` workers ${v.workers}`}: ${r.failed} failed of ${r.requests}; ${r.killVisibleMs !== undefined ? `kill visible ${L.fmt(r.killVisibleMs, 1)} ms; ` : ''}first backup ${L.fmt(r.firstBackupMs, 1)} ms; all on backup ${L.fmt(r.allOnBackupMs, 1)} ms; ` +
        `p99 in 1st second ${L.fmt(r.p99SecondAfterMs, 1)} ms (before: ${L.fmt(r.p99BeforeMs, 1)} ms)`,
    );
  }
  const result = { kind: 'failover', machine, options: o, healthCheck: HC, results };
  L.writeOut('failover.json', result);
  L.writeOut('failover.md', failoverMarkdown(result));
  return result;
}

/** slow_after as the tables show it: off, or its value and whether a probe confirms it. */
function slowText(x) {
  if (!x.slowAfter) return 'off';
  // Runs recorded before slow_confirm existed ejected on the slow answers alone.
  return `${x.slowAfter} ms${x.slowConfirm === false || x.slowConfirm === undefined ? ', unconfirmed' : ', confirmed by a probe'}`;
}

export function failoverMarkdown(r) {
  const o = r.options;
  const lines = [];
  const ms = (x) => (Number.isFinite(x) ? `${L.fmt(x, 1)} ms` : 'n/a');
  lines.push(
    `### Failover under load (${o.rate} req/s open loop, fault after ${o.pre} s, ${o.post} s after; checks every ${r.healthCheck.interval} ms, timeout ${r.healthCheck.timeout} ms, fall ${r.healthCheck.fall})`,
    '',
  );
  lines.push('| fault | standby connections | slow_after | consecutive_refused | requests | failed | first backup response | all traffic on backup | last primary answer | p50 / p99 / max in 1st s after fault | p99 before fault |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of r.results) {
    lines.push(
      `| ${x.kind}${x.proxy === 'oracle' ? ' (oracle)' : ''}${x.workers === undefined ? '' : `, workers ${x.workers}`} | ${x.standby ?? 0} | ${slowText(x)} | ${x.refused ?? 1} | ${x.requests} | ${x.failed} | ${ms(x.firstBackupMs)} | ${ms(x.allOnBackupMs)} | ${ms(x.lastPrimaryAnswerMs)} | ` +
        `${L.fmt(x.p50SecondAfterMs, 1)} / ${L.fmt(x.p99SecondAfterMs, 1)} / ${L.fmt(x.maxSecondAfterMs, 1)} ms | ${ms(x.p99BeforeMs)} |`,
    );
  }
  lines.push('');
  lines.push(
    'Times are from the fault (SIGKILL / SIGSTOP sent, or the upstream switched to 503). "first backup response": first 200 answered by the backup. ' +
      '"all traffic on backup": until the last disturbed request (failed, answered by the primary, or slower than 10 × the steady p50 before the fault, ' +
      'at least 50 ms) got its answer; every request after it was answered 200 by the backup. "1st s after fault": requests sent during the second after ' +
      'the fault, latency from their scheduled send time. "p99 before fault": requests sent in the second before it.',
    '',
  );
  for (const x of r.results) {
    const f = Object.entries(x.failures)
      .map(([k, v]) => `${v} × ${k}`)
      .join(', ');
    const flips = x.drproxyFailovers
      .map((d) => {
        const steps = d.steps ? `; after the fault: detected ${L.fmt(d.detectedMs, 0)} ms, ${Object.entries(d.steps).map(([k, v]) => `${k} ${L.fmt(v, 0)}`).join(', ')} ms` : '';
        return `${d.from} → ${d.to} (epoch ${d.epoch}, ${L.fmt(d.durationMs, 0)} ms from detection to routed${steps})`;
      })
      .join('; ');
    const busy = x.machineBusy ? ` Machine busy during the run: CPU 0 ${L.fmt(x.machineBusy[0] * 100)}%, CPU 1 ${L.fmt(x.machineBusy[1] * 100)}%.` : '';
    const visible = x.killVisibleMs !== undefined ? ` The kill was visible (an idle connection to the primary closed, seen by the load generator) ${L.fmt(x.killVisibleMs, 1)} ms after the signal.` : '';
    if (x.proxy === 'oracle') {
      const sw = x.drproxyFailovers[0];
      lines.push(`- **${x.kind}, oracle** (bench/oracle-failover.js): ${x.disturbed} disturbed request(s); failures: ${f || 'none'}; switched to the backup ${sw ? `${L.fmt(sw.steps.routed, 1)} ms` : 'never'} after the fault.${visible}${busy}`);
      continue;
    }
    lines.push(`- **${x.kind}** (standby ${x.standby ?? 0}, slow_after ${slowText(x)}, consecutive_refused ${x.refused ?? 1}): ${x.disturbed} disturbed request(s) (slow threshold ${L.fmt(x.slowMs, 0)} ms); failures: ${f || 'none'}${x.failed ? `; last failure answered ${L.fmt(x.lastFailedMs, 0)} ms after the fault` : ''}. drproxy's failover log: ${flips || 'none'}.${visible}${busy}`);
    for (const [name, t] of Object.entries(x.targets)) lines.push(`  - target ${name} (${t.want}): **${t.met ? 'met' : 'not met'}**`);
  }
  lines.push('');
  return lines.join('\n');
}

L.runMain(import.meta.url, 'failover', runFailover, failoverMarkdown);

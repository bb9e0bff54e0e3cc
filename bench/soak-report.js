/**
 * The soak's analysis and report (bench/soak.js): the load's outcome per fault slot, drproxy's
 * RSS and file descriptors over time, the epoch checks, the targets; markdown for
 * bench/out/soak.md.
 */
import * as L from './lib.js';
import { epochCheck } from './soak-sample.js';

/** Least-squares slope of ys over xs (per unit of x), NaN with fewer than 3 points. */
export function slope(xs, ys) {
  const pts = xs.map((x, i) => [x, ys[i]]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length < 3) return NaN;
  const mx = pts.reduce((a, [x]) => a + x, 0) / pts.length;
  const my = pts.reduce((a, [, y]) => a + y, 0) / pts.length;
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den ? num / den : NaN;
}

/** The sample at or just before time t (s). */
function sampleAt(samples, t) {
  let best = samples[0];
  for (const s of samples) if (s.t <= t) best = s;
  return best;
}

/** RSS (MB), fds and heap over time: warm-up end, middle, end, max after warm-up, slope per minute. */
function overTime(samples, o, slots, ranS, atEnd) {
  const after = samples.filter((s) => s.t >= o.warmup);
  const late = samples.filter((s) => s.t >= (o.warmup + ranS) / 2);
  const pick = (key) => {
    const at = (t) => sampleAt(samples, t)?.[key];
    const ys = after.map((s) => s[key]);
    return {
      warmupEnd: at(o.warmup),
      middle: at((o.warmup + ranS) / 2),
      // After the last fault was undone and every tenant was back (a burst's sockets closed).
      end: atEnd?.[key] ?? samples.at(-1)?.[key],
      max: Math.max(...ys.filter(Number.isFinite)),
      slopePerMin: slope(after.map((s) => s.t), ys) * 60,
      // The target's slope: the second half after the warm-up, once V8 has sized its heap.
      lateSlopePerMin: slope(late.map((s) => s.t), late.map((s) => s[key])) * 60,
      // Just before each fault: every tenant back on its primary, nothing injected.
      beforeFaults: slots.map((x) => x.before[key]),
      // Peaks of the two halves after the warm-up (the RSS target: see targetsOf).
      earlyMax: Math.max(...after.filter((s) => s.t < (o.warmup + ranS) / 2).map((s) => s[key]).filter(Number.isFinite)),
      lateMax: Math.max(...late.map((s) => s[key]).filter(Number.isFinite)),
    };
  };
  const heap = samples.filter((s) => s.metrics?.nodejs_heap_size_used_bytes).map((s) => ({ t: s.t, heapMb: s.metrics.nodejs_heap_size_used_bytes / 2 ** 20 }));
  return { rss: pick('rss'), fds: pick('fds'), heapMb: { warmupEnd: sampleAt(heap, o.warmup)?.heapMb, end: heap.at(-1)?.heapMb, max: Math.max(...heap.map((h) => h.heapMb)) } };
}

/** The slot (index) a time (s) falls in: -1 for the warm-up. */
function slotOf(slots, t) {
  let k = -1;
  for (const s of slots) if (t >= s.at) k = s.index;
  return k;
}

function failureKey(f) {
  const what = f.err ? `error ${f.err}` : `${f.status} from ${f.site}${f.msg ? ` "${f.msg.slice(0, 100)}"` : ''}`;
  return `${f.post ? 'POST' : 'GET'} ${f.tenant}: ${what}`;
}

/** The requests sent in window `w` (whole seconds): counts, latencies, the generator's worst lag. */
function sentIn(load, w) {
  const out = { lats: [], lagMax: 0, sent: 0, posts: 0 };
  for (const tb of load.buckets) {
    for (let sec = Math.round(w.at); sec < Math.round(w.end); sec++) {
      const b = tb[sec];
      if (!b) continue;
      out.sent += b.sent;
      out.posts += b.posts;
      out.lagMax = Math.max(out.lagMax, b.lagMax);
      for (const x of b.lat) out.lats.push(x);
    }
  }
  return out;
}

/** Per slot (and the warm-up): requests, failures by kind, latency, flips, time back. */
function perSlot(raw, o) {
  const { load, slots, logLines } = raw;
  const start = load.start;
  const windows = [{ index: -1, kind: 'warm-up', tenant: '-', at: 0, end: o.warmup, steps: [], notes: [], back: {} }, ...slots];
  // A window lasts until the next one starts (a slot may have run late).
  windows.forEach((w, i) => (w.end = windows[i + 1]?.at ?? raw.ranS));
  return windows.map((w) => {
    const inW = (t) => t >= w.at && t < w.end;
    // A failure belongs to the slot in which it was answered (a request sent just before a fault fails in it).
    const fails = load.failures.filter((f) => slotOf(slots, (f.t1 - start) / 1000) === w.index);
    const byKey = {};
    for (const f of fails) byKey[failureKey(f)] = (byKey[failureKey(f)] ?? 0) + 1;
    const { lats, lagMax, sent, posts } = sentIn(load, w);
    const flips = logLines.filter((l) => inW(l.t) && ['failover', 'frozen', 'unfrozen'].includes(l.event)).map((l) => (l.event === 'failover' ? `${l.tenant}: ${l.from} → ${l.to} e${l.epoch} (${l.trigger})` : `${l.tenant}: ${l.event} e${l.epoch}`));
    const errors = logLines.filter((l) => inW(l.t) && l.level >= 50).length;
    const cpuIn = raw.sampler.samples.filter((x) => inW(x.t) && Number.isFinite(x.cpu));
    const cpu = cpuIn.length >= 2 ? (cpuIn.at(-1).cpu - cpuIn[0].cpu) / (cpuIn.at(-1).t - cpuIn[0].t) : NaN;
    const backs = Object.values(w.back);
    const recovered = w.index < 0 || backs.every((b) => b !== undefined);
    const late = Object.values(w.lateBack ?? {});
    return {
      index: w.index,
      kind: w.kind,
      tenant: w.tenant,
      at: w.at,
      undoneAfterS: w.undoneAt !== undefined ? w.undoneAt - w.at : undefined,
      backAfterS: w.index < 0 || !recovered ? undefined : Math.max(...backs) - w.at,
      recovered,
      lateBackAfterS: late.length && late.every((b) => b !== undefined) ? Math.max(...late) - w.at : undefined,
      sent,
      posts,
      failedGet: fails.filter((f) => !f.post).length,
      failedPost: fails.filter((f) => f.post).length,
      lastFailureAfterS: fails.length ? Math.max(...fails.map((f) => f.t1)) / 1000 - start / 1000 - w.at : undefined,
      failures: byKey,
      p50: L.percentile(lats, 50),
      p99: L.percentile(lats, 99),
      max: lats.length ? lats.reduce((a, b) => Math.max(a, b)) : NaN,
      lagMax,
      cpu,
      // drproxy's CPU per request (health checks, admin calls and the fault's own work included).
      cpuUsPerReq: (cpu / (sent / (w.end - w.at))) * 1e6,
      flips,
      errorLines: errors,
      steps: w.steps,
      notes: w.notes,
      hostile: w.hostile,
      before: w.before,
    };
  });
}

function totals(load) {
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let posts = 0;
  let postsFailed = 0;
  for (const tb of load.buckets) {
    for (const b of tb) {
      if (!b) continue;
      sent += b.sent;
      ok += b.ok;
      failed += b.failed;
      posts += b.posts;
      postsFailed += b.postsFailed;
    }
  }
  return { sent, ok, failedGet: failed, posts, failedPost: postsFailed, unanswered: load.outstanding, failuresNotKept: load.failuresDropped };
}

/** Every target: {want, got, met}. */
function targetsOf(r, o) {
  const rss = r.overTime.rss;
  const fds = r.overTime.fds;
  const firstClean = fds.beforeFaults[0] ?? fds.warmupEnd;
  const lastClean = fds.beforeFaults.at(-1) ?? fds.end;
  const e = r.epochs;
  const allMono = e.status.monotonic && e.stateDir.monotonic && e.upstream.regressions === 0 && e.upstream.siteMismatches === 0;
  const rec = r.slots.filter((s) => s.index >= 0);
  const lateS = (r.ranS - o.warmup) / 2;
  return {
    failedIdempotent: { want: '0 failed GETs', got: r.totals.failedGet + r.totals.unanswered, met: r.totals.failedGet === 0 && r.totals.unanswered === 0 },
    // A V8 process's RSS is a sawtooth (the heap grows to its next GC trigger, a full GC gives
    // some back): a slope over half the run says where in a tooth the window fell (one 10-minute
    // run: 94.5 MB at 300 s, 122 MB at 570 s, 2.7 MB/min, with the same 123-124 MB peak in both
    // halves). A leak raises the peaks: the second half's peak is held to the first half's.
    rssFlat: {
      want: `peak RSS of the second half after the warm-up ≤ the first half's peak + ${o.rssPeakSlack} % (judged when each half is ≥ ${MIN_LATE_S} s); slope reported`,
      got: `${L.fmt(rss.earlyMax, 1)} → ${L.fmt(rss.lateMax, 1)} MB (slope ${L.fmt(rss.lateSlopePerMin, 2)} MB/min over the last ${L.fmt(lateS)} s)`,
      met: lateS >= MIN_LATE_S ? rss.lateMax <= rss.earlyMax * (1 + o.rssPeakSlack / 100) : undefined,
    },
    fdsFlat: {
      want: `open fds before the last fault and at the end ≤ before the first fault + ${o.fdSlack}`,
      got: `${firstClean} → ${lastClean} (before faults), ${fds.end} at the end`,
      met: lastClean <= firstClean + o.fdSlack && fds.end <= firstClean + o.fdSlack,
    },
    epochsMonotonic: { want: 'no epoch ever lower than one seen before (status, state dir, upstream)', got: allMono ? 'monotonic' : 'went backwards', met: allMono },
    recovered: { want: 'every tenant back on its primary within each fault slot', got: `${rec.filter((s) => s.recovered).length}/${rec.length}`, met: rec.every((s) => s.recovered) },
    alive: { want: 'drproxy running to the end, exit 0 on SIGTERM', got: r.alive ? `alive; exit ${r.exit?.code ?? r.exit?.signal}` : `exited during the soak (${r.exit?.code ?? r.exit?.signal})`, met: r.alive && r.exit?.code === 0 },
  };
}

/** Per second and tenant: requests, outcomes, answering site, latency (for the JSON). */
function timeline(load, names) {
  return load.buckets.map((tb, i) => ({
    tenant: names[i],
    seconds: tb.map((b, sec) => (b ? { sec, sent: b.sent, ok: b.ok, failed: b.failed, postsFailed: b.postsFailed, primary: b.primary, backup: b.backup, lagMax: b.lagMax, p50: L.percentile(b.lat, 50), p99: L.percentile(b.lat, 99), max: b.lat.length ? Math.max(...b.lat) : NaN } : { sec })),
  }));
}

/** The first failures in full, times in seconds of the run (t0 scheduled, tw written, t1 answered). */
function failureSamples(load, n = 300) {
  const rel = (t) => (t ? Math.round((t - load.start) * 10) / 10000 : undefined);
  return load.failures.slice(0, n).map((f) => ({ tenant: f.tenant, method: f.post ? 'POST' : 'GET', status: f.status, err: f.err, site: f.site, msg: f.msg, epoch: f.epoch, t0: rel(f.t0), tw: rel(f.tw), t1: rel(f.t1) }));
}

export function analyseSoak(raw, o) {
  const { load, sampler, slots } = raw;
  load.start = sampler.start;
  const r = {
    totals: totals(load),
    slots: perSlot(raw, o),
    ranS: raw.ranS,
    overTime: overTime(sampler.samples, o, slots, raw.ranS, raw.atEnd),
    epochs: {
      status: epochCheck(sampler.statusSeries),
      stateDir: epochCheck(sampler.stateSeries),
      upstream: {
        regressions: load.watches.reduce((a, w) => a + (w.regressions.count ?? w.regressions.length), 0),
        examples: load.watches.flatMap((w) => w.regressions.slice(0, 5)),
        siteMismatches: load.watches.reduce((a, w) => a + w.siteMismatches, 0),
        mismatchExamples: load.watches.flatMap((w) => w.mismatchExamples),
        seen: Object.fromEntries(load.watches.map((w, i) => [raw.tenantNames[i], Object.fromEntries(w.seen)])),
      },
    },
    samples: sampler.samples,
    fdKinds: { beforeFaults: slots.map((x) => ({ at: x.at, ...x.before.kinds })), atEnd: raw.atEnd?.kinds, idleAfter: raw.fdsIdle },
    timeline: timeline(load, raw.tenantNames),
    failureSamples: failureSamples(load),
    alive: raw.alive,
    exit: raw.exit,
    admin: raw.admin,
    errorLog: [...new Set(raw.logLines.filter((l) => l.level >= 50).map((l) => `${l.tenant ? `${l.tenant}: ` : ''}${l.msg}`))].slice(0, 30),
  };
  r.targets = targetsOf(r, o);
  r.missed = Object.entries(r.targets)
    .filter(([, t]) => t.met === false)
    .map(([k]) => k);
  return r;
}

/** The shortest second half (after the warm-up) whose RSS slope is judged. */
const MIN_LATE_S = 120;
const s1 = (x) => (x === undefined || !Number.isFinite(x) ? 'n/a' : `${L.fmt(x, 1)} s`);
const ms = (x) => (Number.isFinite(x) ? `${L.fmt(x, 1)}` : 'n/a');

function summaryLines(r) {
  const o = r.options;
  const { rss, fds } = r.overTime;
  const e = r.epochs;
  const yes = (b) => (b ? 'yes' : '**no**');
  return [
    `### Soak: ${L.fmt(r.ranS)} s at ${o.rate} req/s over ${r.tenants.length} tenants, a fault every ${o.faultEvery} s after a ${o.warmup} s warm-up`,
    '',
    `Machine: ${r.machine.nproc} CPUs, load average ${r.machine.loadavg.join(' ')} at the start and ${r.loadavgEnd?.join(' ')} at the end; CPU busy during the run ${r.machineBusy?.map((x) => `${L.fmt(x * 100)} %`).join(' / ')} (CPU 0 drproxy / CPU 1 load and upstreams${r.machine.pinned ? '' : ', not pinned'}).`,
    '',
    `Checks every ${r.healthCheck.interval} ms, timeout ${r.healthCheck.timeout} ms, fall ${r.healthCheck.fall}, rise ${r.healthCheck.rise}; min_interval ${r.failover.min_interval} ms; ` +
      `${r.tenants.map((t) => `${t.name}: failback ${t.failback}`).join(', ')} (failback_after ${r.failover.failback_after} ms); ${o.connections} keep-alive connections per tenant; ${L.fmt(o.postShare * 100)} % POSTs; faults ${o.kinds.join(', ')}, each held ${L.fmt(o.holdMs / 1000, 1)} s.` +
      `${o.keepFenced ? ' Backups left fenced after each failback (--keep-fenced).' : ''}`,
    '',
    '| requests (GET + POST) | failed GETs | failed POSTs | unanswered | RSS MB: warm-up end / middle / end / max | RSS slope: after warm-up / 2nd half | open fds: warm-up end / middle / end / max | fd slope: after warm-up / 2nd half | heap MB: warm-up end / end | epochs monotonic: status / state dir / upstream |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
    `| ${L.fmt(r.totals.sent)} (${L.fmt(r.totals.posts)} POST) | ${r.totals.failedGet} | ${r.totals.failedPost} | ${r.totals.unanswered} | ` +
      `${L.fmt(rss.warmupEnd, 1)} / ${L.fmt(rss.middle, 1)} / ${L.fmt(rss.end, 1)} / ${L.fmt(rss.max, 1)} | ${L.fmt(rss.slopePerMin, 2)} / ${L.fmt(rss.lateSlopePerMin, 2)} MB/min | ` +
      `${fds.warmupEnd} / ${fds.middle} / ${fds.end} / ${fds.max} | ${L.fmt(fds.slopePerMin, 1)} / ${L.fmt(fds.lateSlopePerMin, 1)} per min | ${L.fmt(r.overTime.heapMb.warmupEnd, 1)} / ${L.fmt(r.overTime.heapMb.end, 1)} | ` +
      `${yes(e.status.monotonic)} (${e.status.readings} readings) / ${yes(e.stateDir.monotonic)} (${e.stateDir.readings}) / ${yes(e.upstream.regressions === 0)} (${L.fmt(Object.values(e.upstream.seen).reduce((a, m) => a + Object.values(m).reduce((x, y) => x + y, 0), 0))} answers) |`,
    '',
  ];
}

function slotLines(r) {
  const lines = [
    '| # | at | fault | tenant | undone after | back on primary after | requests | failed GET | failed POST | last failure after | p50 / p99 / max ms | load generator lag | drproxy CPU | flips | error log lines |',
    '|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|',
  ];
  for (const s of r.slots) {
    lines.push(
      `| ${s.index < 0 ? '-' : s.index + 1} | ${L.fmt(s.at, 1)} s | ${s.kind} | ${s.tenant} | ${s.index < 0 ? '' : s1(s.undoneAfterS)} | ${s.index < 0 ? '' : s.recovered ? s1(s.backAfterS) : s.lateBackAfterS !== undefined ? `**${s1(s.lateBackAfterS)}** (past its slot)` : '**not back**'} | ${L.fmt(s.sent)} | ${s.failedGet} | ${s.failedPost} | ${s1(s.lastFailureAfterS)} | ` +
        `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)} | ${L.fmt(s.lagMax)} ms | ${L.fmt(s.cpu * 100)} % (${L.fmt(s.cpuUsPerReq)} µs/req) | ${s.flips.join('; ') || '-'} | ${s.errorLines} |`,
    );
  }
  lines.push('');
  return lines;
}

function detailLines(r) {
  const lines = [];
  for (const s of r.slots) {
    const f = Object.entries(s.failures).sort((a, b) => b[1] - a[1]);
    if (!f.length && !s.notes.length && !s.hostile) continue;
    lines.push(`- **${s.index < 0 ? 'warm-up' : `fault ${s.index + 1}, ${s.kind} on ${s.tenant}`}**: ${f.map(([k, v]) => `${v} × ${k}`).join('; ') || 'no failures'}.${s.notes.length ? ` Notes: ${s.notes.join('; ')}.` : ''}`);
    if (s.hostile) {
      const h = s.hostile;
      lines.push(
        `  - hostile burst from ${h.from}: ${h.idleConnected}/${h.idle} idle sockets connected, ${h.idleClosedByPeer} closed by drproxy (answers ${JSON.stringify(h.idleAnswers ?? {})}), ${h.idleOpenAtEnd} still open at the end; ` +
          `slowloris: ${h.slowlorisClosedByPeer}/${h.slowloris} closed by drproxy, answers ${JSON.stringify(h.slowlorisAnswers)}; malformed requests: ${Object.entries(h.garbageAnswers)
            .map(([k, v]) => `${k} → ${Object.entries(v).map(([a, n]) => `${n} × ${a}`).join(', ')}`)
            .join('; ')}`,
      );
    }
  }
  return lines;
}

export function soakMarkdown(r) {
  const lines = [...summaryLines(r), ...slotLines(r)];
  lines.push(
    'Times are seconds from the fault. "back on primary": every tenant active on its primary again (GET /status, polled every 250 ms). ' +
      'Failures count in the slot in which they were answered; "last failure": when the last of them was answered. Latencies from each request\'s scheduled send time (open loop). ' +
      '"load generator lag": the most a request was dispatched after its scheduled time (this process falling behind, not drproxy). ' +
      '"drproxy CPU": its user + system time over the slot\'s wall time (/proc), a cost that a busy machine does not inflate. ' +
      '"flips": drproxy\'s failover/frozen log lines in the slot (eN: epoch). Failed = not 2xx or a transport error.',
    '',
    ...detailLines(r),
    '',
    '**Targets**',
    '',
  );
  for (const [k, t] of Object.entries(r.targets)) lines.push(`- ${k} (${t.want}): ${t.got} — **${t.met === undefined ? 'not judged' : t.met ? 'met' : 'MISSED'}**`);
  const e = r.epochs;
  if (!e.status.monotonic || !e.stateDir.monotonic) lines.push(`- epoch decreases: ${JSON.stringify([...e.status.decreases, ...e.stateDir.decreases].slice(0, 10))}`);
  if (e.upstream.regressions) lines.push(`- requests routed with a lower epoch after a higher one was answered: ${e.upstream.regressions}, e.g. ${JSON.stringify(e.upstream.examples.slice(0, 3))}`);
  if (e.upstream.siteMismatches) lines.push(`- answers whose site differs from the X-DR-Site drproxy stamped: ${e.upstream.siteMismatches}, e.g. ${JSON.stringify(e.upstream.mismatchExamples.slice(0, 3))}`);
  const adminErrors = [...new Set(r.admin.errors.map((x) => x.text))];
  lines.push(`- epochs at the end (status): ${JSON.stringify(e.status.final)}; admin calls ${r.admin.calls}, ${r.admin.errors.length} answered with an error${adminErrors.length ? ` (${adminErrors.slice(0, 10).join('; ')})` : ''}`);
  const m = r.samples.filter((x) => x.metrics).map((x) => x.metrics);
  if (m.length >= 2) {
    // A counter with no series yet (no retry so far) is 0.
    const d = (k) => L.fmt((m.at(-1)[k] ?? 0) - (m[0][k] ?? 0));
    const lag = Math.max(...m.map((x) => x.nodejs_eventloop_lag_p99_seconds ?? NaN).filter(Number.isFinite)) * 1000;
    lines.push(`- drproxy's /metrics over the run (every 5 s): requests +${d('drproxy_requests_total')}, upstream retries +${d('drproxy_upstream_retries_total')}, failovers +${d('drproxy_failovers_total')}, ejections +${d('drproxy_backend_ejections_total')}; event-loop lag p99 at most ${L.fmt(lag, 1)} ms`);
  }
  const before = r.slots.filter((x) => x.before);
  lines.push(`- RSS MB / open fds just before each fault (every tenant on its primary): ${before.map((x) => `${L.fmt(x.at)} s ${L.fmt(x.before.rss, 1)} / ${x.before.fds}`).join(', ')}`);
  const k = r.fdKinds;
  const kinds = (x) => (x ? Object.entries(x).filter(([n]) => n !== 'at').map(([n, v]) => `${n} ${v}`).join(', ') : 'n/a');
  lines.push(
    `- drproxy's fds by kind: before the first fault ${kinds(k.beforeFaults[0])}; before the last ${kinds(k.beforeFaults.at(-1))}; at the end of the load ${kinds(k.atEnd)}; ` +
      `idle ${k.idleAfter?.waitS} s after the load (past the keep-alive timeouts): ${kinds(k.idleAfter?.kinds)} (${k.idleAfter?.fds} fds, RSS ${L.fmt(k.idleAfter?.rss, 1)} MB)`,
  );
  if (r.errorLog.length) lines.push('', `drproxy's distinct error lines: ${r.errorLog.map((x) => `\`${x.replace(/`/g, "'")}\``).join('; ')}`);
  lines.push('');
  return lines.join('\n');
}

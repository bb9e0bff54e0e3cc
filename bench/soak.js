/**
 * Issue 16: the soak. drproxy (a child process) carries an open-loop load of ~1,000 req/s
 * through two tenants for 10 minutes while a fault is injected every 30 s, cycling through
 * kill, hang, 503, flap, reload, forced failover and a hostile burst (bench/soak-faults.js).
 * Reports failed idempotent requests (target 0), drproxy's RSS and open file descriptors over
 * time (target: flat after the warm-up), that no epoch ever went backwards (as drproxy reports
 * it, as committed in its state directory, and as stamped on the requests the upstreams got),
 * and each fault's time to recover. Exits non-zero when a target is missed.
 *
 *   node bench/soak.js [--duration 600] [--rate 1000] [--fault-every 30] [--warmup 30] [--quick]
 *                      [--connections 16] [--post-share 0.02] [--hostile-idle 300]
 *                      [--rss-peak-slack 5] [--fd-slack 20] [--kinds kill,hang,503,flap,reload,forced,hostile]
 *                      [--keep-fenced]
 *
 * --quick: 66 s, a fault every 8 s after a 10 s warm-up (each of the 7 faults once).
 * --connections: keep-alive connections per tenant (the load stays on this bounded pool).
 * --kinds: the faults, cycled in this order (default all seven); faults of one tenant alternate
 * between the tenants (a fault of the whole proxy, reload or hostile, hits both).
 * --keep-fenced: do not unfence the backup after a failback (every flip fences the site that
 * lost traffic, a failback too): the next fault on that tenant then finds no site to go to.
 * Tenant alpha fails back by hand (the soak posts the failback), beta by itself
 * (failback: auto, failback_after 2s). Checks every 250 ms, timeout 200 ms, fall 2, rise 2.
 * drproxy on CPU 0; upstreams, load and sampling on CPU 1. Only 127.0.0.0/8 is used.
 * Output: bench/out/soak.{md,json}.
 */
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as L from './lib.js';
import { startSoakLoad } from './soak-load.js';
import { AdminClient, Sampler, openFds, fdKinds } from './soak-sample.js';
import { FAULTS, GLOBAL_FAULTS, startSite, runFault, bringBack } from './soak-faults.js';
import { analyseSoak, soakMarkdown } from './soak-report.js';

/** drproxy logs level names; the report compares pino's numbers (>= 50: error and fatal). */
const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

export { soakMarkdown };

const HC = { interval: 250, timeout: 200, fall: 2, rise: 2 };
const FAILOVER = { min_interval: 3000, failback_after: 2000, drain_timeout: 2000, hold_requests: 5000 };
/**
 * After the load: longer than drproxy's client keep-alive timeout (5 s) and than its upstream
 * connections' idle time (the upstreams announce keep-alive timeout=10, undici keeps 8 s).
 */
const IDLE_WAIT_MS = 12_000;
/** How long past its slot the schedule goes on bringing a tenant back before the next fault. */
const LATE_MAX_S = 60;
const TENANTS = [
  { name: 'alpha', host: 'alpha.soak.local', failback: 'manual', primary: 'primary', backup: 'backup' },
  { name: 'beta', host: 'beta.soak.local', failback: 'auto', primary: 'primary', backup: 'backup' },
];
const TOKENS = [
  { name: 'soak-ops', role: 'operator', env: 'DRPROXY_SOAK_OPERATOR_TOKEN' },
  { name: 'soak-viewer', role: 'viewer', env: 'DRPROXY_SOAK_VIEWER_TOKEN' },
];

function soakConfig({ port, adminPort, stateDir, sites }) {
  const urls = (up) => up.ports.map((p) => `http://127.0.0.1:${p}`).join(', ');
  const tenants = TENANTS.map((t) => {
    const fb = t.failback === 'auto' ? `\n    failover: { failback: auto, failback_after: ${FAILOVER.failback_after}ms }` : '';
    return `  ${t.name}:
    tier: BC
    hosts: [${t.host}]${fb}
    sites:
      - { name: ${t.primary}, backends: [${urls(sites[t.name].primary)}] }
      - { name: ${t.backup}, backends: [${urls(sites[t.name].backup)}] }`;
  });
  // headers_timeout below a fault's 9 s, so that the hostile burst's silent and slowloris
  // sockets are seen closed by drproxy within the burst.
  return `${L.configHead('soak.js', { port, stateDir, adminPort, tokens: TOKENS })}server:
  headers_timeout: 4s
defaults:
  health_check: { path: /healthz, interval: ${HC.interval}ms, timeout: ${HC.timeout}ms, rise: ${HC.rise}, fall: ${HC.fall}, jitter: 0.1 }
  failover: { mode: auto, failback: manual, min_interval: ${FAILOVER.min_interval}ms, drain_timeout: ${FAILOVER.drain_timeout}ms, hold_requests: ${FAILOVER.hold_requests}ms }
  proxy: { connect_timeout: 500ms, response_timeout: 5s, retry_on: [503] }
tenants:
${tenants.join('\n')}
`;
}

function options(options) {
  const o = { duration: 600, rate: 1000, faultEvery: 30, connections: 16, postShare: 0.02, hostileIdle: 300, rssPeakSlack: 5, fdSlack: 20, ...options };
  if (o.quick) Object.assign(o, { duration: options.duration ?? 66, faultEvery: options.faultEvery ?? 8, warmup: options.warmup ?? 10 });
  o.warmup ??= Math.min(30, o.faultEvery);
  for (const k of ['duration', 'rate', 'faultEvery', 'warmup', 'connections']) {
    if (!(Number(o[k]) > 0)) throw new Error(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: a positive number, got ${o[k]}`);
  }
  o.kinds = String(o.kinds ?? FAULTS.join(',')).split(',');
  for (const k of o.kinds) if (!FAULTS.includes(k)) throw new Error(`--kinds: a comma list of ${FAULTS.join(', ')}; got ${k}`);
  o.faults = Math.floor((o.duration - o.warmup) / o.faultEvery);
  // How long each fault is held before it is undone: 30 % of its slot, at most 10 s.
  o.holdMs = Math.min(10_000, o.faultEvery * 300);
  if (o.faults < 1) throw new Error(`--duration ${o.duration} leaves no room for a fault after the ${o.warmup} s warm-up`);
  return o;
}

/** drproxy's warn-and-above log lines (flips, freezes, alerts, errors), kept for the report. */
function keepLog(child, start, lines) {
  let rest = '';
  child.stdout.on('data', (d) => {
    const parts = (rest + d).split('\n');
    rest = parts.pop();
    for (const l of parts) {
      if (lines.length >= 5000) return;
      try {
        const j = JSON.parse(l);
        lines.push({ t: (Date.parse(j.time) - start) / 1000, level: LEVELS[j.level] ?? j.level, tenant: j.tenant, event: j.event, from: j.from, to: j.to, epoch: j.epoch, trigger: j.trigger, msg: String(j.msg ?? '').slice(0, 300) });
      } catch {
        lines.push({ t: NaN, msg: l.slice(0, 300) });
      }
    }
  });
}

/** Start the four upstreams and drproxy; resolves once both tenants answer. */
async function setUp(o, tmp) {
  const sites = {};
  for (const t of TENANTS) sites[t.name] = { primary: await startSite(t.primary), backup: await startSite(t.backup) };
  const port = await L.freePort();
  const adminPort = await L.freePort();
  const stateDir = path.join(tmp, 'state');
  const cfg = path.join(tmp, 'drproxy.yaml');
  writeFileSync(cfg, soakConfig({ port, adminPort, stateDir, sites }));
  const secrets = { operator: randomBytes(24).toString('hex'), viewer: randomBytes(24).toString('hex') };
  const dr = await L.startDrproxy(cfg, port, { env: { [TOKENS[0].env]: secrets.operator, [TOKENS[1].env]: secrets.viewer } });
  for (const t of TENANTS) await L.waitForStatus(port, { host: t.host, child: dr.child, timeoutMs: 15_000 });
  const admin = new AdminClient(adminPort, secrets);
  return { sites, port, adminPort, stateDir, cfg, dr, admin };
}

/** Every tenant on its primary with its primary available (the start state of each fault). */
async function settled(sampler, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const st = await sampler.pollStatus();
    if (st && TENANTS.every((t) => st[t.name]?.active === t.primary && st[t.name]?.phase === 'active' && st[t.name]?.primaryUp)) return;
    await L.sleep(250);
  }
  throw new Error(`the tenants did not settle on their primaries within ${deadlineMs} ms: ${JSON.stringify(sampler.latest)}`);
}

/**
 * The fault schedule: `o.faults` slots of faultEvery seconds after the warm-up. Each fault
 * starts clean (every tenant on its primary, nothing fenced): when a slot ends with a tenant
 * not back, the schedule goes on bringing it back for up to LATE_MAX_S more (noted, and the
 * next faults shift by as much) rather than inject the next fault into a tenant already on
 * its backup.
 */
async function schedule(o, ctx) {
  const slots = [];
  const every = o.faultEvery * 1000;
  let at = ctx.start + o.warmup * 1000;
  let tenantFaults = 0;
  for (let k = 0; k < o.faults; k++, at += every) {
    await L.sleep(at - L.wall());
    const kind = o.kinds[k % o.kinds.length];
    // Tenant faults alternate between the tenants (with five of them in a round of seven, each
    // tenant gets every kind within two rounds).
    const tenant = GLOBAL_FAULTS.has(kind) ? undefined : TENANTS[tenantFaults++ % TENANTS.length];
    const slot = { index: k, kind, tenant: tenant?.name ?? 'all', at: ctx.rel(), end: ctx.rel(at + every), before: { rss: L.rssMb(ctx.drPid), fds: openFds(ctx.drPid), kinds: fdKinds(ctx.drPid, ctx.ports) }, steps: [], notes: [], back: {} };
    slots.push(slot);
    L.log(`soak: ${ctx.rel().toFixed(1)} s: fault ${k + 1}/${o.faults} ${kind}${tenant ? ` on ${tenant.name}` : ''}`);
    try {
      await runFault(kind, tenant, ctx, slot);
    } catch (err) {
      slot.notes.push(`the fault could not be injected or undone: ${err.message}`);
    }
    slot.undoneAt = ctx.rel();
    for (const t of TENANTS) slot.back[t.name] = await bringBack(t, ctx, slot, at + every - 300, { explicit: slot.explicitFailback && t === tenant });
    if (!L.alive(ctx.dr.child)) {
      slot.notes.push('drproxy exited');
      break;
    }
    const late = TENANTS.filter((t) => slot.back[t.name] === undefined);
    if (late.length) {
      const until = L.wall() + LATE_MAX_S * 1000;
      for (const t of late) slot.lateBack = { ...slot.lateBack, [t.name]: await bringBack(t, ctx, slot, until) };
      const shift = Math.max(0, L.wall() + 300 - (at + every));
      slot.notes.push(`the next fault waited ${L.fmt(shift / 1000, 1)} s for a clean start`);
      at += shift;
    }
  }
  return slots;
}

/** Load, sampling and the fault schedule, then the end readings; returns the raw record. */
async function soak(o, env) {
  const { sites, port, adminPort, stateDir, dr, admin } = env;
  const primaries = Object.fromEntries(TENANTS.map((t) => [t.name, t.primary]));
  await settled(new Sampler({ pid: dr.pid, admin, stateDir, primaries, start: L.wall() }), 15_000);
  const start = L.wall();
  const logLines = [];
  keepLog(dr.child, start, logLines);
  const sampler = new Sampler({ pid: dr.pid, admin, stateDir, primaries, start });
  const rel = (t = L.wall()) => (t - start) / 1000;
  L.log(`soak: ${o.duration} s at ${o.rate} req/s over ${TENANTS.length} tenants, a fault every ${o.faultEvery} s after ${o.warmup} s (drproxy pid ${dr.pid})`);
  const cpu0 = L.cpuTimes();
  const load = startSoakLoad(port, { tenants: TENANTS, rate: o.rate, postShare: o.postShare, connections: o.connections, start });
  sampler.begin();
  const upstream = new Set(Object.values(sites).flatMap((s) => [...s.primary.ports, ...s.backup.ports]));
  const ports = { data: port, admin: adminPort, upstream };
  const ctx = {
    ...{ start, rel, sites, admin, sampler, dr, drPid: dr.pid, port, ports, tenants: TENANTS },
    ...{ hostileIdle: o.hostileIdle, keepFenced: o.keepFenced === true, holdMs: o.holdMs, autoGraceMs: FAILOVER.failback_after + 1500 },
  };
  const slots = await schedule(o, ctx);
  // At least a second after the last fault's undoing (a burst's sockets are closed by then).
  await L.sleep(Math.max(1000, start + o.duration * 1000 - L.wall()));
  // Past o.duration when faults had to wait for a clean start.
  const ranS = rel();
  const atEnd = { rss: L.rssMb(dr.pid), fds: openFds(dr.pid), kinds: fdKinds(dr.pid, ports) };
  const machineBusy = L.cpuBusy(cpu0, L.cpuTimes());
  const loadavgEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  load.stop();
  await load.drain(20_000);
  await sampler.stop();
  // Idle, past every keep-alive timeout: what drproxy still holds open.
  await L.sleep(IDLE_WAIT_MS);
  const fdsIdle = { waitS: IDLE_WAIT_MS / 1000, fds: openFds(dr.pid), kinds: fdKinds(dr.pid, ports), rss: L.rssMb(dr.pid) };
  const alive = L.alive(dr.child);
  const exit = alive ? await stopAndWait(dr.child) : await dr.child.exitPromise;
  const tenantNames = TENANTS.map((t) => t.name);
  return { load, sampler, slots, logLines, ranS, alive, exit, atEnd, fdsIdle, machineBusy, loadavgEnd, tenantNames, admin: { calls: admin.calls, errors: admin.errors } };
}

export async function runSoak(opts = {}) {
  const o = options(opts);
  L.pinSelf(L.CPU_LOAD);
  const machine = L.machineInfo();
  const env = await setUp(o, L.tempDir('drproxy-bench-soak-'));
  try {
    const raw = await soak(o, env);
    const result = { kind: 'soak', machine, machineBusy: raw.machineBusy, loadavgEnd: raw.loadavgEnd, options: o, healthCheck: HC, failover: FAILOVER, tenants: TENANTS, ...analyseSoak(raw, o) };
    L.writeOut('soak.json', result);
    L.writeOut('soak.md', soakMarkdown(result));
    return result;
  } finally {
    await env.admin.close();
    await L.stopChild(env.dr.child);
    for (const s of Object.values(env.sites)) for (const up of Object.values(s)) await L.stopChild(up.child, { signal: 'SIGKILL' });
  }
}

/** SIGTERM drproxy and wait: {code, signal, ms}. */
async function stopAndWait(child) {
  const t0 = performance.now();
  await L.stopChild(child, { graceMs: 40_000 });
  const { code, signal } = await child.exitPromise;
  return { code, signal, ms: performance.now() - t0 };
}

// As a script: markdown on stdout; exit 1 when a target is missed, 2 when the soak could not run.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runSoak(L.commonOptions(process.argv.slice(2), {})).then(
    (r) => {
      process.stdout.write(soakMarkdown(r));
      if (r.missed.length) process.stderr.write(`soak: targets missed: ${r.missed.join(', ')}\n`);
      process.exit(r.missed.length ? 1 : 0);
    },
    (err) => {
      process.stderr.write(`soak: ${err.stack ?? err}\n`);
      process.exit(2);
    },
  );
}

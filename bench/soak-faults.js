/**
 * The soak's faults (bench/soak.js), each injected on one tenant (or on the whole proxy), held,
 * then undone; `bringBack` then returns every tenant to its primary before the next fault.
 *
 *   kill    SIGKILL the tenant's primary upstream; restart it on the same ports after the hold
 *   hang    SIGSTOP it; SIGCONT after the hold
 *   503     it answers 503 to everything (health checks included); 200 after the hold
 *   flap    it stops listening and listens again every 300 ms for the hold (connections
 *           refused half the time), then stays up
 *   reload  POST /reload with the same config, then SIGHUP to drproxy (the whole proxy)
 *   forced  POST /tenants/T/failover {"force": true}; after the hold the failback is posted
 *   hostile a burst of idle, slowloris and garbage connections (soak-hostile.js; whole proxy)
 */
import path from 'node:path';
import * as L from './lib.js';
import { runHostileBurst } from './soak-hostile.js';

export const FAULTS = ['kill', 'hang', '503', 'flap', 'reload', 'forced', 'hostile'];
/** Faults of the whole proxy rather than of one tenant. */
export const GLOBAL_FAULTS = new Set(['reload', 'hostile']);
const FLAP_MS = 300;

/** One site's upstream process (bench/soak-upstream.js), restartable on the same ports. */
export async function startSite(site, ports) {
  const args = ['--site', site, ...(ports ? ['--ports', ports.join(',')] : ['--count', '2'])];
  const child = L.spawnNode(path.join(L.BENCH_DIR, 'soak-upstream.js'), args, { cpu: L.CPU_LOAD, ipc: true });
  const ready = await L.nextMessage(child, (m) => m?.type === 'ready');
  const send = async (msg) => {
    const ack = L.nextMessage(child, (m) => m?.type === 'ack' && m.what === msg.type, 5000);
    child.send(msg);
    return ack;
  };
  return {
    site,
    child,
    pid: child.pid,
    ports: ready.ports,
    setStatus: (status) => send({ type: 'mode', status }),
    down: () => send({ type: 'down' }),
    up: () => send({ type: 'up' }),
  };
}

/** Kill `up` (SIGKILL) and wait until it is gone. */
async function killSite(up) {
  try {
    process.kill(up.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  await up.child.exitPromise;
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Inject fault `kind` into tenant `t` ({name, primary}: site handles in ctx.sites[t.name]),
 * hold it `ctx.holdMs`, undo it. Pushes {at, what} steps onto `slot.steps`.
 */
export async function runFault(kind, t, ctx, slot) {
  const step = (what, extra) => slot.steps.push({ at: ctx.rel(), what, ...extra });
  const sites = t && ctx.sites[t.name];
  const hold = () => L.sleep(ctx.holdMs);
  if (kind === 'kill') {
    await killSite(sites.primary);
    step('primary SIGKILLed');
    await hold();
    sites.primary = await startSite(sites.primary.site, sites.primary.ports);
    step('primary restarted');
  } else if (kind === 'hang') {
    signal(sites.primary.pid, 'SIGSTOP');
    step('primary SIGSTOPped');
    await hold();
    signal(sites.primary.pid, 'SIGCONT');
    step('primary SIGCONTed');
  } else if (kind === '503') {
    await sites.primary.setStatus(503);
    step('primary answers 503');
    await hold();
    await sites.primary.setStatus(200);
    step('primary answers 200');
  } else if (kind === 'flap') {
    step('primary starts flapping');
    const until = L.wall() + ctx.holdMs;
    let flips = 0;
    while (L.wall() < until) {
      await sites.primary.down();
      await L.sleep(FLAP_MS);
      await sites.primary.up();
      flips++;
      await L.sleep(FLAP_MS);
    }
    step(`primary stops flapping (${flips} down/up cycles)`);
  } else if (kind === 'reload') {
    const r = await ctx.admin.call('POST', '/reload', { role: 'operator', body: { reason: 'soak: reload with the same config' } });
    step('POST /reload', { status: r.status ?? r.error, changed: r.body?.changed, added: r.body?.added, removed: r.body?.removed });
    await L.sleep(Math.min(1000, ctx.holdMs / 2));
    step(signal(ctx.drPid, 'SIGHUP') ? 'SIGHUP sent' : 'SIGHUP failed: drproxy is gone');
    await L.sleep(Math.min(1000, ctx.holdMs / 2));
  } else if (kind === 'forced') {
    const r = await ctx.admin.call('POST', `/tenants/${t.name}/failover`, { role: 'operator', body: { reason: 'soak: forced failover', force: true } });
    step('POST failover (force)', { status: r.status ?? r.error, epoch: r.body?.epoch, to: r.body?.to, result: r.body?.result });
    await hold();
    slot.explicitFailback = true;
  } else if (kind === 'hostile') {
    step('hostile burst starts');
    slot.hostile = await runHostileBurst(ctx.port, { host: ctx.tenants[0].host, ms: ctx.holdMs, idle: ctx.hostileIdle });
    step('hostile burst closed');
  } else {
    throw new Error(`unknown fault ${kind}`);
  }
}

/**
 * Bring tenant `t` back to its primary by `deadline` (wall ms): wait until drproxy sees the
 * primary available; then, for failback: manual (or `explicit`), POST the failback; for
 * failback: auto, wait for drproxy's own failback, posting it only if it has not happened
 * `autoGraceMs` after the primary came back (noted in the slot). Once back, unfence what the
 * flips fenced. Returns the time (s, run clock) the tenant was back, active on its primary with
 * nothing fenced, or undefined.
 */
export async function bringBack(t, ctx, slot, deadline, { explicit = false } = {}) {
  const step = (what, extra) => slot.steps.push({ at: ctx.rel(), what, tenant: t.name, ...extra });
  let primaryUpAt = 0;
  let posted = 0;
  let st;
  // At least one look, even past the deadline (an earlier tenant may have used the slot up).
  for (let first = true; first || L.wall() < deadline; first = false) {
    st = (await ctx.sampler.pollStatus())?.[t.name];
    if (st) {
      if (st.active === t.primary && st.phase === 'active' && st.primaryUp) {
        if (!st.fenced?.length || ctx.keepFenced) return ctx.rel();
        // Every flip fences the site that lost traffic, a failback included: unfence the backup
        // so that the next fault starts clean (otherwise its failover has nowhere to go).
        for (const site of st.fenced) {
          const r = await ctx.admin.call('POST', `/tenants/${t.name}/sites/${site}/unfence`, { role: 'operator', body: { reason: 'soak: clean start for the next fault' } });
          step(`POST unfence ${site}`, { status: r.status ?? r.error });
        }
        continue;
      }
      if (st.primaryUp && !primaryUpAt) primaryUpAt = L.wall();
      const autoLate = primaryUpAt && L.wall() - primaryUpAt > ctx.autoGraceMs;
      const want = st.primaryUp && st.active !== t.primary && (t.failback === 'manual' || explicit || autoLate);
      if (want && L.wall() - posted > 2000) {
        if (t.failback === 'auto' && !explicit) slot.notes.push(`${t.name}: no auto failback ${ctx.autoGraceMs} ms after the primary was available; failback posted`);
        posted = L.wall();
        const r = await ctx.admin.call('POST', `/tenants/${t.name}/failback`, { role: 'operator', body: { reason: 'soak: back to the primary' } });
        step('POST failback', { status: r.status ?? r.error, epoch: r.body?.epoch, result: r.body?.result, detail: r.body?.detail });
      }
    }
    await L.sleep(250);
  }
  const why = st ? `${st.phase} on ${st.active}, primary ${st.primaryUp ? 'available' : 'unavailable'} (backends ${st.primaryBackends}), fenced [${st.fenced}]` : 'no status';
  slot.notes.push(`${t.name}: not back on ${t.primary} by the end of the slot: ${why}`);
  return undefined;
}

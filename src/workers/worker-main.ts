/**
 * A data-plane worker thread (docs/design.md, "Every core: threads"): a real DataPlane with its
 * own RouteTable, TenantSlots and Backends (undici pools), built from the route descriptions the
 * main thread sends. It listens on every `listen` listener with `reusePort` once its first full
 * route set is applied, drains its own calls at a flip, acknowledges what it applied, and reports
 * passive-health trips in batches. It decides nothing: the main thread is the control plane.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AddressInfo, ListenOptions } from 'node:net';
import type { Config } from '../config/types.js';
import { createLogger } from '../log.js';
import { DataPlane } from '../proxy/data-plane.js';
import { RouteTable } from '../proxy/router.js';
import { TenantSlot } from '../proxy/route.js';
import type { Listener } from '../proxy/listeners.js';
import type { DrainResult } from '../failover/drain.js';
import { WorkerDrains } from './worker-drain.js';
import { DrProxyError } from '../errors.js';
import { WorkerBackends } from './worker-backends.js';
import { rebuildRoute, type RouteDescription } from './route-description.js';
import type { AckRequest, FromWorker, StandbyOrder, TableEntry, ToWorker } from './messages.js';
import { WorkerMetrics } from './worker-metrics.js';
import { TRAFFIC_REPORT_MS, WorkerTraffic } from './worker-traffic.js';
import { openWorkerAccessLog } from './access-relay.js';
import { ownTallies } from './worker-tallies.js';
import { WarmReporter } from './worker-warm.js';
import { mark, resetMarks } from '../trace-marks.js';

export interface WorkerInit {
  readonly id: string;
  readonly config: Config;
}

const port = parentPort!;
const init = workerData as { id: string; config: WorkerInit['config'] };
const config = init.config;
const send = (m: FromWorker): void => port.postMessage(m);
// Log lines go to the main thread's logger: one writer for the process's log.
const logger = createLogger({ level: config.log.level, destination: { write: (line: string) => send({ type: 'log', line }) } }).child({ worker: init.id });
const backends = new WorkerBackends((trips) => send({ type: 'trips', trips }));
const warm = new WarmReporter((id) => backends.get(id), (counts) => send({ type: 'warm', counts }));
const slots = new Map<string, TenantSlot>();
/** The description each slot's route was built from (JSON), to skip an unchanged one. */
const applied = new Map<string, string>();
const dataPlane = new DataPlane(config, new RouteTable([]), logger);
const metrics = new WorkerMetrics(init.id, dataPlane);
const traffic = new WorkerTraffic();
// The main thread's per-tenant traffic moves between scrapes too (a drill's guard reads it).
setInterval(() => {
  const moved = traffic.moved();
  if (moved !== undefined) send({ type: 'traffic', traffic: moved });
}, TRAFFIC_REPORT_MS).unref();
void dataPlane.setAccessLog(openAccessLogHere(config.access_log));
const drains = new WorkerDrains(dataPlane.upgrades);
let listening = false;

port.on('message', (m: ToWorker) => {
  handle(m).catch((err: unknown) => logger.error({ err, message: m.type }, 'data-plane worker: a message from the main thread failed'));
});

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'routes':
      for (const d of m.routes) apply(d);
      removed(new Set(m.table.map((e) => e.tenant)));
      dataPlane.setTable(new RouteTable(table(m.table)));
      for (const s of m.standby) standby(s);
      if (!listening) await listenAll();
      for (const a of m.acks) ack(a);
      return;
    case 'standby':
      standby(m);
      return;
    case 'preconnect':
      backends.resolve(m.backend, m.proxy).preconnect(m.n);
      return;
    case 'route':
      apply(m.description);
      return;
    case 'sync':
      ack(m.ack);
      return;
    case 'drain':
      await drain(m.ack, m.site, m.deadlineMs);
      return;
    case 'reload':
      // The main thread read the same files first and logged their problems: only apply here.
      dataPlane.listeners.setTenants(m.tenants);
      void dataPlane.setAccessLog(openAccessLogHere(m.accessLog));
      return;
    case 'retire':
      warm.unwatch(m.ids);
      await backends.retire(m.ids);
      return;
    case 'metrics':
      const c = dataPlane.connections;
      send({ type: 'metrics', id: m.id, metrics: await metrics.json(), traffic: traffic.counts(), connections: { open: c.open, cap: c.cap, refused: { ...c.refused } }, tallies: ownTallies(dataPlane.h2.sessions.size) });
      return;
    case 'shutdown':
      await shutdown(m.deadlineMs);
      return;
    case 'trace-reset':
      resetMarks();
      return;
  }
}

/** The route publisher's warm-socket order for one backend; its counts are reported from now on. */
function standby(s: StandbyOrder): void {
  backends.resolve(s.backend, s.proxy).setStandby(s.n, s.keepIdle);
  warm.watch(s.backend.id);
}

function openAccessLogHere(cfg: Config['access_log']): ReturnType<typeof openWorkerAccessLog> {
  return openWorkerAccessLog(cfg, (text, lines) => send({ type: 'access', text, lines }));
}

/** A tenant's new route into its slot (the same slot for the worker's life: held requests follow it). */
function apply(d: RouteDescription): void {
  // A full set repeats the routes a worker already has: the same route is not published again.
  const json = JSON.stringify(d);
  if (applied.get(d.tenant) === json) return;
  mark('worker-route', d.mode);
  applied.set(d.tenant, json);
  const route = rebuildRoute(d, backends);
  const slot = slots.get(d.tenant);
  drains.routed(d.tenant, d.mode, d.epoch);
  if (route.mode === 'serve') {
    const before = slot?.route.backends;
    for (const b of route.backends) {
      // A site drained at an earlier flip takes traffic again: fresh pools (as the flip's promote step).
      b.reopen();
      // Back in the route (an ejection over): a new streak, as the main thread's detector reset its own at the ejection.
      if (before !== undefined && !before.includes(b)) b.passiveSuccess();
    }
  }
  if (slot === undefined) {
    const slot = new TenantSlot(d.tenant, route);
    slot.observer = traffic.of(d.tenant);
    slots.set(d.tenant, slot);
  } else {
    slot.publish(route);
  }
}

/** Tenants a reload removed: what they hold is answered 503, and nothing routes to them any more. */
function removed(kept: ReadonlySet<string>): void {
  for (const [name, slot] of slots) {
    if (kept.has(name)) continue;
    slots.delete(name);
    applied.delete(name);
    const r = slot.route;
    drains.routed(name, 'unavailable', r.epoch);
    slot.publish(Object.freeze({ ...r, mode: 'unavailable' as const, backends: [], reason: 'tenant removed from the config', refusal: 'tenant_unavailable' as const }));
  }
}

function table(entries: readonly TableEntry[]): Array<{ hosts: readonly string[]; paths: readonly string[]; slot: TenantSlot }> {
  return entries.flatMap((e) => {
    const slot = slots.get(e.tenant);
    return slot === undefined ? [] : [{ hosts: e.hosts, paths: e.paths, slot }];
  });
}

function ack(a: AckRequest, drain?: DrainResult): void {
  send({ type: 'ack', tenant: a.tenant, epoch: a.epoch, stage: a.stage, ...(drain && { drain }) });
}

/** Flip steps 2-3 in this worker: the hold route is already applied (messages come in order). */
async function drain(a: AckRequest, site: string, deadlineMs: number): Promise<void> {
  const r = await drains.drain(a.tenant, a.epoch, site, backends.ofSite(a.tenant, site), deadlineMs);
  // The flip's own `drained …` line (main thread) shows the workers' sum: this worker's share at debug.
  if (r.inflight > 0) logger.debug({ tenant: a.tenant, site, ...r }, `drained ${site}: ${r.finished} finished, ${r.redispatched} re-sent, ${r.cut} cut`);
  ack(a, r);
}

/** Every listener of `listen`, sharing its port with the other workers (SO_REUSEPORT). */
async function listenAll(): Promise<void> {
  try {
    const addrs: AddressInfo[] = [];
    for (const l of dataPlane.listeners.list) addrs.push(await listenShared(l));
    listening = true;
    send({ type: 'listening', addrs: addrs.map((a) => ({ address: a.address, family: a.family, port: a.port })) });
  } catch (err) {
    send({ type: 'listen_failed', error: (err as Error).message });
  }
}

function listenShared(l: Listener): Promise<AddressInfo> {
  const { host, port: p } = l.cfg.address;
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(new DrProxyError('DRP_LISTEN', `data plane (listener ${l.name}): cannot listen on ${host}:${p}: ${err.message}`, { cause: err }));
    l.server.once('error', onError);
    // reusePort: Node >= 22.12 (ignored before: the main thread then runs one worker).
    l.server.listen({ host, port: p, reusePort: true } as ListenOptions, () => {
      l.server.off('error', onError);
      // Accept errors (EMFILE) are the connection guard's; without a listener they would end the thread.
      if (l.server.listenerCount('error') === 0) l.server.on('error', () => {});
      resolve(l.server.address() as AddressInfo);
    });
  });
}

/** Close the listeners, let in-flight requests finish (up to the deadline), then end the thread. */
async function shutdown(deadlineMs: number): Promise<void> {
  warm.stop();
  drains.releaseAll();
  if (dataPlane.server.listening) await dataPlane.close(deadlineMs);
  await dataPlane.setAccessLog(undefined);
  await backends.retire(backends.ids());
  send({ type: 'closed' });
  port.close();
  process.exit(0);
}

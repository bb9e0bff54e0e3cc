/**
 * The threaded data plane (`server.workers` ≥ 1; docs/design.md, "Every core: threads"): N worker
 * threads (worker-main.ts) each listening on every `listen` listener with reusePort, fed each
 * tenant's route by the main thread (route-feed.ts), acknowledging flip stages (DataPlanes, the
 * coordinator decorator in data-planes.ts), reporting passive trips in batches, restarted when
 * they exit (worker-set.ts) and stopped gracefully. The main thread opens no data-plane listener.
 */
import type { AddressInfo } from 'node:net';
import type { Config, TenantConfig } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Backend } from '../proxy/backend.js';
import type { AckStage, Acknowledgement, Coordinator } from '../state/coordinator.js';
import { DrProxyError } from '../errors.js';
import type { DrillTarget } from '../drill/drill-target.js';
import { WorkerSet } from './worker-set.js';
import { DrainSums, drainCounts } from './drain-sum.js';
import { WarmFold } from './worker-warm.js';
import type { DrainResult } from '../failover/drain.js';
import { RouteFeed, type FedTenant } from './route-feed.js';
import { withDataPlanes, type DataPlanes } from './data-planes.js';
import { workerCount } from './worker-count.js';
import { relayLog } from './log-relay.js';
import { stdoutDestination } from '../log-destination.js';
import type { AckRequest, FromWorker } from './messages.js';
import { WorkerScrape } from './worker-scrape.js';
import { TrafficFold } from './worker-traffic.js';
import { WorkerConnections } from './worker-connections.js';
import { TallyFold } from './worker-tallies.js';
import { sizeHeapsForWorkers, workerResourceLimits } from './heap-sizing.js';
import { onMarksReset } from '../trace-marks.js';

/** Beyond a drain's own drain_timeout, how long a worker may take to acknowledge (then: hung, terminated). */
export const ACK_TIMEOUT_MS = 2000;
/** After terminate(), how long a worker's exit may take before it counts as stuck. */
const EXIT_TIMEOUT_MS = 1000;
/** A worker that has not listened by then fails start-up. */
const LISTEN_TIMEOUT_MS = 30_000;

/** The compiled entry: from dist/ as it is, from the sources (tests) the built copy. */
const SCRIPT = import.meta.url.endsWith('.ts') ? new URL('../../dist/workers/worker-main.js', import.meta.url) : new URL('./worker-main.js', import.meta.url);

type Waiter = { resolve: (a: AddressInfo[]) => void; reject: (e: Error) => void };

export class ThreadedDataPlane implements DataPlanes {
  readonly count: number;
  private readonly set: WorkerSet;
  private readonly feed: RouteFeed;
  private readonly scrape: WorkerScrape;
  private readonly traffic: TrafficFold;
  /** The workers' connection counts, summed at each scrape (read by /metrics as the data plane's). */
  readonly connections = new WorkerConnections();
  /** The workers' fault tallies and HTTP/2 sessions, folded at each scrape. */
  private readonly tallies = new TallyFold();
  /** The last acknowledgement asked per tenant: a (re)started worker gives it with its first full set. */
  private readonly asked = new Map<string, AckRequest>();
  /** Each tenant's last flip drain, summed over the workers' drained acknowledgements. */
  private readonly drains = new DrainSums();
  /** The workers' warm standby sockets per backend (tenant status reads the main thread's Backends). */
  private readonly warm = new WarmFold();
  private readonly waiters: Waiter[] = [];
  private addrs: AddressInfo[] = [];
  /** Workers that listen now (tests, status). */
  readonly listening = new Set<string>();

  /** undefined for `server.workers: 0`: the inline data plane (today's single loop). */
  static create(config: Config, log: Logger): ThreadedDataPlane | undefined {
    const { count, clamped } = workerCount(config.server.workers);
    if (count === 0) return undefined;
    if (clamped !== undefined) log.warn({ path: 'server.workers', node: process.versions.node }, clamped);
    const flags = sizeHeapsForWorkers();
    if (flags.length > 0) log.debug({ flags }, 'V8 young generation sized for the data-plane workers');
    return new ThreadedDataPlane(config, count, log);
  }

  private constructor(
    private config: Config,
    count: number,
    private readonly log: Logger,
  ) {
    this.count = count;
    this.feed = new RouteFeed((m) => this.set.post(m), (id) => this.warm.of(id));
    this.traffic = new TrafficFold((t) => this.feed.traffic(t));
    this.scrape = new WorkerScrape(() => this.set.ids(), (w, id) => this.set.postTo(w, { type: 'metrics', id }));
    const drainMax = Math.max(0, ...config.tenants.map((t) => t.failover.drain_timeout));
    this.set = new WorkerSet({
      script: SCRIPT,
      count,
      config: workerConfig(config, count),
      ackTimeoutMs: drainMax + ACK_TIMEOUT_MS,
      exitTimeoutMs: EXIT_TIMEOUT_MS,
      resourceLimits: workerResourceLimits(),
      snapshot: () => this.feed.snapshot([...this.asked.values()]),
      onMessage: (id, m) => this.message(id, m as FromWorker),
      onAck: (_id, a) => {
        const counts = a.stage === 'drained' ? drainCounts(a.drain) : undefined;
        if (counts !== undefined) this.drains.add(a.tenant, a.epoch, counts);
      },
      onExit: (id) => (this.listening.delete(id), this.traffic.forget(id), this.connections.forget(id), this.tallies.forget(id), this.warm.forget(id)),
      onStuck: (id) => log.error({ worker: id }, 'data-plane worker did not exit after terminate(): it may still hold connections'),
      log,
    });
    onMarksReset(() => this.set.post({ type: 'trace-reset' }));
  }

  /**
   * The tenants and their slots (start; a reload, after its swap): each slot's routes go to
   * every worker from now on; after a reload the workers get the full set (new table, every
   * route; tenants no longer there answer 503 for what they held).
   */
  setTenants(tenants: readonly TenantConfig[], controller: (tenant: string) => FedTenant): void {
    const names = new Set(tenants.map((t) => t.name));
    for (const gone of this.feed.tenants()) if (!names.has(gone)) (this.feed.detach(gone), this.drains.forget(gone));
    for (const t of tenants) this.feed.attach(t, controller(t.name));
    if (this.addrs.length > 0) this.set.post(this.feed.snapshot([]));
  }

  /** The coordinator as the tenant controllers see it: stages acknowledged by every worker first. */
  coordinated(c: Coordinator): Coordinator {
    return withDataPlanes(c, this);
  }

  /** Start the workers; resolves once every one listens (a listener on port 0: the first's port for all). */
  async start(): Promise<AddressInfo[]> {
    const first = this.nextListening();
    this.set.start(1);
    this.addrs = await first;
    this.set.setConfig(workerConfig(withPorts(this.config, this.addrs), this.count));
    const rest = Array.from({ length: this.count - 1 }, () => this.nextListening());
    this.set.start(this.count - 1);
    await Promise.all(rest);
    return this.addrs;
  }

  address(): AddressInfo {
    return this.addrs[0]!;
  }

  /** Where drills send their requests (drill/drill-target.ts): the first plain listener, else the first TLS one. */
  drillTarget(): DrillTarget | undefined {
    const i = Math.max(0, this.config.listeners.findIndex((l) => l.tls === undefined));
    const a = this.addrs[i];
    return a && { address: a.address, port: a.port, ...(this.config.listeners[i]!.tls !== undefined && { tls: true }) };
  }

  /** drproxy_http2_sessions: the workers' sessions, summed at each scrape. */
  get http2(): { readonly sessions: ReadonlySet<unknown> } {
    return this.tallies.http2;
  }

  /** The port each listener got (reload compares `listen` with them). */
  ports(): number[] {
    return this.addrs.map((a) => a.port);
  }

  /** Why the data plane cannot take traffic now (GET /readyz), once started. */
  unready(): string[] {
    const out: string[] = [];
    if (this.listening.size === 0) out.push('no data-plane worker is listening (restarting)');
    for (const id of this.set.stuckIds) out.push(`data-plane worker ${id} did not exit after terminate() (DRP_WORKER_HUNG): flips fail until it does`);
    return out;
  }

  ids(): string[] {
    return this.set.ids();
  }

  /** End one worker as a crash would (tests): it is restarted and brought up to date. */
  terminate(id: string): Promise<number> | undefined {
    return this.set.terminate(id);
  }

  /** Graceful stop: every worker closes its listeners and finishes its requests (up to `timeoutMs`). */
  close(timeoutMs: number): Promise<void> {
    for (const w of this.waiters.splice(0)) w.reject(new DrProxyError('DRP_LISTEN', 'data-plane workers stopped before listening'));
    return this.set.shutdown({ type: 'shutdown', deadlineMs: timeoutMs }, timeoutMs + EXIT_TIMEOUT_MS);
  }

  /**
   * `/metrics`: the workers' answers first (each bounded to 1 s), their per-tenant traffic
   * folded into the main thread's accounting, then the main thread's text rendered, then the
   * workers' registries merged.
   */
  async metricsText(render: () => Promise<string>): Promise<string> {
    const answers = await this.scrape.collect();
    this.traffic.fold(new Map([...answers].map(([w, a]) => [w, a.traffic])));
    this.connections.fold(new Map([...answers].map(([w, a]) => [w, a.connections])));
    this.tallies.fold(new Map([...answers].map(([w, a]) => [w, a.tallies])));
    const [main, workers] = await Promise.all([render(), this.scrape.text(answers)]);
    return main.endsWith('# EOF\n') ? `${main.slice(0, -6)}${workers}# EOF\n` : main + workers;
  }

  /**
   * A reload applied `next`: every worker reads the tenants' certificates again and reopens its
   * access log (rotation); a worker started from now on gets `next`.
   */
  reloaded(next: Config): void {
    this.config = next;
    this.set.setConfig(workerConfig(withPorts(next, this.addrs), this.count));
    this.set.post({ type: 'reload', tenants: next.tenants, accessLog: next.access_log });
  }

  /** A reload dropped these Backends: the workers close their pools. */
  retire(gone: readonly Backend[]): void {
    const ids = this.feed.retire(gone);
    if (ids.length > 0) this.set.post({ type: 'retire', ids });
  }

  // --- DataPlanes ------------------------------------------------------------------------------

  acknowledge(tenant: string, epoch: number, stage: AckStage): Acknowledgement {
    const ack: AckRequest = { tenant, epoch, stage };
    this.asked.set(tenant, ack);
    const route = this.feed.route(tenant);
    // drained: the hold route of this epoch is out (messages arrive in order); each worker drains
    // its own calls to the site it holds for.
    if (stage === 'drained' && route?.mode === 'hold' && route.epoch === epoch) {
      this.drains.begin(tenant, epoch);
      this.set.post({ type: 'drain', ack, site: route.site, deadlineMs: this.feed.config(tenant)?.failover.drain_timeout ?? 0 });
    } else {
      this.set.post({ type: 'sync', ack });
    }
    return this.set.acknowledged(tenant, epoch, stage);
  }

  /** `drained` of an epoch the workers drained for: resolves with their summed counts. */
  acknowledged(tenant: string, epoch: number, stage: AckStage): Acknowledgement<DrainResult | void> {
    const wait = this.set.acknowledged(tenant, epoch, stage);
    const sum = stage === 'drained' ? this.drains.of(tenant, epoch) : undefined;
    if (sum === undefined) return wait;
    // The sum is complete once the wait settles: each worker's counts are added before its ack is booked.
    return wait === undefined ? Promise.resolve(sum) : wait.then(() => sum);
  }

  // --- Messages from workers ---------------------------------------------------------------------

  private message(id: string, m: FromWorker): void {
    switch (m.type) {
      case 'trips':
        for (const t of m.trips) this.feed.trip(t);
        return;
      case 'warm':
        this.warm.add(id, m.counts);
        return;
      case 'traffic':
        this.traffic.fold(new Map([[id, m.traffic]]));
        return;
      case 'metrics':
        this.scrape.answer(id, m.id, { metrics: m.metrics as object[], traffic: m.traffic, connections: m.connections, tallies: m.tallies });
        return;
      case 'access':
        stdoutDestination().write(m.text, m.lines);
        return;
      case 'log':
        relayLog(this.log, m.line);
        return;
      case 'listening':
        this.listening.add(id);
        this.waiters.shift()?.resolve(m.addrs as AddressInfo[]);
        return;
      case 'listen_failed':
        this.log.error({ worker: id, error: m.error }, 'data-plane worker cannot listen');
        if (this.waiters.length > 0) this.waiters.shift()!.reject(new DrProxyError('DRP_LISTEN', m.error));
        // A restarted worker (the port not released yet?): end it; it is started again after a back-off.
        else void this.set.terminate(id);
        return;
      default:
        return;
    }
  }

  private nextListening(): Promise<AddressInfo[]> {
    return new Promise<AddressInfo[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DrProxyError('DRP_LISTEN', `a data-plane worker did not listen within ${LISTEN_TIMEOUT_MS} ms`)), LISTEN_TIMEOUT_MS);
      const done = <T>(f: (v: T) => void) => (v: T) => (clearTimeout(timer), f(v));
      this.waiters.push({ resolve: done(resolve), reject: done(reject) });
    });
  }
}

/** What a worker is given: the config, its connection cap a share of the process's. */
function workerConfig(config: Config, count: number): Config {
  return { ...config, server: { ...config.server, max_connections: Math.ceil(config.server.max_connections / count) } };
}

/** Listeners on port 0 take the port the first worker got, so that the others share it. */
function withPorts(config: Config, addrs: readonly AddressInfo[]): Config {
  const listeners = config.listeners.map((l, i) => (l.address.port === 0 ? { ...l, address: { ...l.address, port: addrs[i]!.port } } : l));
  return { ...config, listen: listeners[0]!.address, listeners };
}

/**
 * The composition root: builds the state store, the health registry, one controller per
 * tenant (control plane), the data plane, metrics and the admin API, and wires them together.
 * Nothing else constructs these pieces, so the wiring can be read in one place.
 */
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config, ConfigProblem, TenantConfig } from './config/types.js';
import { loadConfigFile } from './config/index.js';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { FileStateStore } from './state/file-store.js';
import { loggedFileStore } from './state/logged-file-store.js';
import { LocalCoordinator } from './state/local-coordinator.js';
import type { StateStore } from './state/types.js';
import type { Coordinator } from './state/coordinator.js';
import type { ClusterReplica } from './cluster/replica.js';
import { carryOut } from './cluster/carry-out.js';
import { carryOutDrill } from './cluster/drills.js';
import { HealthRegistry } from './health/registry.js';
import { TenantController, type ControllerDeps, type ControllerHooks } from './failover/tenant-controller.js';
import { controllerHooks } from './controller-hooks.js';
import { DataPlane } from './proxy/data-plane.js';
import { RouteTable } from './proxy/router.js';
import { registerTlsMetrics } from './tls/metrics.js';
import { restartOnlyChanges } from './listen-compare.js';
import { Metrics, type SiteTallies } from './metrics.js';
import { countCommitFailures } from './metrics/commit-failures.js';
import { AdminServer } from './admin/server.js';
import { AuditLog } from './admin/audit.js';
import { auditedCarryOut, type ClusterRole } from './admin/forwarded-audit.js';
import { FaultMetrics } from './fault-metrics.js';
import { registerAccessLogMetrics } from './access-log-metrics.js';
import { registerH2ResetMetrics } from './h2-reset-metrics.js';
import { openAccessLog } from './proxy/access-log-writer.js';
import { TokenStore } from './admin/auth.js';
import type { AdminApi, ReloadResult } from './admin/api.js';
import { tenantStatusJson } from './admin/tenant-status.js';
import type { EvidenceHooks } from './evidence/drill-hooks.js';
import type { DrillOptions } from './drill/wire.js';
import type { DrillService } from './drill/service.js';
import type { FleetDrills } from './drill/wire-fleet.js';
import type { RegionDrills } from './drill/region.js';
import { ProxyDrills } from './drill/proxy-drills.js';
import { drillTarget } from './drill/drill-target.js';
import { ProxySafety } from './safety/proxy-safety.js';
import type { Notifier } from './notify/events.js';
import { NotifyService } from './notify/notifier.js';
import { NotifyMetrics } from './notify/metrics.js';
import { NotifyWiring } from './notify/wire.js';
import { ReadinessAlerts } from './notify/readiness-alerts.js';
import { ProxyConsole, type ConsoleOptions } from './console/wire.js';
import { registerConsoleMetrics } from './console/metrics.js';
import { ThreadedDataPlane } from './workers/threaded-data-plane.js';

export interface DrProxyOptions {
  logger?: Logger;
  /** Use this store instead of the one the config names (tests). */
  store?: StateStore;
  /** Extra observers (tests); metrics and audit are always wired. */
  controllerHooks?: ControllerHooks;
  /** Do not start the admin listener (benchmarks of the bare data plane). */
  noAdmin?: boolean;
  /** The control plane's wall clock (tests jump it minutes ahead); Date.now by default. */
  now?: () => number;
  /** The coordinator every tenant controller uses (tests: a shared in-process one); local by default. */
  coordinator?: (store: StateStore) => Coordinator;
  /** The drill service's store and hooks (drill/wire.ts); by default the state directory's store. */
  drills?: DrillOptions;
  /** Where notifications go (src/notify/); none by default. */
  notifier?: Notifier;
  /** The operator console's files and feed limits (console/wire.ts); built defaults otherwise. */
  console?: ConsoleOptions;
}

/** Tenants initialised at once at start-up. */
const START_CONCURRENCY = 64;

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export class DrProxy implements AdminApi {
  readonly logger: Logger;
  readonly store: StateStore;
  readonly health: HealthRegistry;
  readonly metrics: Metrics;
  readonly dataPlane: DataPlane;
  readonly audit: AuditLog;
  readonly faults: FaultMetrics;
  /** Notifications (notify/notifier.ts): every part that notices something calls `notifier.emit`. */
  readonly notifier: NotifyService;
  private readonly notifyWiring: NotifyWiring;
  admin: AdminServer | undefined;
  controllers = new Map<string, TenantController>();
  private config: Config;
  private loadedAt = new Date();
  private readonly startedAt = Date.now();
  private started = false;
  private shuttingDown = false;
  private stopping: Promise<void> | undefined;
  private reloading: Promise<unknown> = Promise.resolve();
  private readonly extraHooks: ControllerHooks | undefined;
  /** The control plane's wall clock (DrProxyOptions.now). */
  private readonly now: () => number;
  /** The store as controllers see it: failed commits counted (drproxy_state_commit_failures_total). */
  private readonly commitCounted: StateStore;
  private readonly coordinatorOf: DrProxyOptions['coordinator'];
  /** Clustered mode (state.etcd): this replica's etcd session, coordinator and forwarding. */
  private cluster: ClusterReplica | undefined;
  /** Drills, their evidence, schedules and region drills (drill/proxy-drills.ts); set by init(). */
  private drillParts: ProxyDrills | undefined;
  /** Kill switch and fleet breaker (safety/proxy-safety.ts). */
  private readonly safetyParts: ProxySafety;
  /** site_unready: standby readiness watched for changes (notify/readiness-alerts.ts). */
  private readonly unready: ReadinessAlerts;
  /** The operator console: its files, GET /fleet and the GET /events feed (src/console/). */
  private readonly consoleParts: ProxyConsole;
  /** server.workers ≥ 1: the data plane on worker threads (src/workers/); undefined: this thread's `dataPlane`. */
  readonly threads: ThreadedDataPlane | undefined;

  private constructor(config: Config, opts: DrProxyOptions) {
    this.config = config;
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger ?? createLogger({ level: config.log.level, format: config.log.format });
    this.store = opts.store ?? loggedFileStore(config.state.dir, this.logger);
    this.metrics = new Metrics();
    this.metrics.configure(config.metrics, config.tenants);
    this.metrics.fleetEvents.reloaded(true, Date.now());
    this.metrics.drills.configure(config.tenants);
    this.health = new HealthRegistry(() => this.metrics.healthCheckDuration.counts(), { now: this.now });
    this.metrics.setCheckSource(() => this.siteTallies());
    this.metrics.setStateSource(() => this.controllers.values());
    this.faults = new FaultMetrics(this.metrics.registry);
    registerAccessLogMetrics(this.metrics.registry);
    registerH2ResetMetrics(this.metrics.registry);
    this.notifier = new NotifyService(new NotifyMetrics(this.metrics.registry), this.logger, config.notify);
    this.notifyWiring = new NotifyWiring(() => this.notifier, (t) => this.controllers.get(t)?.config.tier.name, this.now);
    this.audit = new AuditLog(this.logger, {
      ...(config.admin.audit_file !== undefined && { file: config.admin.audit_file }),
      count: (action, result) => this.metrics.adminRequests.inc({ action, result }),
      onWriteError: (kind) => this.faults.auditWriteError(kind),
    });
    this.dataPlane = new DataPlane(config, new RouteTable([]), this.logger);
    this.threads = ThreadedDataPlane.create(config, this.logger);
    void this.dataPlane.setAccessLog(openAccessLog(config.access_log));
    this.metrics.setConnectionSource(this.threads?.connections ?? this.dataPlane.connections);
    this.metrics.setHttp2Source(this.threads?.http2 ?? this.dataPlane.h2);
    registerTlsMetrics(this.metrics.registry, () => this.dataPlane.listeners.certs());
    this.extraHooks = opts.controllerHooks;
    this.coordinatorOf = opts.coordinator;
    this.commitCounted = countCommitFailures(this.store, () => this.metrics.fleetEvents.commitFailed());
    this.unready = new ReadinessAlerts({ tenants: () => this.controllers.values(), notifier: () => opts.notifier ?? this.notifier, mayDecide: () => this.cluster?.coordinator.mayDecide() ?? true, now: this.now });
    this.safetyParts = new ProxySafety({ logger: this.logger, registry: this.metrics.registry, now: this.now, fleetSize: () => this.controllers.size, notifier: opts.notifier ?? this.notifier });
    this.consoleParts = new ProxyConsole({ tenants: () => this.controllers.values(), tenant: (n) => this.controllers.get(n), config: () => this.config, now: this.now, meta: () => ({ version: VERSION, automatic: this.safetyParts.gate.automatic, ...(this.cluster && { cluster: this.clusterRole() }) }) }, opts.console);
    registerConsoleMetrics(this.metrics.registry, this.consoleParts.feed);
  }

  /** Open the state, start health checks and listen. Throws (and cleans up) on any failure. */
  static async start(config: Config, opts: DrProxyOptions = {}): Promise<DrProxy> {
    const p = new DrProxy(config, opts);
    try {
      await p.init(opts);
    } catch (err) {
      await p.stop().catch(() => {});
      throw err;
    }
    return p;
  }

  private async init(opts: DrProxyOptions): Promise<void> {
    // Clustered, the state is etcd's: the local store is not opened (nor its directory locked).
    // The etcd client (gRPC) is loaded only then: an embedded drproxy starts without it.
    const etcd = this.config.state.etcd;
    if (etcd && !this.coordinatorOf) {
      const { ClusterReplica } = await import('./cluster/replica.js');
      this.cluster = new ClusterReplica({ config: etcd, log: this.logger, registry: this.metrics.registry, now: this.now, version: VERSION });
      this.cluster.onLeading((leading, who) => this.notifyWiring.leader(who.replica, leading, who.previous));
    }
    const host = { config: () => this.config, tenant: (n: string) => this.controllers.get(n), tenants: () => this.controllers.values(), audit: this.audit, logger: this.logger, now: this.now };
    const dataPlane = () => this.threads?.drillTarget() ?? drillTarget(this.dataPlane.listeners.list);
    // Before anything starts: a signing key that cannot be used stops start-up (DRP_SIGNING_KEY).
    this.drillParts = new ProxyDrills({ ...host, dataPlane, metrics: this.metrics.drills, cluster: this.cluster, onDrillFinal: (r) => this.notifyWiring.drill(r) });
    if (this.cluster) await this.cluster.start((p) => auditedCarryOut(this.audit, p, () => carryOut(this.controllers.get(p.tenant), p, (q) => carryOutDrill(this.drills, q, this.regionDrillService()))), this.config.state.etcd!.dial_timeout + this.config.state.etcd!.lease_ttl);
    else await this.store.open();
    if (!this.cluster && this.store instanceof FileStateStore && this.store.replayed.length > 0) {
      const replayed = this.store.replayed;
      this.logger.warn({ event: 'state_journal_replayed', tenants: replayed.slice(0, 20), count: replayed.length }, `state journal: ${replayed.length} tenant(s) had commits not yet in their files (an unclean stop); written now`);
    }
    await this.safetyParts.start(this.cluster?.killSwitch ?? resolve(this.config.state.dir), this.config.safety?.max_auto_failovers);
    // Tenants start concurrently (each loads, and on first start writes, its own state file),
    // a bounded number at a time; the map keeps config order.
    const tenants = this.config.tenants;
    const built = new Array<TenantController>(tenants.length);
    for (let i = 0; i < tenants.length; i += START_CONCURRENCY) {
      await Promise.all(tenants.slice(i, i + START_CONCURRENCY).map(async (t, k) => (built[i + k] = await this.createController(t))));
    }
    for (const c of built) this.controllers.set(c.name, c);
    this.publishTable();
    this.health.start();
    const addrs = await (this.threads?.start() ?? this.dataPlane.listenAll());
    const addr = addrs[0]!;
    await this.drillParts.start(opts.drills);
    if (!opts.noAdmin) {
      const { tokens, warnings } = TokenStore.load(this.config.admin.tokens);
      for (const w of warnings) this.logger.warn(`admin: ${w}`);
      if (!tokens.hasOperator) this.logger.warn('admin: no operator token is configured: failover, fence, drain and reload through the admin API are disabled');
      this.admin = new AdminServer(this.config.admin, this, tokens, this.audit, this.logger, this.faults);
      this.metrics.setAdminConnectionSource(this.admin.connectionCounts());
      const a = await this.admin.listen();
      const pub = this.admin.public?.address();
      this.logger.info({ admin: `${a.address}:${a.port}`, ...(pub && { admin_public: `${pub.address}:${pub.port}` }) }, 'admin API listening');
    }
    this.started = true;
    this.unready.start();
    this.logger.info({ listen: `${addr.address}:${addr.port}`, ...(addrs.length > 1 && { listeners: addrs.map((a) => `${a.address}:${a.port}`) }), tenants: this.controllers.size, state: this.stateKind() }, 'drproxy listening');
    this.drillParts.recover();
  }

  private deps(): ControllerDeps {
    const coordinator = this.coordinatorOf?.(this.commitCounted) ?? this.cluster?.coordinator ?? new LocalCoordinator(this.commitCounted, this.now);
    return {
      coordinator: this.threads?.coordinated(coordinator) ?? coordinator,
      ...(this.cluster && { forward: this.cluster.forward.bind(this.cluster) }),
      ...(this.cluster && { votes: this.cluster.votes }),
      health: this.health,
      logger: this.logger,
      headers: this.config.headers,
      safety: this.safetyParts.gate,
      upgrades: this.dataPlane.upgrades,
      now: this.now,
      hooks: controllerHooks({ metrics: this.metrics, audit: this.audit, notify: this.notifyWiring, tier: (t) => this.controllers.get(t)?.config.tier, extra: this.extraHooks, changes: this.consoleParts.changes }),
    };
  }

  private async createController(t: TenantConfig, prev?: TenantController): Promise<TenantController> {
    const c = await TenantController.create(t, this.deps(), prev);
    c.slot.observer = this.metrics.trafficOf(t.name);
    this.metrics.describeTenant(t);
    return c;
  }

  private publishTable(): void {
    this.threads?.setTenants(this.config.tenants, (n) => this.controllers.get(n)!);
    this.dataPlane.setTable(
      new RouteTable(this.config.tenants.map((t) => ({ hosts: t.hosts, paths: t.paths, slot: this.controllers.get(t.name)!.slot }))),
    );
  }

  /** Every tenant site with its checks' tallies (health-check metrics, read at scrape time). */
  private *siteTallies(): Iterable<SiteTallies> {
    for (const c of this.controllers.values()) {
      for (const site of c.sites) yield { tenant: c.name, site: site.name, tallies: site.backends.map((b) => b.health.check.tally) };
    }
  }

  get currentConfig(): Config {
    return this.config;
  }

  address(): AddressInfo {
    return (this.threads ?? this.dataPlane).address();
  }

  tenant(name: string): TenantController | undefined {
    return this.controllers.get(name);
  }

  // --- Admin API ---------------------------------------------------------------------------

  ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = this.started ? (this.threads?.unready() ?? []) : ['starting'];
    if (this.shuttingDown) reasons.push('shutting down');
    // Clustered, fail_closed: lost etcd past the lease, this replica serves no tenant.
    if ([...this.controllers.values()].some((c) => c.coordinatorLost)) reasons.push('coordinator lost: not serving until it is reachable again');
    return { ready: reasons.length === 0, reasons };
  }

  status(): unknown {
    return {
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - this.startedAt) / 1000),
      config: { source: this.config.source ?? null, loaded_at: this.loadedAt.toISOString() },
      state: { kind: this.stateKind() },
      ...(this.cluster && { cluster: this.cluster.statusJson(this.controllers.keys()) }),
      ...this.safetyParts.gate.statusJson(),
      tenants: [...this.controllers.keys()].map((n) => this.tenantStatus(n, false)),
    };
  }

  tenantStatus(name: string, withFlips: boolean): unknown {
    const c = this.controllers.get(name);
    return c && tenantStatusJson(c, withFlips, this.drillParts?.nextOf(name));
  }

  safety(): ProxySafety {
    return this.safetyParts;
  }

  private stateKind(): 'file' | 'etcd' {
    return this.cluster ? 'etcd' : this.store.kind;
  }

  /** Clustered mode: who this replica is and who leads (the admin API's audit of forwarded actions). */
  clusterRole(): ClusterRole | undefined {
    const c = this.cluster?.coordinator.status();
    return c && { replica: c.replicaId, leader: c.leader ?? null, leading: c.isLeader };
  }

  /** Sign and close drill reports, render them as Markdown (the drill service's finish and markdown hooks). */
  evidence(): EvidenceHooks {
    return this.drillParts!.evidence();
  }

  /** Drills (drill/service.ts); undefined without a store for their reports. */
  get drills(): DrillService | undefined {
    return this.drillParts?.service;
  }

  /** Scheduled drills (drills.schedules) and region drills (drill/wire-fleet.ts). */
  get fleetDrills(): FleetDrills | undefined {
    return this.drillParts?.fleet;
  }

  drillService(): DrillService | undefined {
    return this.drills;
  }

  regionDrillService(): RegionDrills | undefined {
    return this.drillParts?.regions;
  }

  console(): ProxyConsole {
    return this.consoleParts;
  }

  notifierService(): NotifyService {
    return this.notifier;
  }

  /** Clustered: approval requests in etcd, shared by every replica; embedded: undefined (the admin API keeps them in memory). */
  approvalStore: AdminApi['approvalStore'] = (onExpire) => this.cluster?.approvalStore(onExpire);

  metricsText(): Promise<string> {
    return this.threads?.metricsText(() => this.metrics.text()) ?? this.metrics.text();
  }

  metricsContentType(): string {
    return this.metrics.contentType;
  }

  /**
   * Re-read the config file and apply it. The whole new file is validated first: a bad file
   * changes nothing and the answer lists every problem. Reloads are serialised.
   */
  reload(): Promise<ReloadResult> {
    const run = this.reloading.then(() => this.doReload());
    this.reloading = run.catch(() => {});
    return run.then(
      (r) => (this.metrics.fleetEvents.reloaded(r.ok, Date.now()), r),
      (err: unknown) => {
        this.metrics.fleetEvents.reloaded(false, Date.now());
        throw err;
      },
    );
  }

  private async doReload(): Promise<ReloadResult> {
    const source = this.config.source;
    if (!source) return { ok: false, detail: 'this proxy was not started from a config file', problems: [] };
    let next: Config;
    let warnings: ConfigProblem[];
    try {
      ({ config: next, warnings } = await loadConfigFile(source));
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [];
      this.logger.error({ problems }, `reload refused: ${(err as Error).message}`);
      return { ok: false, detail: (err as Error).message, problems };
    }
    return this.apply(next, warnings);
  }

  /** Apply a validated config: changed tenants are rebuilt, the others keep everything. */
  async apply(next: Config, warnings: ConfigProblem[] = []): Promise<ReloadResult> {
    const old = this.config;
    const restartOnly = restartOnlyChanges(old, next, { listeners: (this.threads ?? this.dataPlane).ports(), admin: this.admin?.address().port, adminPublic: this.admin?.public?.address()?.port });
    if (restartOnly.length > 0) {
      const problems = restartOnly.map((path) => ({ path, message: 'changing this needs a restart; reload left everything as it was', severity: 'error' as const }));
      return { ok: false, detail: `${restartOnly.join(', ')} cannot change on reload`, problems };
    }
    // Read again at every reload (key rotation); a key that cannot be used refuses the reload.
    const key = this.drillParts!.readKey(next);
    if ('problem' in key) return { ok: false, detail: key.detail, problems: [key.problem] };
    const oldByName = new Map(old.tenants.map((t) => [t.name, t]));
    const added: string[] = [];
    const removed: string[] = [];
    const changed: string[] = [];
    const kept = new Map<string, TenantController>();
    const created: TenantController[] = [];
    const retired: TenantController[] = [];
    try {
      for (const t of next.tenants) {
        const prev = oldByName.get(t.name);
        const c = this.controllers.get(t.name);
        if (prev && c && JSON.stringify(prev) === JSON.stringify(t)) {
          kept.set(t.name, c);
          continue;
        }
        if (c) {
          await c.quiesce();
          retired.push(c);
          changed.push(t.name);
        } else {
          added.push(t.name);
        }
        // A rebuilt tenant takes over its flip history (failover/carry-over.ts).
        const nc = await this.createController(t, c);
        created.push(nc);
        kept.set(t.name, nc);
      }
    } catch (err) {
      for (const c of created) await c.stop();
      for (const c of retired) c.resume();
      this.logger.error({ err }, 'reload failed while building tenants; nothing changed');
      return { ok: false, detail: (err as Error).message, problems: [] };
    }
    for (const c of this.controllers.values()) {
      if (!kept.has(c.name)) {
        await c.quiesce();
        retired.push(c);
        removed.push(c.name);
      }
    }
    // Swap: one assignment each; requests already routed keep what they read.
    this.controllers = kept;
    this.config = next;
    this.safetyParts.gate.configure(next.safety?.max_auto_failovers);
    this.loadedAt = new Date();
    this.metrics.configure(next.metrics, next.tenants);
    this.drillParts?.reloaded(key.key, next.tenants);
    this.notifier.configure(next.notify);
    this.publishTable();
    // Decide now with the carried memory (a failback due, trip_after running): shared probes
    // report only changes, which may not come for a long time.
    for (const c of created) c.evaluate();
    for (const c of retired) {
      const successor = kept.get(c.name);
      c.handOver(successor?.slot);
      if (!successor) this.metrics.removeTenant(c.config);
    }
    await Promise.all(retired.map((c) => c.stop()));
    this.threads?.retire(retired.flatMap((c) => c.sites.flatMap((s) => s.backends.map((b) => b.backend))));
    if (this.config.log.level !== old.log.level) this.logger.level = this.config.log.level;
    if (next.log.format !== old.log.format) this.logger.warn({ path: 'log.format' }, `log.format stays ${old.log.format} until a restart`);
    // Opened anew at every reload (a file destination: log rotation), its settings may change.
    // The old file is flushed and closed in the background: a stuck disk must not hold a reload.
    void this.dataPlane.setAccessLog(openAccessLog(next.access_log));
    this.threads?.reloaded(next);
    // Tenant certificates, and every certificate file read again (SIGHUP): validated with the file above.
    for (const p of this.dataPlane.listeners.setTenants(next.tenants)) warnings.push({ path: p.file, message: `TLS certificate refused: ${p.message}`, severity: 'warning' });
    if (this.admin) {
      const { tokens, warnings: tw } = TokenStore.load(next.admin.tokens);
      for (const w of tw) this.logger.warn(`admin: ${w}`);
      this.admin.setTokens(tokens);
      this.admin.setConfig(next.admin);
    }
    for (const w of warnings) this.logger.warn({ path: w.path }, `config: ${w.message}`);
    this.consoleParts.reloaded({ added, removed, changed });
    this.logger.info({ added, removed, changed, tenants: kept.size }, 'config reloaded');
    return { ok: true, tenants: kept.size, added, removed, changed, warnings };
  }

  /**
   * Graceful stop: /readyz goes red, the listener stops accepting, keep-alive clients are told
   * to close, in-flight requests finish (up to server.shutdown_timeout); then probes stop,
   * pools close and the state directory is released.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.shuttingDown = true;
      this.unready.stop();
      this.consoleParts.close();
      await this.drillParts?.stop();
      if (this.dataPlane.server.listening) await this.dataPlane.close(this.config.server.shutdown_timeout);
      await this.threads?.close(this.config.server.shutdown_timeout);
      await this.dataPlane.setAccessLog(undefined);
      await this.health.close();
      await Promise.all([...this.controllers.values()].map((c) => c.stop()));
      await this.admin?.close();
      this.audit.close();
      this.notifier.close();
      await this.cluster?.close();
      await this.safetyParts.close();
      if (!this.cluster) await this.store.close();
      this.logger.info('drproxy stopped');
      this.logger.flush?.();
    })();
    return this.stopping;
  }
}

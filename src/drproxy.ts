/**
 * The composition root: builds the state store, the health registry, one controller per
 * tenant (control plane) and the data plane, and wires them together. Nothing else constructs
 * these pieces, so the wiring can be read in one place.
 */
import { resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Config } from './config/types.js';
import { createLogger, type Logger } from './log.js';
import { FileStateStore } from './state/file-store.js';
import type { StateStore } from './state/types.js';
import { HealthRegistry } from './health/registry.js';
import { TenantController, type ControllerHooks } from './failover/tenant-controller.js';
import { DataPlane, type DataPlaneHooks } from './proxy/data-plane.js';
import { RouteTable } from './proxy/router.js';

export interface DrProxyOptions {
  logger?: Logger;
  /** Use this store instead of the one the config names (tests). */
  store?: StateStore;
  controllerHooks?: ControllerHooks;
  dataPlaneHooks?: DataPlaneHooks;
}

export class DrProxy {
  readonly logger: Logger;
  readonly store: StateStore;
  readonly health: HealthRegistry;
  readonly controllers = new Map<string, TenantController>();
  readonly dataPlane: DataPlane;
  private config: Config;
  private stopping: Promise<void> | undefined;

  private constructor(config: Config, opts: DrProxyOptions) {
    this.config = config;
    this.logger = opts.logger ?? createLogger({ level: config.log.level });
    this.store = opts.store ?? new FileStateStore(resolve(config.state.dir));
    this.health = new HealthRegistry();
    this.dataPlane = new DataPlane(config, new RouteTable([]), this.logger, opts.dataPlaneHooks);
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
    await this.store.open();
    const deps = {
      store: this.store,
      health: this.health,
      logger: this.logger,
      headers: this.config.headers,
      hooks: opts.controllerHooks,
      upgrades: this.dataPlane.upgrades,
    };
    for (const t of this.config.tenants) {
      this.controllers.set(t.name, await TenantController.create(t, deps));
    }
    this.dataPlane.setTable(
      new RouteTable(
        this.config.tenants.map((t) => ({ hosts: t.hosts, paths: t.paths, slot: this.controllers.get(t.name)!.slot })),
      ),
    );
    this.health.start();
    const addr = await this.dataPlane.listen(this.config.listen.host, this.config.listen.port);
    this.logger.info(
      { listen: `${addr.address}:${addr.port}`, tenants: this.controllers.size, state: this.store.kind },
      'drproxy listening',
    );
  }

  get currentConfig(): Config {
    return this.config;
  }

  address(): AddressInfo {
    return this.dataPlane.address();
  }

  tenant(name: string): TenantController | undefined {
    return this.controllers.get(name);
  }

  /**
   * Stop: refuse new connections, let in-flight requests finish (up to shutdown_timeout),
   * stop probes, close pools and release the state directory.
   */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.dataPlane.server.listening) await this.dataPlane.close(this.config.server.shutdown_timeout);
      await this.health.close();
      await Promise.all([...this.controllers.values()].map((c) => c.stop()));
      await this.store.close();
      this.logger.info('drproxy stopped');
      this.logger.flush?.();
    })();
    return this.stopping;
  }
}

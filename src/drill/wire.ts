/**
 * The drill service's wiring into the composition root (drproxy.ts), kept here so that the
 * root stays a few lines: the store (the state directory's, unless one is given: clustered
 * mode brings its own), the audit sink, the data plane's address, the hooks other parts fill
 * in (signing, Markdown, hook checks).
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { DrillServiceDeps, DrillTenant } from './deps.js';
import { FileDrillStore } from './file-store.js';
import { DrillService } from './service.js';
import type { AuditRef, DrillStore } from './types.js';
import type { DrillTarget } from './drill-target.js';

/** What the composition root may give the drill service (DrProxyOptions.drills). */
export type DrillOptions = Partial<Pick<DrillServiceDeps, 'store' | 'finish' | 'markdown' | 'hookChecks' | 'runner' | 'forward'>>;

export interface DrillHost {
  config(): Config;
  tenant(name: string): DrillTenant | undefined;
  /** AuditLog: event() returns a reference once the audit file is a hash chain. */
  audit: { event(fields: Record<string, unknown>, msg: string): unknown; head?(): AuditRef | undefined };
  dataPlane(): DrillTarget | undefined;
  logger: Logger;
  now: () => number;
  /** Wraps the report store (h-sched: drill metrics see every final report; drill/observed-store.ts). */
  observe?: (s: DrillStore) => DrillStore;
}

/** The drill service, or undefined when there is no store for reports (clustered mode without one). */
export function wireDrills(h: DrillHost, opts: DrillOptions = {}): DrillService | undefined {
  const cfg = h.config();
  const own = opts.store ?? (cfg.state.etcd ? undefined : new FileDrillStore(resolve(cfg.state.dir), opts.markdown));
  if (!own) return undefined;
  const store = h.observe ? h.observe(own) : own;
  const audit = h.audit;
  return new DrillService({
    tenant: (name) => h.tenant(name),
    store,
    audit: {
      event: (fields, msg) => audit.event(fields, msg) as AuditRef | undefined,
      head: () => audit.head?.(),
      file: cfg.admin.audit_file,
    },
    config: () => h.config(),
    dataPlane: () => h.dataPlane(),
    logger: h.logger,
    now: h.now,
    runner: opts.runner ?? hostname(),
    ...(opts.hookChecks && { hookChecks: opts.hookChecks }),
    ...(opts.finish && { finish: opts.finish }),
    ...(opts.markdown && { markdown: opts.markdown }),
    ...(opts.forward && { forward: opts.forward }),
  });
}

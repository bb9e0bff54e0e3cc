/**
 * One tenant controller built directly (no proxy, no listener), for tests of the control plane's
 * seams: tenant t with sites a and b, one real upstream each, real probes and the real file
 * store under a temporary directory; the coordinator, scheduler and clock are the test's to give.
 */
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import type { ControllerDeps } from '../../src/failover/tenant-controller.js';
import { TenantController } from '../../src/failover/tenant-controller.js';
import { HealthRegistry } from '../../src/health/registry.js';
import { createLogger } from '../../src/log.js';
import type { Coordinator } from '../../src/state/coordinator.js';
import { FileStateStore } from '../../src/state/file-store.js';
import { LocalCoordinator } from '../../src/state/local-coordinator.js';
import { waitFor } from './poll.js';
import { FAST_CHECKS, tempDir } from './proxy.js';
import { startUpstream, stopAll, type Upstream } from './upstream.js';

export interface ControllerSetup {
  c: TenantController;
  store: FileStateStore;
  stop(): Promise<void>;
}

/**
 * Starts the controller and resolves once both sites are available. `coordinator`: built over
 * the store (default: the local one); `failover`: the tenant's failover settings.
 */
export async function startController(
  failover: Record<string, unknown>,
  opts: { coordinator?: (local: LocalCoordinator) => Coordinator } & Pick<ControllerDeps, 'now' | 'scheduler'> = {},
): Promise<ControllerSetup> {
  const ups: Upstream[] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  const store = new FileStateStore(resolve(await tempDir()));
  await store.open();
  const registry = new HealthRegistry();
  const { config, problems } = validateConfig(
    {
      defaults: { health_check: FAST_CHECKS, failover },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: ups.map((u, i) => ({ name: i === 0 ? 'a' : 'b', backends: [u.url] })) } },
    },
    { baseDir: '/tmp' },
  );
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  const local = new LocalCoordinator(store, opts.now);
  const logger = createLogger({ level: 'warn', destination: { write: () => {} } });
  const c = await TenantController.create(config!.tenants[0]!, {
    coordinator: opts.coordinator?.(local) ?? local,
    health: registry,
    logger,
    headers: config!.headers,
    ...(opts.now && { now: opts.now }),
    ...(opts.scheduler && { scheduler: opts.scheduler }),
  });
  registry.start();
  const stop = async (): Promise<void> => {
    await c.stop();
    await registry.close();
    await store.close();
    await stopAll(...ups);
  };
  await waitFor(() => c.site('a')!.health().available && c.site('b')!.health().available, { what: 'both sites available' }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { c, store, stop };
}

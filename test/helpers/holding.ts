/**
 * A proxy whose flips stay in their hold phase for a while: two sites (a1, b1), each with a
 * slow promote hook, so a test can send requests while the tenant is failing over and watch
 * what happens to them when the route comes back.
 */
import { startUpstream, stopAll, type Upstream } from './upstream.js';
import { startProxy, FAST_CHECKS, sitesHealthy, type TestProxy } from './proxy.js';
import type { DrProxyOptions } from '../../src/drproxy.js';
import { startHookServer, type HookServer } from './hook-server.js';

export interface HoldingSetup {
  primary: Upstream;
  backup: Upstream;
  hooks: HookServer;
  p: TestProxy;
  stop(): Promise<void>;
}

export async function startHoldingProxy(opts: {
  holdMax: number;
  holdRequests: string;
  promoteDelayMs: number;
  proxy?: Record<string, unknown>;
  healthCheck?: Record<string, unknown>;
  /** Top-level sections added to the config (access_log, ...). */
  doc?: Record<string, unknown>;
  /** Passed to startProxy (a state store of the test's own, its state directory). */
  start?: DrProxyOptions & { stateDir?: string };
}): Promise<HoldingSetup> {
  const [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  const hooks = await startHookServer(200, opts.promoteDelayMs);
  const promote = (site: string) => ({ url: `${hooks.url}/promote-${site}`, timeout: '5s' });
  const p = await startProxy({
    ...opts.doc,
    defaults: {
      health_check: opts.healthCheck ?? FAST_CHECKS,
      failover: { hold_requests: opts.holdRequests, hold_max: opts.holdMax, min_interval: '0s' },
      ...(opts.proxy && { proxy: opts.proxy }),
    },
    tenants: {
      t: {
        tier: 'BC',
        hosts: ['t.example.com'],
        sites: [
          { name: 'a1', backends: [primary.url], promote: promote('a1') },
          { name: 'b1', backends: [backup.url], promote: promote('b1') },
        ],
      },
    },
  }, opts.start);
  await sitesHealthy(p, 't');
  return {
    primary,
    backup,
    hooks,
    p,
    async stop() {
      await p.stop();
      await stopAll(primary, backup);
      await hooks.close();
    },
  };
}

/**
 * Fleet-level series (no tenant label) that events set: build info, config reloads, state
 * commit failures; and prom-client's Node defaults, minus the three gauges whose names end in
 * `_total` (promtool: "non-counter metrics should not have _total suffix").
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * Gauges of prom-client's defaults named like counters. Each has a per-type twin without the
 * suffix (`nodejs_active_handles{type}`, ...) whose sum is the same figure.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function registerDefaultMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
}

export class FleetMetrics {
  private readonly reloadOk: Gauge;
  private readonly reloadAt: Gauge;
  private readonly commitFailures: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    const info = new Gauge({ name: 'drproxy_build_info', help: 'Always 1: the drproxy version and the Node.js version running it', labelNames: ['version', 'node_version'], registers });
    info.set({ version: VERSION, node_version: process.version }, 1);
    this.reloadOk = new Gauge({ name: 'drproxy_config_last_reload_successful', help: '1 when the last config load (start or reload) was applied, 0 when it was refused', registers });
    this.reloadAt = new Gauge({ name: 'drproxy_config_last_reload_success_timestamp_seconds', help: 'When the config was last loaded and applied (start or reload), Unix time', registers });
    this.commitFailures = new Counter({
      name: 'drproxy_state_commit_failures_total',
      help: 'Tenant state commits that failed (disk error, or the stored epoch moved): the change they carried did not happen',
      registers,
    });
  }

  /** A config load was applied (`ok`) or refused, at `at` (ms since the epoch). */
  reloaded(ok: boolean, at: number): void {
    this.reloadOk.set(ok ? 1 : 0);
    if (ok) this.reloadAt.set(at / 1000);
  }

  commitFailed(): void {
    this.commitFailures.inc();
  }
}

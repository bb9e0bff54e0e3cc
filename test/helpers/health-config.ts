import { expect } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import type { HealthCheckConfig } from '../../src/config/types.js';

/**
 * A resolved health check (defaults applied, fast_interval derived) from the YAML-level
 * `health_check` settings given, through the config validator, for tests that drive a check or
 * the registry directly.
 */
export function healthCheckConfig(settings: Record<string, unknown>): HealthCheckConfig {
  const { config, problems } = validateConfig(
    {
      defaults: { health_check: settings },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a', backends: ['http://127.0.0.1:1'] }] } },
    },
    { baseDir: '/tmp' },
  );
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return config!.tenants[0]!.sites[0]!.health_check;
}

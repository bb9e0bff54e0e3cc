/**
 * siteReadiness() (src/failover/readiness.ts) as a pure function over real SiteRuntimes: each
 * reason a site is not ready for a flip (too few healthy backends, data older than the RPO or of
 * unknown age, a fence or promote hook that failed its check call, fenced) is reported with its
 * code and a message, all of them at once; a site with none is ready.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';
import type { TenantConfig } from '../src/config/types.js';
import { readinessFields, siteReadiness, type HookChecks } from '../src/failover/readiness.js';
import { SiteRuntime, type BackendRuntime } from '../src/failover/site.js';
import type { HealthHandle } from '../src/health/registry.js';
import { newEjectable } from '../src/health/outlier.js';
import type { Backend } from '../src/proxy/backend.js';
import type { TenantState } from '../src/state/types.js';

const NOW = 1_000_000;
const HOOK = { url: 'http://127.0.0.1:9/dr' };

/** Tenant t (tier BC: RPO 15m): site a plain, site b with data age, a fence and a promote hook. */
function config(minHealthy: number | string = 1): TenantConfig {
  const { config, problems } = validateConfig(
    {
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: [
            { name: 'a', backends: ['http://127.0.0.1:1'] },
            {
              name: 'b',
              min_healthy: minHealthy,
              backends: ['http://127.0.0.2:1', 'http://127.0.0.3:1'],
              health_check: { data_age: { json_field: 'lag' } },
              fence: HOOK,
              promote: HOOK,
            },
          ],
        },
      },
    },
    { baseDir: '/tmp' },
  );
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return config!.tenants[0]!;
}

type Look = { state: 'up' | 'down' | 'unknown'; age?: number };

/** A real SiteRuntime whose backends' checks last said `looks` (no probes run: the function is pure). */
function site(cfg: TenantConfig, name: string, looks: Look[]): SiteRuntime {
  const scfg = cfg.sites.find((s) => s.name === name)!;
  const backends: BackendRuntime[] = looks.map((l, i) => ({
    backend: { name: `${name}${i}` } as Backend,
    health: { check: { state: l.state, lastResult: { ok: l.state === 'up', durationMs: 1, at: NOW, ...(l.age !== undefined && { dataAgeSeconds: l.age }) } } } as unknown as HealthHandle,
    drained: false,
    passive: newEjectable(),
    ejectedSince: 0,
    confirming: false,
  }));
  return new SiteRuntime(scfg, backends);
}

function state(fenced: string[] = []): TenantState {
  return { tenant: 't', epoch: 4, phase: 'active', active: 'a', fenced, trigger: 'startup', reason: 'test', updated_at: '' };
}

const ok = { ok: true, at: NOW - 1000 };

function codes(r: { reasons: Array<{ code: string }> }): string[] {
  return r.reasons.map((x) => x.code);
}

describe('siteReadiness()', () => {
  const cfg = config();
  const fresh: Look[] = [{ state: 'up', age: 5 }, { state: 'up', age: 7 }];

  it('a healthy site, with fresh data, hooks that answered and no fence, is ready', () => {
    const r = siteReadiness({ site: site(cfg, 'b', fresh), config: cfg, state: state(), hooks: { fence: ok, promote: ok }, now: NOW });
    expect(r).toEqual({ site: 'b', ready: true, reasons: [] });
    expect(readinessFields(r)).toEqual({ ready: true, not_ready: [] });
  });

  it('a site whose hooks have not been checked yet (or checks are off) is not held back by them', () => {
    const r = siteReadiness({ site: site(cfg, 'b', fresh), config: cfg, state: state(), hooks: {}, now: NOW });
    expect(r.ready).toBe(true);
  });

  it('unavailable: fewer healthy backends than min_healthy, with the counts', () => {
    const two = config(2);
    const r = siteReadiness({ site: site(two, 'b', [{ state: 'up', age: 5 }, { state: 'down' }]), config: two, state: state(), hooks: {}, now: NOW });
    expect(r.ready).toBe(false);
    expect(r.reasons).toEqual([{ code: 'unavailable', site: 'b', message: '1 of 2 backends healthy, 2 needed (min_healthy)' }]);
    // With min_healthy 1, one of two is enough.
    expect(siteReadiness({ site: site(cfg, 'b', [{ state: 'up', age: 5 }, { state: 'down' }]), config: cfg, state: state(), hooks: {}, now: NOW }).ready).toBe(true);
  });

  it('stale: data age over the tier RPO (the youngest backend answer counts)', () => {
    const old = siteReadiness({ site: site(cfg, 'b', [{ state: 'up', age: 3600 }, { state: 'up', age: 901 }]), config: cfg, state: state(), hooks: {}, now: NOW });
    expect(old.reasons).toEqual([{ code: 'stale', site: 'b', message: 'data age 901 s is over the BC RPO of 900 s' }]);
    const edge = siteReadiness({ site: site(cfg, 'b', [{ state: 'up', age: 900 }, { state: 'up', age: 3600 }]), config: cfg, state: state(), hooks: {}, now: NOW });
    expect(edge.ready).toBe(true);
  });

  it('data_age_unknown: data age configured but no answer carried it; a site without data_age is not held back', () => {
    const r = siteReadiness({ site: site(cfg, 'b', [{ state: 'up' }, { state: 'up' }]), config: cfg, state: state(), hooks: {}, now: NOW });
    expect(codes(r)).toEqual(['data_age_unknown']);
    expect(siteReadiness({ site: site(cfg, 'a', [{ state: 'up' }]), config: cfg, state: state(), hooks: {}, now: NOW }).ready).toBe(true);
  });

  it('fence_hook_unreachable / promote_hook_unreachable: the hook failed its last check call, with its error', () => {
    const hooks: HookChecks = { fence: { ok: false, at: NOW, error: 'connect ECONNREFUSED 127.0.0.1:9' }, promote: ok };
    const r = siteReadiness({ site: site(cfg, 'b', fresh), config: cfg, state: state(), hooks, now: NOW });
    expect(r.reasons).toEqual([{ code: 'fence_hook_unreachable', site: 'b', message: 'its fence hook failed its check call: connect ECONNREFUSED 127.0.0.1:9' }]);
    const p = siteReadiness({ site: site(cfg, 'b', fresh), config: cfg, state: state(), hooks: { fence: ok, promote: { ok: false, at: NOW, error: 'status 403' } }, now: NOW });
    expect(codes(p)).toEqual(['promote_hook_unreachable']);
    // A check answer for a hook the site does not have (removed by a reload) says nothing.
    expect(siteReadiness({ site: site(cfg, 'a', [{ state: 'up' }]), config: cfg, state: state(), hooks, now: NOW }).ready).toBe(true);
  });

  it('fenced: the site is in the tenant state fence list', () => {
    const r = siteReadiness({ site: site(cfg, 'b', fresh), config: cfg, state: state(['b']), hooks: {}, now: NOW });
    expect(r.reasons).toEqual([{ code: 'fenced', site: 'b', message: 'it is fenced' }]);
  });

  it('lists every reason at once', () => {
    const down: Look[] = [{ state: 'down' }, { state: 'unknown' }];
    const failed = { ok: false, at: NOW, error: 'timeout after 5000 ms' };
    const r = siteReadiness({ site: site(cfg, 'b', down), config: cfg, state: state(['b']), hooks: { fence: failed, promote: failed }, now: NOW });
    expect(codes(r)).toEqual(['unavailable', 'data_age_unknown', 'fence_hook_unreachable', 'promote_hook_unreachable', 'fenced']);
    expect(readinessFields(r).not_ready.map((x) => Object.keys(x))).toEqual(Array(5).fill(['code', 'message']));
  });
});

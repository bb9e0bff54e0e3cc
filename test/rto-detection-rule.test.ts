/**
 * Issue 17, item 1, the rule itself (src/failover/detection-start.ts) on sites built in memory:
 * the (total − need + 1)-th backend to fail, in the order of its current streak, sets the
 * detection start; drained backends count as gone before any failure; backends up, or only
 * suspected (a failed check short of `fall`, passive failures short of an ejection), are not
 * part of the outage.
 */
import { describe, expect, it } from 'vitest';
import { SiteRuntime, type BackendRuntime } from '../src/failover/site.js';
import { newEjectable } from '../src/health/outlier.js';
import type { SiteConfig } from '../src/config/types.js';

const NOW = 10_000_000;

interface Spec {
  check?: 'up' | 'down';
  firstFailureAt?: number;
  ejectedSince?: number;
  drained?: boolean;
  passiveSince?: number;
}

function site(specs: Spec[], min: number): SiteRuntime {
  const backends = specs.map((s) => {
    const passive = newEjectable();
    if (s.ejectedSince !== undefined) passive.ejectedUntil = NOW + 60_000;
    return {
      backend: { passiveSince: s.passiveSince ?? 0 },
      health: { check: { state: s.check ?? 'up', firstFailureAt: s.firstFailureAt ?? 0 } },
      drained: s.drained ?? false,
      passive,
      ejectedSince: s.ejectedSince ?? 0,
      confirming: false,
    } as unknown as BackendRuntime;
  });
  return new SiteRuntime({ name: 'a1', min_healthy: { kind: 'count', value: min } } as SiteConfig, backends);
}

describe('detection start rule', () => {
  it('is 0 while the site is available, whatever its backends went through', () => {
    expect(site([{ check: 'down', firstFailureAt: 1_000 }, { firstFailureAt: 5_000, passiveSince: 6_000 }], 1).detectionStart(NOW)).toBe(0);
  });

  it('is the failure that took the site below min_healthy, not an earlier one nor a suspicion', () => {
    // 1 of 2 needed: the second failure; the up backend's single failed check is no part of it.
    expect(site([{ check: 'down', firstFailureAt: 1_000 }, { check: 'down', firstFailureAt: 400_000 }], 1).detectionStart(NOW)).toBe(400_000);
    // 2 of 3 needed: the second of three to fail; the third (failing later) changes nothing.
    const three = [{ check: 'down', firstFailureAt: 1_000 }, { check: 'down', firstFailureAt: 900_000 }, { check: 'down', firstFailureAt: 300_000 }] as Spec[];
    expect(site(three, 2).detectionStart(NOW)).toBe(300_000);
    // 2 of 2 needed: the first failure already makes the site unavailable.
    expect(site([{ check: 'down', firstFailureAt: 700_000 }, { check: 'up', firstFailureAt: 650_000 }], 2).detectionStart(NOW)).toBe(700_000);
  });

  it('takes an ejection\u2019s streak start, or the check\u2019s when that is earlier', () => {
    expect(site([{ ejectedSince: 2_000 }, { ejectedSince: 500_000, passiveSince: 0 }], 1).detectionStart(NOW)).toBe(500_000);
    expect(site([{ ejectedSince: 2_000 }, { ejectedSince: 500_000, firstFailureAt: 480_000 }], 1).detectionStart(NOW)).toBe(480_000);
  });

  it('counts a drained backend as gone before any failure, and says nothing when drains alone took the site down', () => {
    expect(site([{ drained: true }, { check: 'down', firstFailureAt: 800_000 }], 1).detectionStart(NOW)).toBe(800_000);
    expect(site([{ drained: true }, { drained: true }], 1).detectionStart(NOW)).toBe(0);
  });
});

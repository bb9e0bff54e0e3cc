/**
 * decide() (src/failover/decide.ts) as a pure function: health snapshots and numbers for `now`
 * in, an action and the memory out. No proxy, no timers, no sockets: every case is a table of
 * what the sites look like and what the tenant must do.
 */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';
import type { TenantConfig } from '../src/config/types.js';
import { Availability, decide, freezeStillDue, unfreezeStillDue, type DecisionState } from '../src/failover/decide.js';
import type { HealthSnapshot, SiteSnapshot } from '../src/failover/site.js';
import type { TenantState } from '../src/state/types.js';

type Look = 'up' | 'down' | 'unknown' | 'stale';

function config(failover: Record<string, unknown>): TenantConfig {
  const { config, problems } = validateConfig(
    {
      defaults: { failover },
      tenants: {
        t: {
          tier: 'BC',
          hosts: ['t.example.com'],
          sites: ['a', 'b', 'c'].map((name, i) => ({ name, backends: [`http://127.0.0.${i + 1}:1`] })),
        },
      },
    },
    { baseDir: '/tmp' },
  );
  expect(problems.filter((p) => p.severity === 'error')).toEqual([]);
  return config!.tenants[0]!;
}

/** One backend per site: up, down, not probed yet, or up with data older than the RPO. */
function site(name: string, look: Look, detectionStart = 0): SiteSnapshot {
  const up = look === 'up' || look === 'stale' ? 1 : 0;
  const down = look === 'down' ? 1 : 0;
  const unknown = look === 'unknown' ? 1 : 0;
  return { name, up, down, unknown, total: 1, need: 1, available: up >= 1, unavailable: up + unknown < 1, stale: look === 'stale', detectionStart: look === 'down' ? detectionStart : 0 };
}

function health(at: number, looks: Record<string, Look>, detectionStart = 0): HealthSnapshot {
  return { at, sites: Object.entries(looks).map(([name, look]) => site(name, look, detectionStart)) };
}

function tenant(fields: Partial<TenantState> = {}): TenantState {
  return { tenant: 't', epoch: 3, phase: 'active', active: 'a', fenced: [], trigger: 'startup', reason: 'test', updated_at: '', ...fields };
}

function state(fields: Partial<DecisionState> = {}): DecisionState {
  return { tenant: tenant(), busy: false, lastFlipAt: 0, unavailableSince: 0, availability: new Availability(), ...fields };
}

describe('decide(): the active site fails', () => {
  const cfg = config({ trip_after: '5s', min_interval: '0s' });

  it('waits for trip_after, counting from the first decision that saw the site unavailable, then fails over', () => {
    const first = decide(state(), health(1000, { a: 'down', b: 'up', c: 'up' }, 900), 1000, cfg);
    expect(first.action).toEqual({ kind: 'wait', until: 6000 });
    expect(first.memory.unavailableSince).toBe(1000);
    // Half-way: still waiting for the same moment, the start is not moved.
    const mid = decide(state(first.memory), health(3000, { a: 'down', b: 'up', c: 'up' }, 900), 3000, cfg);
    expect(mid.action).toEqual({ kind: 'wait', until: 6000 });
    expect(mid.memory.unavailableSince).toBe(1000);
    const due = decide(state(mid.memory), health(6000, { a: 'down', b: 'up', c: 'up' }, 900), 6000, cfg);
    expect(due.action).toEqual({ kind: 'flip', to: 'b', trigger: 'health', reason: 'site a unavailable (0/1 backends up, 1 needed)', detectedAt: 900 });
  });

  it('forgets the wait when the site comes back, and clears the alert', () => {
    const d = decide(state({ unavailableSince: 1000 }), health(3000, { a: 'up', b: 'up', c: 'up' }), 3000, cfg);
    expect(d.action).toEqual({ kind: 'none' });
    expect(d.memory.unavailableSince).toBe(0);
    expect(d.alert).toBe('');
  });

  it('skips a fenced or stale site, and uses now when the detection start is unknown', () => {
    const d = decide(state({ tenant: tenant({ fenced: ['b'] }), unavailableSince: 1 }), health(9000, { a: 'down', b: 'up', c: 'up' }), 9000, cfg);
    expect(d.action).toMatchObject({ kind: 'flip', to: 'c', detectedAt: 9000 });
    const stale = decide(state({ unavailableSince: 1 }), health(9000, { a: 'down', b: 'stale', c: 'up' }), 9000, cfg);
    expect(stale.action).toMatchObject({ kind: 'flip', to: 'c' });
  });
});

describe('decide(): min_interval', () => {
  const cfg = config({ trip_after: '0s', min_interval: '10s' });

  it('never delays a failover to an available site', () => {
    const d = decide(state({ lastFlipAt: 1000 }), health(2000, { a: 'down', b: 'up', c: 'down' }), 2000, cfg);
    expect(d.action).toMatchObject({ kind: 'flip', to: 'b' });
  });

  it('delays the no_site freeze, with an alert saying when', () => {
    const d = decide(state({ lastFlipAt: 1000 }), health(2000, { a: 'down', b: 'down', c: 'down' }), 2000, cfg);
    expect(d.action).toEqual({ kind: 'wait', until: 11_000 });
    expect(d.alert).toBe('active site a is unavailable and no other site can take over; freezing in 9s (min_interval)');
    const later = decide(state({ lastFlipAt: 1000, unavailableSince: 2000 }), health(11_000, { a: 'down', b: 'down', c: 'down' }), 11_000, cfg);
    expect(later.action).toMatchObject({ kind: 'freeze', cause: 'no_site' });
  });
});

describe('decide(): manual mode', () => {
  it('alerts and waits for an operator: no flip, no timer', () => {
    const cfg = config({ mode: 'manual', trip_after: '0s' });
    const d = decide(state(), health(5000, { a: 'down', b: 'up', c: 'up' }), 5000, cfg);
    expect(d.action).toEqual({ kind: 'none' });
    expect(d.alert).toBe('active site a is unavailable and the tenant is in manual mode: waiting for an operator');
    expect(d.memory.unavailableSince).toBe(5000);
  });
});

describe('decide(): no site to go to', () => {
  const cfg = config({ trip_after: '0s', min_interval: '0s' });

  it('holds while another site has not been probed yet (start-up) instead of freezing', () => {
    const d = decide(state(), health(100, { a: 'down', b: 'unknown', c: 'down' }), 100, cfg);
    expect(d.action).toEqual({ kind: 'none' });
    expect(d.alert).toBe('active site a is unavailable; waiting for the first health results of the other sites');
  });

  it('freezes (no_site) once every other site is known unavailable, fenced or stale', () => {
    const d = decide(state({ tenant: tenant({ fenced: ['c'] }) }), health(100, { a: 'down', b: 'stale', c: 'up' }), 100, cfg);
    expect(d.action).toEqual({ kind: 'freeze', cause: 'no_site', reason: 'no site can take traffic: a is unavailable and no other site is available, unfenced and fresh' });
  });
});

describe('decide(): frozen', () => {
  const cfg = config({ trip_after: '0s' });
  const frozen = (cause: TenantState['frozen_cause'], fenced: string[] = []) => state({ tenant: tenant({ phase: 'frozen', frozen_cause: cause, fenced }) });

  it('recovers a no_site freeze onto the most preferred usable site, unfenced first', () => {
    expect(decide(frozen('no_site'), health(7, { a: 'down', b: 'up', c: 'up' }), 7, cfg).action).toEqual({ kind: 'flip', to: 'b', trigger: 'recovery', reason: 'site b is available again', detectedAt: 7 });
    expect(decide(frozen('no_site', ['b']), health(7, { a: 'down', b: 'up', c: 'up' }), 7, cfg).action).toMatchObject({ kind: 'flip', to: 'c' });
    // A fenced site only when it is the only way back.
    expect(decide(frozen('no_site', ['b']), health(7, { a: 'down', b: 'up', c: 'down' }), 7, cfg).action).toMatchObject({ kind: 'flip', to: 'b' });
  });

  it('unfreezes in place when the active site is back first', () => {
    expect(decide(frozen('no_site'), health(7, { a: 'up', b: 'up', c: 'down' }), 7, cfg).action).toEqual({ kind: 'unfreeze', reason: 'site a is available again' });
  });

  it('stays frozen while nothing is usable, and always when a hook failed (an operator decides)', () => {
    expect(decide(frozen('no_site'), health(7, { a: 'down', b: 'stale', c: 'down' }), 7, cfg).action).toEqual({ kind: 'none' });
    expect(decide(frozen('fence_failed'), health(7, { a: 'up', b: 'up', c: 'up' }), 7, cfg).action).toEqual({ kind: 'none' });
  });
});

describe('decide(): auto failback', () => {
  const cfg = config({ failback: 'auto', failback_after: '5s', min_interval: '10s' });
  const onB = (fields: Partial<DecisionState> = {}) => state({ tenant: tenant({ active: 'b' }), ...fields });

  it('waits for the preferred site to be available for failback_after without a break, then fails back', () => {
    const first = decide(onB(), health(20_000, { a: 'up', b: 'up', c: 'up' }), 20_000, cfg);
    expect(first.memory.availability.of('a')).toBe(20_000);
    expect(first.action).toEqual({ kind: 'wait', until: 25_000 });
    const due = decide(onB({ availability: first.memory.availability }), health(25_000, { a: 'up', b: 'up', c: 'up' }), 25_000, cfg);
    expect(due.action).toEqual({ kind: 'flip', to: 'a', trigger: 'failback', reason: 'preferred site a healthy for 5000ms (auto failback)', detectedAt: 25_000 });
  });

  it('starts the hold-down again after a break, and waits for min_interval since the last flip', () => {
    const up = decide(onB(), health(20_000, { a: 'up', b: 'up', c: 'up' }), 20_000, cfg).memory.availability;
    const broken = decide(onB({ availability: up }), health(22_000, { a: 'down', b: 'up', c: 'up' }), 22_000, cfg).memory.availability;
    expect(broken.of('a')).toBeUndefined();
    const back = decide(onB({ availability: broken }), health(23_000, { a: 'up', b: 'up', c: 'up' }), 23_000, cfg);
    expect(back.action).toEqual({ kind: 'wait', until: 28_000 });
    const recent = decide(onB({ availability: up, lastFlipAt: 19_000 }), health(25_000, { a: 'up', b: 'up', c: 'up' }), 25_000, cfg);
    expect(recent.action).toEqual({ kind: 'wait', until: 29_000 });
  });

  it('never fails back with failback: manual', () => {
    const manual = config({ failback: 'manual' });
    expect(decide(onB(), health(1, { a: 'up', b: 'up', c: 'up' }), 1, manual).action).toEqual({ kind: 'none' });
  });
});

describe('decide(): while a flip runs (busy)', () => {
  it('decides nothing and keeps only the availability memory', () => {
    const cfg = config({ trip_after: '0s' });
    const d = decide(state({ busy: true }), health(50, { a: 'down', b: 'up', c: 'down' }), 50, cfg);
    expect(d.action).toEqual({ kind: 'none' });
    expect(d.alert).toBeUndefined();
    expect(d.memory.unavailableSince).toBe(0);
    expect(d.memory.availability.of('b')).toBe(50);
  });

  it('returns new memory and never changes the one it was given', () => {
    const before = new Availability();
    const s = state({ availability: before });
    decide(s, health(50, { a: 'up', b: 'up', c: 'up' }), 50, config({}));
    expect(before.of('a')).toBeUndefined();
    expect(s.unavailableSince).toBe(0);
  });
});

describe('a freeze or unfreeze decided earlier is checked again when its turn comes (rule 6)', () => {
  const cfg = config({});
  const view = (t: TenantState, looks: Record<string, Look>) => ({ state: t, health: health(1, looks), config: cfg });

  it('freezes only if the active site is still unavailable and nothing can take over', () => {
    expect(freezeStillDue(view(tenant(), { a: 'down', b: 'down', c: 'down' }))).toBe(true);
    expect(freezeStillDue(view(tenant(), { a: 'up', b: 'down', c: 'down' }))).toBe(false);
    expect(freezeStillDue(view(tenant(), { a: 'down', b: 'up', c: 'down' }))).toBe(false);
  });

  it('unfreezes only a no_site freeze whose active site is still available', () => {
    expect(unfreezeStillDue(view(tenant({ phase: 'frozen', frozen_cause: 'no_site' }), { a: 'up', b: 'down', c: 'down' }))).toBe(true);
    expect(unfreezeStillDue(view(tenant({ phase: 'frozen', frozen_cause: 'no_site' }), { a: 'down', b: 'up', c: 'down' }))).toBe(false);
    expect(unfreezeStillDue(view(tenant({ phase: 'frozen', frozen_cause: 'fence_failed' }), { a: 'up', b: 'up', c: 'up' }))).toBe(false);
  });
});

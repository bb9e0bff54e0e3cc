/**
 * The `drills` section (docs/drills.md) and each tenant's `drill` verification: how a drill
 * verifies, dwells and is guarded, the key that signs its report, and the schedules that start
 * drills on their own. Schedules name tenants and tiers that must exist; that check runs once
 * the tenants are read (checkDrillSchedules).
 */
import path from 'node:path';
import type { DrillBlocked, DrillGuardConfig, DrillSchedule, DrillsConfig, DrillVerifyConfig, DrillWindow, TenantConfig, TierConfig } from './types.js';
import * as D from './defaults.js';
import { type Parse, Problems, Fields, compact, values, text, int, num, oneOf, duration, positiveDuration, listOf, matching, show } from './fields.js';
import { checkPath, hostHeader, headerName } from './values.js';
import { findTier } from './tiers.js';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

const day: Parse<number> = (value, at, out) => {
  const d = typeof value === 'string' ? DAYS.indexOf(value.toLowerCase().slice(0, 3) as (typeof DAYS)[number]) : -1;
  return d >= 0 && typeof value === 'string' && /^[a-z]+$/i.test(value) ? d : out.error(at, `expected a day of the week (${DAYS.join(', ')}), got ${show(value)}`);
};

/** "HH:MM" (UTC) → minutes after midnight. */
const timeOfDay: Parse<number> = (value, at, out) => {
  const m = typeof value === 'string' ? /^([01]\d|2[0-3]):([0-5]\d)$/.exec(value) : null;
  return m ? Number(m[1]) * 60 + Number(m[2]) : out.error(at, `expected a time of day "HH:MM" (UTC, 24-hour), got ${show(value)}`);
};

/** An ISO 8601 instant with its offset ("2026-12-20T00:00:00Z") → epoch ms. */
const instant: Parse<number> = (value, at, out) => {
  const t = typeof value === 'string' && /(Z|[+-]\d\d:\d\d)$/.test(value) ? Date.parse(value) : value instanceof Date ? value.getTime() : NaN;
  return Number.isFinite(t) ? t : out.error(at, `expected an ISO 8601 instant with its offset, e.g. "2026-12-20T00:00:00Z", got ${show(value)}`);
};

const window: Parse<DrillWindow> = (value, at, out) => {
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  const days = f.get('days', listOf(day, { nonEmpty: true }));
  const start = f.req('start', timeOfDay);
  const end = f.req('end', timeOfDay);
  f.end();
  if (start === undefined || end === undefined) return undefined;
  return { days: days ? [...new Set(values(days))].sort() : [0, 1, 2, 3, 4, 5, 6], start, end };
};

const blocked: Parse<DrillBlocked> = (value, at, out) => {
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  const from = f.req('from', instant);
  const to = f.req('to', instant);
  f.end();
  if (from === undefined || to === undefined) return undefined;
  if (to <= from) return out.error(at, '"to" must be after "from"');
  return { from, to };
};

const name: Parse<string> = matching(/^[A-Za-z0-9_.-]{1,63}$/, 'name');

function schedule(value: unknown, at: string, out: Problems): DrillSchedule | undefined {
  const f = Fields.of(value, at, out);
  if (f === undefined) return undefined;
  const s = {
    tenants: values(f.get('tenants', listOf(name)) ?? []),
    tiers: values(f.get('tiers', listOf(name)) ?? []),
    windows: values(f.get('windows', listOf(window)) ?? []),
    blocked: values(f.get('blocked', listOf(blocked)) ?? []),
    jitter: f.get('jitter', duration({ min: 0 })) ?? 0,
    ...compact<Pick<DrillSchedule, 'every' | 'to' | 'dwell'>>({
      every: f.get('every', duration({ min: 60_000, timer: false })),
      to: f.get('to', name),
      dwell: f.get('dwell', duration({ min: 0 })),
    }),
  } satisfies DrillSchedule;
  if (s.tenants.length === 0 && s.tiers.length === 0) out.error(at, 'a schedule needs "tenants" or "tiers" (or both): which tenants it drills');
  if (s.every === undefined && s.windows.length === 0) out.error(at, 'a schedule needs "every" (an interval) or "windows" (when drills may start), or both');
  f.end();
  return s;
}

function readVerifyLayer(f: Fields | undefined): Partial<DrillVerifyConfig> {
  if (f === undefined) return {};
  const layer = compact<DrillVerifyConfig>({
    path: f.get('path', checkPath),
    host: f.get('host', hostHeader),
    served_by_header: f.get('served_by_header', headerName),
    timeout: f.get('timeout', positiveDuration),
    interval: f.get('interval', positiveDuration),
  });
  f.end();
  return layer;
}

function readGuard(f: Fields | undefined): DrillGuardConfig {
  const g = {
    ...D.DEFAULT_DRILLS.guard,
    ...compact<DrillGuardConfig>({
      max_error_rate: f?.get('max_error_rate', num(0, 1)),
      min_requests: f?.get('min_requests', int(1, 1_000_000)),
      max_p99: f?.get('max_p99', positiveDuration),
    }),
  };
  f?.end();
  return g;
}

export function readDrills(f: Fields | undefined, baseDir: string): DrillsConfig {
  const keyFile = f?.get('signing_key_file', text);
  const drills: DrillsConfig = {
    dwell: f?.get('dwell', duration({ min: 0 })) ?? D.DEFAULT_DRILLS.dwell,
    on_interrupt: f?.get('on_interrupt', oneOf(['failback', 'freeze'] as const)) ?? D.DEFAULT_DRILLS.on_interrupt,
    parallel: f?.get('parallel', int(1, 1000)) ?? D.DEFAULT_DRILLS.parallel,
    verify: { ...D.DEFAULT_DRILLS.verify, ...readVerifyLayer(f?.sub('verify')) },
    guard: readGuard(f?.sub('guard')),
    ...(keyFile !== undefined && { signing_key_file: path.resolve(baseDir, keyFile) }),
    schedules: values(f?.get('schedules', listOf(schedule)) ?? []),
  };
  f?.end();
  return drills;
}

/** A tenant's `drill` section over the defaults of drills.verify. */
export function readTenantDrill(f: Fields | undefined, base: DrillVerifyConfig): DrillVerifyConfig {
  return { ...base, ...readVerifyLayer(f) };
}

/** Schedules name tenants, tiers and target sites that exist. */
export function checkDrillSchedules(drills: DrillsConfig, tenants: readonly TenantConfig[], tiers: Record<string, TierConfig>, out: Problems): void {
  drills.schedules.forEach((s, i) => {
    const at = `drills.schedules[${i}]`;
    s.tenants.forEach((t, k) => {
      if (!tenants.some((x) => x.name === t)) out.error(`${at}.tenants[${k}]`, `no tenant ${show(t)}`);
    });
    s.tiers.forEach((t, k) => {
      const tier = findTier(tiers, t);
      if (tier === undefined) out.error(`${at}.tiers[${k}]`, `unknown tier ${show(t)}; known tiers: ${Object.keys(tiers).join(', ')}`);
      else s.tiers[k] = tier.name;
    });
    if (s.to === undefined) return;
    for (const t of tenants) {
      const chosen = s.tenants.includes(t.name) || s.tiers.includes(t.tier.name);
      if (chosen && !t.sites.some((x) => x.name === s.to)) out.error(`${at}.to`, `tenant ${show(t.name)} has no site ${show(s.to)}`);
    }
  });
}

/**
 * Built-in recovery tiers (design: "Recovery tiers"). Tier names are case-insensitive; the
 * spelling below is the canonical one shown in metrics and reports. `drill_interval`: the
 * longest a tenant of the tier may go without a successful drill (an annual test at least;
 * more often the tighter the tier).
 */
import type { TierConfig } from './types.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
const DAY = 24 * HOUR;

export const BUILTIN_TIERS: ReadonlyArray<Readonly<TierConfig>> = Object.freeze([
  Object.freeze({ name: 'Basic', rpo: 24 * HOUR, rto: 72 * HOUR, drill_interval: 365 * DAY }),
  Object.freeze({ name: 'DR3', rpo: 24 * HOUR, rto: 24 * HOUR, drill_interval: 180 * DAY }),
  Object.freeze({ name: 'DR1', rpo: 24 * HOUR, rto: 4 * HOUR, drill_interval: 90 * DAY }),
  Object.freeze({ name: 'BC', rpo: 15 * MINUTE, rto: 15 * MINUTE, drill_interval: 30 * DAY }),
]);

/** A fresh, mutable table of the built-in tiers keyed by canonical name. */
export function builtinTiers(): Record<string, TierConfig> {
  return Object.fromEntries(BUILTIN_TIERS.map((tier) => [tier.name, { ...tier }]));
}

/** Looks a tier up by name, ignoring case. */
export function findTier(tiers: Readonly<Record<string, TierConfig>>, name: string): TierConfig | undefined {
  const wanted = name.toLowerCase();
  return Object.values(tiers).find((tier) => tier.name.toLowerCase() === wanted);
}

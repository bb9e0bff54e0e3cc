/**
 * Built-in recovery tiers (design: "Recovery tiers"). Tier names are case-insensitive; the
 * spelling below is the canonical one shown in metrics and reports.
 */
import type { TierConfig } from './types.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;

export const BUILTIN_TIERS: ReadonlyArray<Readonly<TierConfig>> = Object.freeze([
  Object.freeze({ name: 'Basic', rpo: 24 * HOUR, rto: 72 * HOUR }),
  Object.freeze({ name: 'DR3', rpo: 24 * HOUR, rto: 24 * HOUR }),
  Object.freeze({ name: 'DR1', rpo: 24 * HOUR, rto: 4 * HOUR }),
  Object.freeze({ name: 'BC', rpo: 15 * MINUTE, rto: 15 * MINUTE }),
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

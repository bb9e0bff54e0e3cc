/**
 * The `safety` section (docs/safety.md): the fleet breaker of automatic flips.
 *
 *   safety:
 *     max_auto_failovers: { count: 10, window: 60s, action: confirm }   # or percent: 20
 */
import type { SafetyConfig } from './types.js';
import type { BreakerRule } from '../safety/breaker.js';
import * as D from './defaults.js';
import { Fields, int, num, oneOf, positiveDuration } from './fields.js';

function readBreaker(f: Fields | undefined): BreakerRule | undefined {
  if (f === undefined) return undefined;
  const count = f.get('count', int(1, 1_000_000));
  const percent = f.get('percent', num(0.01, 100));
  const window = f.get('window', positiveDuration) ?? D.DEFAULT_SAFETY_BREAKER.window;
  const action = f.get('action', oneOf(['proceed', 'confirm'] as const)) ?? D.DEFAULT_SAFETY_BREAKER.action;
  const countGiven = f.has('count');
  const percentGiven = f.has('percent');
  f.end();
  if (countGiven === percentGiven) return f.out.error(f.at, 'give exactly one of "count" (automatic flips) or "percent" (of the tenants) per window');
  if (count === undefined && percent === undefined) return undefined;
  return { ...(count !== undefined ? { count } : { percent: percent! }), window, action };
}

export function readSafety(f: Fields | undefined): SafetyConfig {
  const max = readBreaker(f?.sub('max_auto_failovers'));
  f?.end();
  return { ...(max && { max_auto_failovers: max }) };
}

/**
 * Durations in the config file are strings with a unit ("500ms", "1s", "15m", "24h", "1.5h"),
 * parsed with the `ms` package. A bare number or a unit-less string is rejected on purpose:
 * "timeout: 5" is ambiguous (seconds? milliseconds?) and a classic source of outages.
 */
import ms from 'ms';

/** A non-negative decimal number followed by a unit word; `ms` decides whether the unit exists. */
const NUMBER_WITH_UNIT = /^(?:\d+(?:\.\d+)?|\.\d+) ?[a-z]+$/i;

/** Longest delay a Node timer can take; longer ones fire at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Parses a duration string to whole milliseconds; `undefined` when it is not a valid duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length > 100 || !NUMBER_WITH_UNIT.test(text)) return undefined;
  // ms() returns undefined (despite its typings) when the unit is unknown.
  const result: number | undefined = ms(text as ms.StringValue);
  if (typeof result !== 'number' || !Number.isFinite(result) || result < 0) return undefined;
  return Math.round(result);
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/** Exact, compact text for a number of milliseconds: 5400000 → "90m", 1500 → "1500ms". */
export function formatDuration(milliseconds: number): string {
  if (milliseconds === 0) return '0s';
  for (const [unit, size] of UNITS) {
    if (milliseconds % size === 0) return `${milliseconds / size}${unit}`;
  }
  return `${milliseconds}ms`;
}

/**
 * The shape of the CLI's `--json` output: one naming style, one time format, one duration unit,
 * whatever the admin API or the control plane's records (camelCase flip records, epoch-ms
 * timings, seconds in status) happen to use. Scripts read one convention:
 *
 *   - keys are snake_case (`durationMs` → `duration_ms`, `timings.routedAt` → `timings.routed_at`);
 *   - instants (keys ending `_at`) are ISO 8601 strings in UTC; an unknown instant is null;
 *   - durations are milliseconds (keys ending `_ms`), at most two decimals, never float noise
 *     (`12.34`, not `12.340000000001`); `*_seconds` become `*_ms`;
 *   - ratios (keys ending `_ratio`) keep six significant digits.
 */

/** `durationMs` → `duration_ms`, `rto_seconds` stays, `HTTPStatus` → `http_status`. */
export function snakeCase(key: string): string {
  return key
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/** Milliseconds with at most two decimals: 12.340000000001 → 12.34. */
export function fixedMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** An instant as ISO 8601 (UTC): epoch milliseconds or a parseable date string; null if unknown. */
export function isoInstant(v: unknown): string | null {
  if (typeof v === 'number') return Number.isFinite(v) && v > 0 ? new Date(v).toISOString() : null;
  if (typeof v === 'string' && v !== '') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? v : new Date(t).toISOString();
  }
  return null;
}

/** One key/value pair of the output, reshaped: possibly renamed, its value normalised. */
function entry(rawKey: string, value: unknown): [string, unknown] {
  const key = snakeCase(rawKey);
  if (key.endsWith('_at') && (typeof value === 'number' || typeof value === 'string')) return [key, isoInstant(value)];
  if (typeof value === 'number' && Number.isFinite(value)) {
    if (key.endsWith('_ms')) return [key, fixedMs(value)];
    if (key.endsWith('_seconds')) return [`${key.slice(0, -'_seconds'.length)}_ms`, fixedMs(value * 1000)];
    if (key.endsWith('_ratio')) return [key, Number(value.toPrecision(6))];
  }
  return [key, cliJson(value)];
}

/** The value reshaped for `--json` output (see the file comment); arrays and nested objects too. */
export function cliJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(cliJson);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => entry(k, v)));
}

/** The text printed by `--json`: the reshaped value, indented, one trailing newline. */
export function cliJsonText(value: unknown): string {
  return `${JSON.stringify(cliJson(value), null, 2)}\n`;
}

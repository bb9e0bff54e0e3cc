/**
 * `access_log`: whether and where drproxy writes one JSON line per request (src/proxy/access-log.ts).
 *
 *   access_log: { mode: sampled, sample_rate: 0.05, destination: /var/log/drproxy/access.log }
 */
import path from 'node:path';
import type { AccessLogConfig } from './types.js';
import * as D from './defaults.js';
import { Problems, Fields, compact, bool, int, num, oneOf, show, type Parse } from './fields.js';

export const ACCESS_LOG_MODES = ['off', 'sampled', 'all'] as const;

/** "stdout", or a file path (made absolute against the config file's directory). */
function destination(baseDir: string): Parse<string> {
  return (value, at, out) => {
    if (typeof value !== 'string' || value.trim() === '') return out.error(at, `expected "stdout" or a file path, got ${show(value)}`);
    const v = value.trim();
    if (v === 'stdout') return v;
    if (v === 'stderr' || v.endsWith('/')) return out.error(at, `expected "stdout" or a file path, got ${show(value)}`);
    return path.resolve(baseDir, v);
  };
}

/** YAML 1.1 habits: `mode: false` means off, `mode: true` all. */
const mode: Parse<AccessLogConfig['mode']> = (value, at, out) => (typeof value === 'boolean' ? (value ? 'all' : 'off') : oneOf(ACCESS_LOG_MODES)(value, at, out));

export function readAccessLog(f: Fields | undefined, baseDir: string, out: Problems): AccessLogConfig {
  if (f === undefined) return { ...D.DEFAULT_ACCESS_LOG };
  const c: AccessLogConfig = {
    ...D.DEFAULT_ACCESS_LOG,
    ...compact<AccessLogConfig>({
      mode: f.get('mode', mode),
      sample_rate: f.get('sample_rate', num(0, 1)),
      destination: f.get('destination', destination(baseDir)),
      include_query: f.get('include_query', bool),
      max_buffer: f.get('max_buffer', int(64 * 1024, 1024 * 1024 * 1024)),
    }),
  };
  if (f.has('sample_rate') && c.sample_rate === 0) out.error(f.path('sample_rate'), 'must be more than 0 (to log nothing, set mode: off)');
  f.end();
  return c;
}

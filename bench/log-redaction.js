/**
 * Cost of one log line with pino's redaction: drproxy's explicit paths against the wildcard
 * paths it used before (`*.token`, `*.headers.authorization`, …) and no redaction at all, on
 * a failover audit record. Prints µs per line (median of 5 runs of 5,000 lines).
 *
 *   node bench/log-redaction.js
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { REDACT_PATHS } from '../dist/log.js';

const WILDCARDS = ['token', '*.token', 'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie', 'req.headers.authorization', 'req.headers.cookie', 'cookie', '*.cookie'];
const record = {
  event: 'failover', tenant: 'acme', tier: 'BC', from: 'primary', to: 'backup', epoch: 2, trigger: 'health',
  reason: 'site primary unavailable (0/2 backends up, 1 needed)', result: 'routed',
  drain: { inflight: 3, redispatched: 3, finished: 0, cut: 0, upgrades: 0, durationMs: 1 },
  timings: { detectedAt: 1, trippedAt: 2, persistedAt: 3, drainedAt: 4, fencedAt: 5, promotedAt: 6, routedAt: 7 },
  durationMs: 6, rtoMs: 900000,
};
const sink = new Writable({ write: (_c, _e, cb) => cb() });
const rows = [];
for (const [name, paths] of [['explicit paths (drproxy)', REDACT_PATHS], ['wildcard paths (before)', WILDCARDS], ['no redaction', null]]) {
  const log = pino({ base: { service: 'drproxy' }, ...(paths ? { redact: { paths, censor: '[redacted]' } } : {}) }, sink).child({ component: 'tenant', tenant: 'acme' });
  for (let i = 0; i < 2000; i++) log.warn(record, 'failover');
  const runs = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < 5000; i++) log.warn(record, 'failover');
    runs.push(((performance.now() - t) * 1000) / 5000);
  }
  runs.sort((a, b) => a - b);
  rows.push(`| ${name} | ${runs[2].toFixed(1)} |`);
}
process.stdout.write(`| redaction | µs per log line (median of 5) |\n|---|---:|\n${rows.join('\n')}\n`);

/**
 * The rapid-reset defence's counter, on the main registry: HTTP/2 connections closed because
 * their client cancelled too many streams. Read from a process-wide tally at scrape, so the data
 * plane only increments a number (src/proxy/h2-resets.ts).
 */
import type { Registry } from 'prom-client';
import { rapidResetStats } from './proxy/h2-resets.js';
import { tallyCounter } from './fault-metrics.js';

export function registerH2ResetMetrics(registry: Registry): void {
  tallyCounter(
    registry,
    'drproxy_http2_rapid_reset_total',
    'HTTP/2 client connections sent GOAWAY ENHANCE_YOUR_CALM and closed for cancelling more than server.http2.max_resets streams within reset_window (CVE-2023-44487)',
    () => rapidResetStats.sessionsClosed,
  );
}

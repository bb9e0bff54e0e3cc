/**
 * drproxy_request_duration_seconds is counted in plain arrays (src/request-latency.ts), not by
 * prom-client's Histogram. These tests hold it to prom-client's own output: the same
 * observations must give the same exposition, byte for byte, in both formats.
 */
import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { Metrics, REQUEST_BUCKETS } from '../src/metrics.js';
import { parseExposition, value } from './helpers/prom.js';

/** Values on, between, below and above the bounds, in seconds. */
const VALUES = [0, 0.0001, 0.0005, 0.00050001, 0.001, 0.003, 0.0099, 0.01, 0.2, 1, 2.5, 29.9, 30, 31, 1e6];

function reference(contentType?: string): { registry: Registry; h: Histogram<'tenant'> } {
  const registry = new Registry();
  if (contentType) registry.setContentType(contentType as never);
  const h = new Histogram({ name: 'drproxy_request_duration_seconds', help: 'Time from request to the end of the answer (at tenant detail: fleet-wide, without tenant)', labelNames: ['tenant'], buckets: REQUEST_BUCKETS, registers: [registry] });
  return { registry, h };
}

/** The request-duration family of an exposition. */
function family(text: string): string {
  const lines = text.split('\n').filter((l) => /^(# (HELP|TYPE) )?drproxy_request_duration_seconds[_{ ]/.test(l));
  expect(lines.length).toBeGreaterThan(2);
  return lines.join('\n');
}

describe('request latency histogram', () => {
  it('exposes the same text as a prom-client Histogram fed the same values', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const { registry, h } = reference();
    for (const tenant of ['acme', 'beta']) {
      const t = m.trafficOf(tenant);
      for (const v of VALUES) {
        t.done(200, v);
        h.observe({ tenant }, v);
      }
    }
    // A tenant with no request yet: both show zeroed series once it exists.
    m.trafficOf('idle');
    h.zero({ tenant: 'idle' });
    expect(family(await m.text())).toBe(family(await registry.metrics()));
  });

  it('counts a value equal to a bound in that bound (le is "less than or equal")', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.trafficOf('acme').done(200, 0.005);
    const e = parseExposition(await m.text());
    expect(value(e, 'drproxy_request_duration_seconds_bucket', { tenant: 'acme', le: '0.0025' })).toBe(0);
    expect(value(e, 'drproxy_request_duration_seconds_bucket', { tenant: 'acme', le: '0.005' })).toBe(1);
    expect(value(e, 'drproxy_request_duration_seconds_bucket', { tenant: 'acme', le: '+Inf' })).toBe(1);
    expect(value(e, 'drproxy_request_duration_seconds_sum', { tenant: 'acme' })).toBe(0.005);
  });

  it('is the same in OpenMetrics format, and JSON shows it as a histogram', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    const { registry, h } = reference(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const v of VALUES) {
      m.trafficOf('acme').done(200, v);
      h.observe({ tenant: 'acme' }, v);
    }
    expect(family(await m.text())).toBe(family(await registry.metrics()));
    const json = (await m.registry.getMetricsAsJSON()).find((x) => x.name === 'drproxy_request_duration_seconds')!;
    expect(json.type).toBe('histogram');
    expect(json.values.filter((v) => (v as { metricName?: string }).metricName === 'drproxy_request_duration_seconds_count')).toEqual([
      expect.objectContaining({ labels: { tenant: 'acme' }, value: VALUES.length }),
    ]);
  });

  it('drops a removed tenant’s series', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.trafficOf('acme').done(200, 0.001);
    m.trafficOf('gone').done(200, 0.001);
    m.removeTenant({ name: 'gone' } as never);
    const e = parseExposition(await m.text());
    expect(value(e, 'drproxy_request_duration_seconds_count', { tenant: 'acme' })).toBe(1);
    expect(value(e, 'drproxy_request_duration_seconds_count', { tenant: 'gone' })).toBeUndefined();
  });
});

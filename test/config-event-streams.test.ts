/** admin.max_event_streams (GET /events): its default, values, and errors that name the exact path. */
import { describe, expect, it } from 'vitest';
import { validateConfig, type ConfigProblem } from '../src/config/index.js';

function check(admin: unknown): { problems: ConfigProblem[]; admin?: Record<string, unknown> } {
  const tenants = { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://10.0.1.10:8080'] }] } };
  const { config, problems } = validateConfig(admin === undefined ? { tenants } : { admin, tenants }, { baseDir: '/etc/drproxy' });
  return { problems, ...(config && { admin: config.admin as unknown as Record<string, unknown> }) };
}

describe('admin.max_event_streams', () => {
  it('defaults to 64', () => {
    expect(check(undefined).admin?.max_event_streams).toBe(64);
    expect(check({ metrics_auth: true }).admin?.max_event_streams).toBe(64);
  });

  it('takes 0 (no /events) up to 10,000', () => {
    expect(check({ max_event_streams: 0 }).admin?.max_event_streams).toBe(0);
    expect(check({ max_event_streams: 8 }).admin?.max_event_streams).toBe(8);
  });

  it('rejects a bad value at its path', () => {
    for (const bad of [-1, 10_001, 2.5, 'many']) {
      const { problems, admin } = check({ max_event_streams: bad });
      expect(admin, String(bad)).toBeUndefined();
      expect(problems.filter((p) => p.path === 'admin.max_event_streams' && p.severity === 'error'), JSON.stringify(problems)).toHaveLength(1);
    }
  });

  it('warns when above admin.max_connections: streams could take every admin connection', () => {
    const { problems, admin } = check({ max_connections: 16, max_event_streams: 32 });
    expect(admin?.max_event_streams).toBe(32);
    expect(problems).toContainEqual(expect.objectContaining({ path: 'admin.max_event_streams', severity: 'warning', message: expect.stringMatching(/above max_connections \(16\)/) }));
    expect(check({ max_connections: 16, max_event_streams: 16 }).problems.filter((p) => p.path === 'admin.max_event_streams')).toEqual([]);
    // Left at its default, it says nothing: fewer connections simply leave room for fewer streams.
    expect(check({ max_connections: 16 }).problems.filter((p) => p.path === 'admin.max_event_streams')).toEqual([]);
  });
});

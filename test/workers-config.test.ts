/**
 * `server.workers` (docs/design.md, "Every core: threads"): an integer ≥ 0 or `auto`, 0 by
 * default (the inline data plane), path-named errors, restart-only on reload; and what a setting
 * means on a given Node (`auto` = cores up to 8; more than one worker clamped to one without
 * reusePort).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';
import { AUTO_MAX_WORKERS, hasReusePort, workerCount } from '../src/workers/worker-count.js';
import { startProxy, type TestProxy } from './helpers/proxy.js';

const tenants = { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }] } };

function problemsAt(server: unknown): string[] {
  const { problems } = validateConfig({ server, tenants }, { baseDir: '/etc/drproxy' });
  return problems.filter((p) => p.path === 'server.workers').map((p) => p.message);
}

let p: TestProxy | undefined;
afterAll(async () => {
  await p?.stop();
});

describe('server.workers', () => {
  it('is auto by default and takes an integer or auto', () => {
    expect(validateConfig({ tenants }, { baseDir: '/' }).config!.server.workers).toBe('auto');
    expect(validateConfig({ server: { workers: 'auto' }, tenants }, { baseDir: '/' }).config!.server.workers).toBe('auto');
    expect(validateConfig({ server: { workers: 3 }, tenants }, { baseDir: '/' }).config!.server.workers).toBe(3);
  });

  it('refuses anything else, naming the path', () => {
    for (const bad of [-1, 1.5, 'many', true, 1000]) {
      const msgs = problemsAt({ workers: bad });
      expect(msgs, String(bad)).toHaveLength(1);
      expect(msgs[0]).toContain('must be an integer from 0 to 256 or auto');
    }
  });

  it('auto is a worker a core but one, up to 8; more than one worker needs reusePort (Node >= 22.12)', () => {
    expect(workerCount('auto', '26.1.0', 16)).toEqual({ count: AUTO_MAX_WORKERS });
    expect(workerCount('auto', '26.1.0', 4)).toEqual({ count: 3 });
    expect(workerCount('auto', '26.1.0', 2)).toEqual({ count: 1 });
    expect(workerCount('auto', '26.1.0', 1)).toEqual({ count: 0 });
    // auto means what this Node can: one worker without reusePort, and no warning.
    expect(workerCount('auto', '20.20.2', 4)).toEqual({ count: 1 });
    expect(workerCount('auto', '20.20.2', 1)).toEqual({ count: 0 });
    expect(workerCount(0, '20.20.2', 4)).toEqual({ count: 0 });
    expect(workerCount(1, '20.20.2', 4)).toEqual({ count: 1 });
    expect(workerCount(2, '22.12.0', 4)).toEqual({ count: 2 });
    const clamped = workerCount(3, '20.20.2', 4);
    expect(clamped.count).toBe(1);
    expect(clamped.clamped).toContain('Node 20.20.2 has no reusePort');
    expect([hasReusePort('22.11.0'), hasReusePort('22.12.0'), hasReusePort('23.0.0'), hasReusePort('23.1.0'), hasReusePort('24.0.0')]).toEqual([false, true, false, true, true]);
  });

  it('cannot change on reload: the reload is refused and names it', async () => {
    p = await startProxy({ tenants });
    expect(p.proxy.threads).toBeUndefined();
    const cur = p.proxy.currentConfig;
    const r = await p.proxy.apply({ ...cur, server: { ...cur.server, workers: 2 } });
    expect(r.ok).toBe(false);
    expect(r.ok === false && r.problems.map((x) => x.path)).toContain('server.workers');
    expect(p.proxy.currentConfig.server.workers).toBe(0);
  });
});

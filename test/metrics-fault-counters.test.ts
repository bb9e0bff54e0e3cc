/**
 * Issue 17 item 5, the fleet-level fault counters: drproxy_state_commit_failures_total (a
 * commit the store refused), drproxy_audit_records_dropped_total (records lost, not the
 * refused intents) and drproxy_probes_inconclusive_total (each shared probe counted once,
 * never going down when a check leaves at a reload).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, FAST_CHECKS, type TestProxy, sitesHealthy, twoSiteTenant, tempDir } from './helpers/proxy.js';
import { parseExposition, value } from './helpers/prom.js';
import { Metrics } from '../src/metrics.js';
import { CheckTally } from '../src/health/active-check.js';
import { FaultMetrics } from '../src/fault-metrics.js';
import { AuditLog } from '../src/admin/audit.js';
import type { StateStore, TenantState } from '../src/state/types.js';

/** An in-memory store whose commits fail while `failing` is set (as a full disk would). */
class FlakyStore implements StateStore {
  readonly kind = 'file' as const;
  failing = false;
  private readonly states = new Map<string, TenantState>();
  async open(): Promise<void> {}
  async load(tenant: string): Promise<TenantState | undefined> {
    return this.states.get(tenant);
  }
  async commit(next: TenantState): Promise<void> {
    if (this.failing) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    this.states.set(next.tenant, next);
  }
  watch(): () => void {
    return () => {};
  }
  async close(): Promise<void> {}
}

describe('drproxy_state_commit_failures_total', () => {
  let a1: Upstream, b1: Upstream;
  let p: TestProxy;
  const store = new FlakyStore();
  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({ defaults: { health_check: FAST_CHECKS }, tenants: { acme: twoSiteTenant('acme.example.com', a1, b1) } }, { store });
    await sitesHealthy(p, 'acme');
  });
  afterAll(async () => {
    await p?.stop();
    await stopAll(a1, b1);
  });

  it('counts a commit the store refused', async () => {
    const read = async (): Promise<number | undefined> => value(parseExposition(await p.proxy.metrics.text()), 'drproxy_state_commit_failures_total');
    expect(await read()).toBe(0);
    store.failing = true;
    const t = p.proxy.tenant('acme')!;
    await expect(t.fence(t.state.active === 'a1' ? 'b1' : 'a1', { reason: 'test', actor: 't' })).rejects.toThrow(/ENOSPC/);
    expect(await read()).toBe(1);
    store.failing = false;
  });
});

describe('drproxy_audit_records_dropped_total', () => {
  it('counts records lost, not intents refused', async () => {
    const registry = new Registry();
    const faults = new FaultMetrics(registry);
    // A directory is no file to append to: every write fails (EISDIR).
    const audit = new AuditLog(pino({ level: 'silent' }), { file: await tempDir(), onWriteError: (kind) => faults.auditWriteError(kind) });
    const dropped = async (): Promise<number | undefined> => value(parseExposition(await registry.metrics()), 'drproxy_audit_records_dropped_total');
    expect(await dropped()).toBe(0);
    audit.event({ event: 'state', tenant: 'acme' }, 'state change');
    expect(await dropped()).toBe(1);
    expect(() => audit.intent({ action: 'failover', actor: 'op', remote: '127.0.0.1' } as never)).toThrow();
    expect(await dropped()).toBe(1);
    expect(value(parseExposition(await registry.metrics()), 'drproxy_audit_write_errors_total', { record: 'intent' })).toBe(1);
    audit.close();
  });
});

describe('drproxy_probes_inconclusive_total', () => {
  it('counts each shared probe once and never goes down', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const shared = new CheckTally();
    const own = new CheckTally();
    let sites = [
      { tenant: 'acme', site: 'a', tallies: [shared] },
      { tenant: 'beta', site: 'a', tallies: [shared, own] },
    ];
    m.setCheckSource(() => sites);
    const read = async (): Promise<number | undefined> => value(parseExposition(await m.text()), 'drproxy_probes_inconclusive_total');
    expect(await read()).toBe(0);
    shared.add({ ok: false, inconclusive: true, durationMs: 1 } as never);
    own.add({ ok: false, inconclusive: true, durationMs: 1 } as never);
    expect(await read()).toBe(2);
    sites = [{ tenant: 'acme', site: 'a', tallies: [shared] }]; // beta removed by a reload
    expect(await read()).toBe(2);
    shared.add({ ok: false, inconclusive: true, durationMs: 1 } as never);
    expect(await read()).toBe(3);
  });
});

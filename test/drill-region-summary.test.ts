/**
 * Region drill bookkeeping (src/drill/region.ts) with a drill service the test drives: at most
 * `parallel` drills at once, the summary stored as each starts and ends, refusals listed, a stop
 * in the middle ends the summary `interrupted`, and a summary left `running` by a killed process
 * is marked interrupted at start-up. (The real drills: test/drill-region.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { RegionDrills, type RegionTenant } from '../src/drill/region.js';
import { DrillRefusedError } from '../src/drill/errors.js';
import { skippedReport } from '../src/drill/skipped.js';
import type { DrillReport, DrillRequest, RegionDrillReport } from '../src/drill/types.js';
import { MemoryDrillStore } from './helpers/drill-memory-store.js';
import { waitFor } from './helpers/poll.js';

const TIER = { name: 'BC', rpo: 900_000, rto: 900_000, drill_interval: 1 };
const tenant = (name: string, region: string): RegionTenant =>
  ({ name, config: { tier: TIER, sites: [{ name: 'a', region }, { name: 'b', region: 'B' }] }, state: { active: 'a' } }) as unknown as RegionTenant;

/** Drills that end when the test says (finish), or are refused at start. */
class Service {
  readonly running = new Map<string, (r: DrillReport) => void>();
  private readonly ends = new Map<string, Promise<DrillReport>>();
  max = 0;
  refuse = new Set<string>();
  start(req: DrillRequest): Promise<DrillReport> {
    if (this.refuse.has(req.tenant)) return Promise.reject(new DrillRefusedError(req.tenant, [{ code: 'unavailable', message: 'down', site: 'b' }], `drill-x-${req.tenant}`));
    const r = { ...skippedReport({ req, reasons: [], tier: TIER, from: 'a', epoch: 1, now: Date.now(), dwellMs: 0 }), status: 'running' as const };
    this.ends.set(r.id, new Promise((resolve) => this.running.set(r.id, resolve)));
    this.max = Math.max(this.max, this.running.size);
    return Promise.resolve(r);
  }
  done(id: string): Promise<DrillReport> {
    return this.ends.get(id)!;
  }
  finish(rto: number): void {
    const [id, resolve] = [...this.running][0]!;
    this.running.delete(id);
    resolve({ id, status: 'passed', measured_rto_ms: rto, rto_ms: TIER.rto, reasons: [] } as unknown as DrillReport);
  }
}

function setup(tenants: RegionTenant[], service: Service, store = new MemoryDrillStore()) {
  const regions = new RegionDrills({ service, store, tenants: () => tenants, defaults: () => ({ parallel: 2, dwell: 0 }), now: Date.now, log: pino({ level: 'silent' }) });
  return { regions, store };
}

describe('region drill summary', () => {
  it('runs at most parallel at once, lists refusals, and stores the summary as it goes', async () => {
    const s = new Service();
    s.refuse.add('t2');
    const tenants = ['t1', 't2', 't3', 't4', 't5'].map((t) => tenant(t, 'A')).concat([tenant('z', 'B')]);
    const { regions, store } = setup(tenants, s);
    const started = await regions.start({ region: 'A', failback: true, reason: 'r', actor: 'ops' });
    expect(started.parallel).toBe(2);
    await waitFor(() => s.running.size === 2, { what: 'two drills running' });
    // t2 was refused at once and listed; the summary in the store says so while the others run.
    await waitFor(async () => ((await store.get(started.id)) as RegionDrillReport).tenants.some((t) => t.tenant === 't2' && t.status === 'refused'), { what: 't2 listed' });
    s.finish(300);
    await waitFor(() => s.running.size === 2, { what: 'the next drill' });
    s.finish(100);
    s.finish(700);
    await waitFor(() => s.running.size === 1, { what: 'the last drill' });
    s.finish(200);
    const r = await regions.done(started.id);
    expect(s.max).toBe(2);
    expect(r.status).toBe('failed');
    expect(r.tenants.map((t) => t.tenant).sort()).toEqual(['t1', 't2', 't3', 't4', 't5']);
    expect(r.tenants.find((t) => t.tenant === 't2')).toMatchObject({ status: 'refused', drill_id: 'drill-x-t2', reasons: [{ code: 'unavailable', site: 'b' }] });
    expect(r.summary).toMatchObject({ total: 5, passed: 4, failed: 1, slowest: { measured_rto_ms: 700 } });
    expect(await store.get(started.id)).toMatchObject({ status: 'failed', summary: r.summary });
  });

  it('a stop in the middle starts no further tenant and ends the summary interrupted; a killed one is recovered', async () => {
    const s = new Service();
    const { regions, store } = setup(['t1', 't2', 't3', 't4'].map((t) => tenant(t, 'A')), s);
    const started = await regions.start({ region: 'A', failback: true, reason: 'r', actor: 'ops' });
    await waitFor(() => s.running.size === 2, { what: 'two drills running' });
    const stopped = regions.stop();
    s.finish(10);
    s.finish(20);
    await stopped;
    const r = (await store.get(started.id)) as RegionDrillReport;
    expect(r.status).toBe('interrupted');
    expect(r.tenants).toHaveLength(2);
    expect(s.running.size).toBe(0);

    // A summary left running (the process was killed): marked interrupted at the next start.
    const left = { ...r, id: 'region-left', status: 'running' as const, tenants: [{ ...r.tenants[0]!, status: 'running' as const, passed: false }] };
    delete (left as Partial<RegionDrillReport>).ended_at;
    await store.put(left);
    const again = setup([], new Service(), store);
    expect((await again.regions.recoverInterrupted()).map((x) => x.id)).toEqual(['region-left']);
    expect(await store.get('region-left')).toMatchObject({ status: 'interrupted', tenants: [{ status: 'interrupted', reasons: [{ code: 'interrupted' }] }] });
  });
});

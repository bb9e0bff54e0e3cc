/** The fleet view's ordering, filtering, paging and event application (src/console/web/fleet-order.ts). */
import { describe, expect, it } from 'vitest';
import { applyChanges, countPhases, facets, filterTenants, NO_FILTER, orderTenants, pageOf, rank } from '../src/console/web/fleet-order.js';
import type { TenantSummary } from '../src/console/web/model.js';

function t(name: string, o: Partial<TenantSummary> = {}): TenantSummary {
  const active = o.active ?? 'a1';
  return { name, tier: 'BC', phase: 'active', epoch: 1, active, preferred: 'a1', off_preferred: active !== (o.preferred ?? 'a1'), regions: ['eu'], fenced: [], sites_available: 2, sites: 2, ...o };
}

describe('fleet ordering', () => {
  it('frozen first, then off their preferred site (or mid-flip), then the rest; by name within each', () => {
    const list = [
      t('zeta'),
      t('beta', { active: 'b1' }),
      t('alpha'),
      t('omega', { phase: 'frozen', frozen_cause: 'fence failed' }),
      t('gamma', { phase: 'failing_over' }),
      t('delta', { phase: 'frozen', active: 'b1' }),
    ];
    expect(orderTenants(list).map((x) => x.name)).toEqual(['delta', 'omega', 'beta', 'gamma', 'alpha', 'zeta']);
    expect(list.map(rank)).toEqual([2, 1, 2, 0, 1, 0]);
  });

  it('does not reorder its input', () => {
    const list = [t('b'), t('a')];
    orderTenants(list);
    expect(list.map((x) => x.name)).toEqual(['b', 'a']);
  });
});

describe('fleet filters', () => {
  const list = orderTenants([
    t('acme', { tier: 'BC', regions: ['eu-west', 'eu-central'] }),
    t('globex', { tier: 'DR1', regions: ['us-east'], active: 'g2', preferred: 'g1', off_preferred: true }),
    t('initech', { tier: 'DR1', regions: ['us-east', 'eu-west'], phase: 'frozen', frozen_cause: 'no site available' }),
    t('umbrella', { tier: 'Basic', regions: ['ap-south'] }),
  ]);
  const names = (f: Partial<typeof NO_FILTER>) => filterTenants(list, { ...NO_FILTER, ...f }).map((x) => x.name);

  it('no filter keeps everything, in order', () => {
    expect(names({})).toEqual(['initech', 'globex', 'acme', 'umbrella']);
  });

  it('tier, region (any of its sites) and phase', () => {
    expect(names({ tier: 'DR1' })).toEqual(['initech', 'globex']);
    expect(names({ region: 'eu-west' })).toEqual(['initech', 'acme']);
    expect(names({ phase: 'frozen' })).toEqual(['initech']);
    expect(names({ phase: 'active' })).toEqual(['globex', 'acme', 'umbrella']);
    expect(names({ phase: 'off_preferred' })).toEqual(['globex']);
    expect(names({ tier: 'DR1', region: 'eu-west' })).toEqual(['initech']);
  });

  it('search: every word, case-insensitive, in the name, tier, sites or frozen cause', () => {
    expect(names({ search: 'GLO' })).toEqual(['globex']);
    expect(names({ search: 'g2' })).toEqual(['globex']);
    expect(names({ search: '  no   site ' })).toEqual(['initech']);
    expect(names({ search: 'acme dr1' })).toEqual([]);
    expect(names({ search: 'basic' })).toEqual(['umbrella']);
  });

  it('facets: the tiers and regions present, sorted, without repeats', () => {
    expect(facets(list)).toEqual({ tiers: ['BC', 'Basic', 'DR1'], regions: ['ap-south', 'eu-central', 'eu-west', 'us-east'] });
  });
});

describe('paging', () => {
  const rows = Array.from({ length: 250 }, (_, i) => i);
  it('slices pages of the given size and clamps the page number', () => {
    expect(pageOf(rows, 0, 100)).toMatchObject({ page: 0, pages: 3, first: 0, total: 250 });
    expect(pageOf(rows, 2, 100).items).toEqual(rows.slice(200));
    expect(pageOf(rows, 9, 100)).toMatchObject({ page: 2, first: 200 });
    expect(pageOf(rows, -1, 100)).toMatchObject({ page: 0 });
    expect(pageOf([], 3, 100)).toMatchObject({ page: 0, pages: 1, items: [], total: 0 });
  });

  it('5,000 tenants: order, filter and slice one page in well under a frame', () => {
    const big = Array.from({ length: 5000 }, (_, i) => t(`tenant-${String(i).padStart(4, '0')}`, { phase: i % 97 === 0 ? 'frozen' : 'active', active: i % 13 === 0 ? 'b1' : 'a1', regions: [`r${i % 7}`] }));
    const t0 = performance.now();
    const slice = pageOf(filterTenants(orderTenants(big), { ...NO_FILTER, region: 'r3' }), 0, 100);
    const ms = performance.now() - t0;
    expect(slice.items).toHaveLength(100);
    expect(slice.items[0]!.phase).toBe('frozen');
    expect(ms).toBeLessThan(100);
  });
});

describe('events', () => {
  it('a tenants event replaces summaries and removes the tenants gone', () => {
    const byName = new Map([t('a'), t('b'), t('c')].map((x) => [x.name, x]));
    const changed = applyChanges(byName, { tenants: [t('b', { epoch: 2, active: 'b1' }), t('d')], removed: ['c', 'zz'] });
    expect(changed).toEqual(['b', 'd', 'c']);
    expect([...byName.keys()].sort()).toEqual(['a', 'b', 'd']);
    expect(byName.get('b')).toMatchObject({ epoch: 2, off_preferred: true });
  });

  it('counts by phase', () => {
    expect(countPhases([t('a'), t('b', { phase: 'frozen', active: 'b1' }), t('c', { phase: 'failing_over' })])).toEqual({ active: 1, frozen: 1, failing_over: 1, off_preferred: 1, total: 3 });
  });
});

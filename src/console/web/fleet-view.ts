/**
 * The fleet view: counts by phase, filters, and one page of the ordered tenants. The skeleton
 * (form, table) is built once; updates replace only the counts and the rows, so that focus
 * stays in the search box while events arrive. At most PAGE_SIZE rows exist at a time.
 */
import { h, fill } from './dom.js';
import { facets, filterTenants, NO_FILTER, PAGE_SIZE, pageOf, rank, type FleetFilter } from './fleet-order.js';
import type { TenantSummary } from './model.js';
import type { Store } from './store.js';
import { ago } from './format.js';

const PHASES: Array<[FleetFilter['phase'], string]> = [
  ['', 'All phases'],
  ['frozen', 'Frozen'],
  ['failing_over', 'Failing over'],
  ['active', 'Active'],
  ['off_preferred', 'Off preferred site'],
];

export class FleetView {
  readonly el: HTMLElement;
  private filter: FleetFilter = { ...NO_FILTER };
  private page = 0;
  private facetKey = '';
  private readonly counts = h('ul', { class: 'counts', 'aria-label': 'Tenants by phase' });
  private readonly banner = h('div', { class: 'banner-slot' });
  private readonly tier = h('select', { id: 'f-tier', name: 'tier' });
  private readonly region = h('select', { id: 'f-region', name: 'region' });
  private readonly phase = h('select', { id: 'f-phase', name: 'phase' }, ...PHASES.map(([v, l]) => h('option', { value: v }, l)));
  private readonly search = h('input', { id: 'f-search', name: 'search', type: 'search', autocomplete: 'off', spellcheck: 'false' });
  private readonly body = h('tbody');
  private readonly pager = h('nav', { class: 'pager', 'aria-label': 'Pages of tenants' });
  private readonly summary = h('p', { class: 'table-summary', id: 'fleet-summary', 'aria-live': 'polite' });

  constructor(private readonly store: Store) {
    const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Filter tenants' },
      field('f-search', 'Search', this.search),
      field('f-tier', 'Tier', this.tier),
      field('f-region', 'Region', this.region),
      field('f-phase', 'Phase', this.phase),
    );
    form.addEventListener('submit', (e) => e.preventDefault());
    const onFilter = () => {
      this.filter = { search: this.search.value, tier: this.tier.value, region: this.region.value, phase: this.phase.value as FleetFilter['phase'] };
      this.page = 0;
      this.update();
    };
    this.search.addEventListener('input', onFilter);
    for (const s of [this.tier, this.region, this.phase]) s.addEventListener('change', onFilter);
    const table = h('table', { class: 'fleet', 'aria-describedby': 'fleet-summary' },
      h('caption', { class: 'visually-hidden' }, 'Tenants: frozen first, then those off their preferred site, then the rest'),
      h('thead', {}, h('tr', {}, ...['Tenant', 'Tier', 'Phase', 'Traffic on', 'Epoch', 'Sites up', 'Fenced', 'Changed'].map((c) => h('th', { scope: 'col' }, c)))),
      this.body,
    );
    this.el = h('section', { class: 'view fleet-view', 'aria-labelledby': 'fleet-h' },
      h('h1', { id: 'fleet-h' }, 'Fleet'),
      this.banner,
      this.counts,
      form,
      this.summary,
      h('div', { class: 'table-wrap' }, table),
      this.pager,
    );
  }

  /** Re-renders counts, filter options and the current page; returns the time it took (ms). */
  update(): number {
    const t0 = performance.now();
    this.renderBanner();
    this.renderCounts();
    this.renderFacets();
    const rows = filterTenants(this.store.ordered(), this.filter);
    const slice = pageOf(rows, this.page, PAGE_SIZE);
    this.page = slice.page;
    const now = Date.now();
    // Rows are rebuilt on every event; a keyboard user's focus on a tenant link is put back.
    const focused = document.activeElement instanceof HTMLElement && this.body.contains(document.activeElement) ? document.activeElement.closest('tr')?.getAttribute('data-tenant') : undefined;
    fill(this.body, ...slice.items.map((t) => row(t, now)));
    if (focused != null) this.body.querySelector<HTMLElement>(`tr[data-tenant="${CSS.escape(focused)}"] a`)?.focus();
    if (slice.total === 0) fill(this.body, h('tr', {}, h('td', { colspan: 8 }, this.store.loaded ? 'No tenant matches these filters.' : 'Loading…')));
    this.summary.textContent = slice.total === 0 ? '' : `Showing ${slice.first + 1}–${slice.first + slice.items.length} of ${slice.total} tenants${slice.total !== this.store.byName.size ? ` (${this.store.byName.size} in all)` : ''}.`;
    this.renderPager(slice.page, slice.pages);
    const ms = performance.now() - t0;
    document.body.dataset.fleetRenderMs = ms.toFixed(1);
    return ms;
  }

  private renderBanner(): void {
    const a = this.store.snapshot?.automatic;
    const c = this.store.snapshot?.cluster;
    fill(this.banner,
      a && !a.enabled ? h('p', { class: 'banner warn' }, `Automatic failover is switched off${a.by ? ` by ${a.by}` : ''}${a.reason ? `: ${a.reason}` : ''}. Tenants fail over only when an operator says so.`) : null,
      c ? h('p', { class: 'banner' }, `Replica ${c.replica}; leader ${c.leader ?? 'unknown'}${c.leading ? ' (this one)' : ''}.`) : null,
    );
  }

  private renderCounts(): void {
    const c = this.store.counts;
    const item = (phase: FleetFilter['phase'], label: string, n: number, cls: string) => {
      const b = h('button', { type: 'button', class: `count ${cls}`, 'aria-pressed': String(this.filter.phase === phase) }, h('span', { class: 'n' }, n), h('span', { class: 'l' }, label));
      b.addEventListener('click', () => {
        this.phase.value = this.filter.phase === phase ? '' : phase;
        this.phase.dispatchEvent(new Event('change'));
      });
      return h('li', {}, b);
    };
    fill(this.counts,
      item('', 'tenants', c.total, 'total'),
      item('frozen', 'frozen', c.frozen, 'frozen'),
      item('failing_over', 'failing over', c.failing_over, 'failing_over'),
      item('off_preferred', 'off preferred site', c.off_preferred, 'off'),
      item('active', 'active', c.active, 'active'),
    );
  }

  private renderFacets(): void {
    const f = facets(this.store.byName.values());
    const key = `${f.tiers.join('\0')}\u0001${f.regions.join('\0')}`;
    if (key === this.facetKey) return;
    this.facetKey = key;
    options(this.tier, 'All tiers', f.tiers, this.filter.tier);
    options(this.region, 'All regions', f.regions, this.filter.region);
  }

  private renderPager(page: number, pages: number): void {
    const go = (p: number, label: string, disabled: boolean) => {
      const b = h('button', { type: 'button', disabled }, label);
      b.addEventListener('click', () => {
        this.page = p;
        this.update();
      });
      return b;
    };
    fill(this.pager, pages <= 1 ? null : h('p', {}, go(0, 'First', page === 0), ' ', go(page - 1, 'Previous', page === 0), ` Page ${page + 1} of ${pages} `, go(page + 1, 'Next', page >= pages - 1), ' ', go(pages - 1, 'Last', page >= pages - 1)));
  }
}

function field(id: string, label: string, control: HTMLElement): HTMLElement {
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

function options(sel: HTMLSelectElement, all: string, values: string[], current: string): void {
  fill(sel, h('option', { value: '' }, all), ...values.map((v) => h('option', { value: v, selected: v === current }, v)));
}

const PHASE_LABEL: Record<string, string> = { active: 'active', failing_over: 'failing over', frozen: 'frozen' };

function row(t: TenantSummary, now: number): HTMLTableRowElement {
  return h('tr', { class: `rank-${rank(t)}`, 'data-tenant': t.name },
    h('th', { scope: 'row', 'data-label': 'Tenant' }, h('a', { href: `#/tenants/${encodeURIComponent(t.name)}` }, t.name)),
    h('td', { 'data-label': 'Tier' }, t.tier),
    h('td', { 'data-label': 'Phase' }, h('span', { class: `badge phase-${t.phase}` }, PHASE_LABEL[t.phase] ?? t.phase), t.frozen_cause ? h('span', { class: 'cause' }, ` ${t.frozen_cause}`) : null),
    h('td', { 'data-label': 'Traffic on' }, h('span', { class: 'site-name' }, t.active), t.off_preferred ? h('span', { class: 'note' }, ` (preferred: ${t.preferred})`) : null),
    h('td', { 'data-label': 'Epoch', class: 'num' }, t.epoch),
    h('td', { 'data-label': 'Sites up', class: 'num' }, `${t.sites_available}/${t.sites}`),
    h('td', { 'data-label': 'Fenced' }, t.fenced.length ? t.fenced.join(', ') : '—'),
    h('td', { 'data-label': 'Changed' }, t.updated_at ? h('time', { datetime: t.updated_at }, ago(t.updated_at, now)) : '—'),
  );
}

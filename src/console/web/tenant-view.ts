/**
 * The tenant view (#/tenants/<name>): sites in preference order with each backend's health,
 * fencing, epoch, data age against the RPO, readiness, and the last flips' timelines. It
 * re-reads GET /tenants/:t whenever a live event says the tenant changed.
 */
import { ApiError, getJson, seg } from './api.js';
import { confirmAction, type ActionKind, type ActionSpec } from './actions.js';
import { h, fill, type Child } from './dom.js';
import { ago, formatSeconds, percent } from './format.js';
import { backendHealth, dataAge } from './health.js';
import type { BackendDetail, SiteDetail, TenantDetail } from './model.js';
import type { Change } from './store.js';
import { flipFigure } from './timeline-svg.js';

export const FLIPS_SHOWN = 5;

export class TenantView {
  readonly el: HTMLElement;
  private readonly content = h('div', { class: 'tenant-content' }, h('p', {}, 'Loading…'));
  private inFlight = false;
  private again = false;
  detail: TenantDetail | undefined;

  constructor(
    readonly name: string,
    private readonly operator: boolean,
    private readonly announce: (msg: string) => void,
  ) {
    this.el = h('section', { class: 'view tenant-view', 'aria-labelledby': 'tenant-h' },
      h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Fleet'), ' › ', h('span', { 'aria-current': 'page' }, name)),
      h('h1', { id: 'tenant-h' }, name),
      h('p', { class: 'audit-link' }, h('a', { href: `#/audit?tenant=${encodeURIComponent(name)}` }, 'Audit records of this tenant')),
      this.content,
    );
  }

  onChange(c: Change): void {
    if (c.kind === 'all' || (c.kind === 'tenants' && c.names.includes(this.name)) || (c.kind === 'flip' && c.tenant === this.name)) this.refresh();
  }

  /** One read at a time; a change during a read triggers one more read after it. */
  refresh(): void {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    this.inFlight = true;
    getJson<TenantDetail>(`/tenants/${seg(this.name)}`)
      .then((d) => {
        this.detail = d;
        this.render(d);
      })
      .catch((err: unknown) => fill(this.content, h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? err.message : `Could not read the tenant: ${String(err)}`)))
      .finally(() => {
        this.inFlight = false;
        if (this.again) {
          this.again = false;
          this.refresh();
        }
      });
  }

  /**
   * Live refreshes replace the content: the focused control and the open "Step times" come
   * back by their data-key, so that a keyboard user is not thrown to the top of the page.
   */
  private render(d: TenantDetail): void {
    const focused = document.activeElement instanceof HTMLElement && this.content.contains(document.activeElement) ? document.activeElement.closest('[data-key]')?.getAttribute('data-key') : undefined;
    const open = new Set([...this.content.querySelectorAll('details[open][data-key]')].map((e) => e.getAttribute('data-key')));
    this.fillContent(d);
    for (const el of this.content.querySelectorAll<HTMLDetailsElement>('details[data-key]')) if (open.has(el.getAttribute('data-key'))) el.open = true;
    if (focused) this.content.querySelector<HTMLElement>(`[data-key="${CSS.escape(focused)}"]`)?.focus();
  }

  private fillContent(d: TenantDetail): void {
    const flips = (d.flips ?? []).slice(-FLIPS_SHOWN).reverse();
    fill(this.content,
      this.facts(d),
      d.phase === 'frozen' ? h('p', { class: 'banner danger' }, `Frozen: ${d.frozen_cause ?? 'a required step could not be completed'}. Nothing moves until an operator acts.`) : null,
      this.operator ? h('div', { class: 'actions', role: 'group', 'aria-label': 'Tenant actions' }, this.button({ kind: 'failover', tenant: d.name, targets: d.sites.map((s) => s.name).filter((n) => n !== d.active) }), this.button({ kind: 'failback', tenant: d.name })) : null,
      h('h2', {}, 'Sites in preference order'),
      h('ol', { class: 'sites' }, ...d.sites.map((s, i) => this.site(d, s, i))),
      h('h2', {}, 'Last flips'),
      flips.length === 0 ? h('p', {}, 'No flip since this proxy started.') : h('div', { class: 'flips' }, ...flips.map((f, i) => flipFigure(f, i))),
    );
  }

  private facts(d: TenantDetail): HTMLElement {
    const now = Date.now();
    const item = (k: string, field: string, ...v: Child[]) => h('div', {}, h('dt', {}, k), h('dd', { 'data-field': field }, ...v));
    return h('dl', { class: 'facts' },
      item('Phase', 'phase', h('span', { class: `badge phase-${d.phase}` }, d.phase.replace('_', ' '))),
      item('Traffic on', 'active', d.active),
      item('Epoch', 'epoch', d.epoch),
      item('Tier', 'tier', `${d.tier} (RPO ${formatSeconds(d.rpo_seconds)}, RTO ${formatSeconds(d.rto_seconds)})`),
      item('Failover', 'mode', `${d.mode}, failback ${d.failback}`),
      item('Fenced', 'fenced', d.fenced.length ? d.fenced.join(', ') : 'none'),
      item('Hosts', 'hosts', d.hosts.join(', ')),
      item('Last change', 'updated', d.updated_at ? h('time', { datetime: d.updated_at }, ago(d.updated_at, now)) : '—', d.reason ? ` — ${d.reason}` : ''),
      d.next_scheduled_drill ? item('Next drill', 'drill', h('time', { datetime: d.next_scheduled_drill }, new Date(d.next_scheduled_drill).toLocaleString())) : null,
    );
  }

  private site(d: TenantDetail, s: SiteDetail, i: number): HTMLElement {
    const fenced = d.fenced.includes(s.name);
    const age = dataAge(s, d.rpo_seconds);
    const badges = [
      s.name === d.active ? badge('traffic', 'taking traffic') : null,
      i === 0 ? badge('preferred', 'preferred') : null,
      badge(s.available ? 'up' : 'down', s.available ? 'available' : 'unavailable'),
      fenced ? badge('fenced', 'fenced') : null,
      badge(s.ready ? 'ready' : 'not-ready', s.ready ? 'ready' : 'not ready'),
      s.stale ? badge('stale', 'stale data') : null,
    ];
    const where = [s.region && `region ${s.region}`, s.zone && `zone ${s.zone}`].filter(Boolean).join(', ');
    return h('li', { class: `site${s.name === d.active ? ' active' : ''}`, 'data-site': s.name },
      h('h3', {}, s.name, ' ', ...badges),
      h('p', { class: 'where' }, where || 'no region or zone configured'),
      h('p', { class: 'age' }, age.known ? `Data age ${formatSeconds(age.seconds)} of an RPO of ${formatSeconds(age.rpoSeconds)} (${percent(age.ratio)})${age.stale ? ': stale' : ''}` : 'Data age not reported by its health check.'),
      s.not_ready.length ? h('ul', { class: 'not-ready', 'aria-label': `Why ${s.name} is not ready` }, ...s.not_ready.map((r) => h('li', {}, `${r.message} (${r.code})`))) : null,
      this.operator ? h('div', { class: 'actions', role: 'group', 'aria-label': `Actions on site ${s.name}` }, this.button({ kind: fenced ? 'unfence' : 'fence', tenant: d.name, site: s.name })) : null,
      h('div', { class: 'table-wrap' }, this.backends(d, s)),
    );
  }

  private backends(d: TenantDetail, s: SiteDetail): HTMLElement {
    const now = Date.now();
    return h('table', { class: 'backends' },
      h('caption', {}, `Backends of ${s.name}`),
      h('thead', {}, h('tr', {}, ...['Backend', 'Health', 'Last check', 'Error', ...(this.operator ? ['Action'] : [])].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...s.backends.map((b) => this.backendRow(d, s, b, now))),
    );
  }

  private backendRow(d: TenantDetail, s: SiteDetail, b: BackendDetail, now: number): HTMLElement {
    const health = backendHealth(b);
    const lc = b.last_check;
    return h('tr', { 'data-backend': b.name },
      h('th', { scope: 'row', 'data-label': 'Backend' }, b.name, h('span', { class: 'url' }, ` ${b.url}`)),
      h('td', { 'data-label': 'Health' }, badge(`h-${health}`, health)),
      h('td', { 'data-label': 'Last check' }, lc ? h('time', { datetime: lc.at }, `${ago(lc.at, now)}${lc.status !== undefined ? `, HTTP ${lc.status}` : ''}`) : '—'),
      h('td', { 'data-label': 'Error' }, lc?.error ?? '—'),
      this.operator ? h('td', { 'data-label': 'Action' }, this.button({ kind: b.drained ? 'enable' : 'drain', tenant: d.name, site: s.name, backend: b.name })) : null,
    );
  }

  private button(spec: ActionSpec): HTMLButtonElement {
    const label: Record<ActionKind, string> = { failover: 'Fail over…', failback: 'Fail back…', fence: 'Fence…', unfence: 'Unfence…', drain: 'Drain…', enable: 'Enable…' };
    const key = `${spec.kind === 'unfence' ? 'fence' : spec.kind === 'enable' ? 'drain' : spec.kind}:${spec.site ?? ''}:${spec.backend ?? ''}`;
    const b = h('button', { type: 'button', class: `action ${spec.kind}`, 'data-action': spec.kind, 'data-key': key, ...(spec.site && { 'aria-label': `${label[spec.kind]} ${spec.backend ?? spec.site}` }) }, label[spec.kind]);
    b.addEventListener('click', () =>
      confirmAction(spec, (msg) => {
        this.announce(msg);
        this.refresh();
      }),
    );
    return b;
  }
}

function badge(cls: string, text: string): HTMLElement {
  return h('span', { class: `badge ${cls}` }, text);
}

/**
 * Drill reports (GET /drills, GET /drills/:id as Markdown), pending approvals (GET /approvals)
 * and the audit trail (GET /audit: audit-view.ts). The drill list is read again every few
 * seconds while one of its drills is still running and the view is on screen, so that it never
 * keeps saying `running` after the drill ended (the change feed has no drill events).
 */
import { ApiError, getJson, getText, seg } from './api.js';
import { h, fill } from './dom.js';
import { formatMs } from './format.js';
import type { DrillListEntry } from './model.js';
import { auditSection } from './audit-view.js';

/** How often a drill list with a running drill is read again. */
const RUNNING_REFRESH_MS = 2000;

function failure(err: unknown): HTMLElement {
  return h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? `${err.message} (${err.code})` : String(err));
}

export function recordsView(): HTMLElement {
  const drills = h('div', {}, h('p', {}, 'Loading drills…'));
  const approvals = h('div', {}, h('p', {}, 'Loading approvals…'));
  const loadDrills = (): void => {
    getJson<{ drills: DrillListEntry[] }>('/drills?limit=200').then(
      (r) => {
        fill(drills, drillTable(r.drills));
        if (r.drills.some((d) => d.status === 'running')) setTimeout(() => drills.isConnected && loadDrills(), RUNNING_REFRESH_MS);
      },
      (e: unknown) => fill(drills, failure(e)),
    );
  };
  loadDrills();
  getJson<{ approvals: Array<Record<string, unknown>> }>('/approvals').then((r) => fill(approvals, approvalList(r.approvals)), (e: unknown) => fill(approvals, failure(e)));
  return h('section', { class: 'view records-view', 'aria-labelledby': 'records-h' },
    h('h1', { id: 'records-h' }, 'Drills, approvals and audit'),
    h('h2', {}, 'Drill reports'),
    drills,
    h('h2', {}, 'Two-person approvals'),
    approvals,
    auditSection({ headingLevel: 'h2' }),
  );
}

function drillTable(list: DrillListEntry[]): HTMLElement {
  if (list.length === 0) return h('p', {}, 'No drill has been run.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'drills' },
    h('caption', { class: 'visually-hidden' }, 'Drills, newest first'),
    h('thead', {}, h('tr', {}, ...['Drill', 'Tenant or region', 'Status', 'Started', 'Measured RTO'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...list.map((d) => h('tr', {},
      h('th', { scope: 'row', 'data-label': 'Drill' }, h('a', { href: `#/drills/${encodeURIComponent(d.id)}` }, d.id)),
      h('td', { 'data-label': 'Tenant or region' }, d.tenant ?? (d.region ? `region ${d.region}` : '—')),
      h('td', { 'data-label': 'Status' }, h('span', { class: `badge drill-${d.status}` }, d.status)),
      h('td', { 'data-label': 'Started' }, h('time', { datetime: d.started_at }, new Date(d.started_at).toLocaleString())),
      h('td', { 'data-label': 'Measured RTO', class: 'num' }, d.measured_rto_ms !== undefined ? formatMs(d.measured_rto_ms) : '—'),
    ))),
  ));
}

function approvalList(list: Array<Record<string, unknown>>): HTMLElement {
  if (list.length === 0) return h('p', {}, 'No approval request pending or recently decided.');
  return h('ul', { class: 'approvals' }, ...list.map((a) => h('li', {},
    h('strong', {}, String(a.id)), ` ${String(a.action)} of ${String(a.tenant)}${a.site ? ` (${String(a.site)})` : ''}, asked by ${String(a.requested_by)}: ${String(a.status ?? 'pending')}`,
    a.expires_at ? ` (expires ${String(a.expires_at)})` : '',
    a.reason ? h('span', { class: 'reason' }, ` — ${String(a.reason)}`) : null,
  )));
}

/** One drill's report: its Markdown as text (never as HTML), or its JSON when there is no renderer. */
export function drillView(id: string): HTMLElement {
  const body = h('div', {}, h('p', {}, 'Loading the report…'));
  const path = `/drills/${seg(id)}`;
  getText(`${path}?format=markdown`)
    .catch((e: unknown) => (e instanceof ApiError && e.status === 406 ? getJson<unknown>(path).then((j) => JSON.stringify(j, null, 2)) : Promise.reject(e)))
    .then((text) => fill(body, h('pre', { class: 'report', tabindex: 0, 'aria-label': `Report of drill ${id}` }, text)), (e: unknown) => fill(body, failure(e)));
  return h('section', { class: 'view drill-view', 'aria-labelledby': 'drill-h' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/records' }, 'Drills and approvals'), ' › ', h('span', { 'aria-current': 'page' }, id)),
    h('h1', { id: 'drill-h' }, `Drill ${id}`),
    body,
  );
}

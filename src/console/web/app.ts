/**
 * The console's entry point: the token form, GET /whoami (operators get the action buttons),
 * the fleet from GET /fleet kept current by the live feed, and hash routing between views.
 */
import { ApiError, getJson, getToken, setToken } from './api.js';
import { byId, fill } from './dom.js';
import { FleetView } from './fleet-view.js';
import { LiveFeed, type LiveState } from './live.js';
import type { FleetSnapshot, FlipEvent, TenantsChanged, WhoAmI } from './model.js';
import { drillView, recordsView } from './records-view.js';
import { auditView } from './audit-view.js';
import type { SseEvent } from './sse.js';
import { Store, type Change } from './store.js';
import { TenantView } from './tenant-view.js';

const store = new Store();
let who: WhoAmI | undefined;
let live: LiveFeed | undefined;
let fleet: FleetView | undefined;
let tenant: TenantView | undefined;
let fleetQueued = false;

const main = byId<HTMLElement>('main');

let announceTimer: ReturnType<typeof setTimeout> | undefined;

/** A message in the polite live region, cleared after a while so that it stops covering the page. */
function announce(msg: string): void {
  byId('announce').textContent = msg;
  if (announceTimer !== undefined) clearTimeout(announceTimer);
  announceTimer = setTimeout(() => (byId('announce').textContent = ''), 15_000);
}

function showLogin(message = ''): void {
  live?.stop();
  live = undefined;
  byId('app').hidden = true;
  byId('login').hidden = false;
  byId('login-error').textContent = message;
  byId<HTMLInputElement>('token').focus();
}

async function signIn(token: string): Promise<void> {
  try {
    who = await getJson<WhoAmI>('/whoami', token);
  } catch (err) {
    setToken(null);
    showLogin(err instanceof ApiError ? `The API refused this token: ${err.message}` : `The API could not be reached: ${String(err)}`);
    return;
  }
  setToken(token);
  byId('login').hidden = true;
  byId('app').hidden = false;
  fill(byId('who'), `${who.name} (${who.role})`);
  document.body.dataset.role = who.role;
  fleet = new FleetView(store);
  route(false);
  try {
    store.applySnapshot(await getJson<FleetSnapshot>('/fleet'));
  } catch (err) {
    announce(err instanceof ApiError ? `Could not read the fleet: ${err.message}` : String(err));
  }
  live = new LiveFeed({ url: '/events', onEvent, onState });
  live.start();
}

function onEvent(ev: SseEvent): void {
  let data: unknown;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return; // a frame that is not JSON is not ours to act on
  }
  if (ev.event === 'snapshot') store.applySnapshot(data as FleetSnapshot);
  else if (ev.event === 'tenants') store.applyChanges(data as TenantsChanged);
  else if (ev.event === 'flip') store.applyFlip(data as FlipEvent);
}

function onState(s: LiveState): void {
  const el = byId('live');
  el.dataset.state = s.kind;
  if (s.kind === 'live') el.textContent = 'Live';
  else if (s.kind === 'connecting') el.textContent = 'Connecting…';
  else if (s.kind === 'retrying') el.textContent = `Reconnecting in ${Math.ceil(s.inMs / 1000)} s (${s.why})`;
  else {
    setToken(null);
    showLogin(`The live feed was refused (HTTP ${s.status}): sign in again.`);
  }
}

function onChange(c: Change): void {
  tenant?.onChange(c);
  if (!fleet || main.firstElementChild !== fleet.el || fleetQueued) return;
  // Events can come several times a second: render once per frame at most.
  fleetQueued = true;
  requestAnimationFrame(() => {
    fleetQueued = false;
    fleet?.update();
  });
}

/** Shows the view the hash names; `focus` moves focus to its heading (after a navigation). */
function route(focus = true): void {
  let hash = location.hash.replace(/^#/, '');
  try {
    hash = decodeURIComponent(hash);
  } catch {
    hash = '/'; // a malformed %-escape typed in the address bar: the fleet
  }
  const m = /^\/(tenants|drills)\/(.+)$/.exec(hash);
  tenant = undefined;
  let view: HTMLElement;
  let title = 'Fleet';
  if (m?.[1] === 'tenants') {
    const name = m[2]!;
    tenant = new TenantView(name, who?.role === 'operator', announce);
    tenant.refresh();
    view = tenant.el;
    title = name;
  } else if (m?.[1] === 'drills') {
    title = `Drill ${m[2]!}`;
    view = drillView(m[2]!);
  } else if (hash === '/audit' || hash.startsWith('/audit?')) {
    // From the raw hash: the decoded one would split a tenant name holding `&` or `=`.
    const t = new URLSearchParams(location.hash.replace(/^#\/audit\??/, '')).get('tenant');
    title = t ? `Audit of ${t}` : 'Audit trail';
    view = auditView(t ?? undefined);
  } else if (hash === '/records') {
    title = 'Drills and approvals';
    view = recordsView();
  } else {
    view = fleet!.el;
    fleet!.update();
  }
  fill(main, view);
  document.title = `${title} · drproxy console`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('#nav a')) {
    const here = a.getAttribute('href') === (hash.startsWith('/records') || hash.startsWith('/drills') ? '#/records' : hash.startsWith('/audit') ? '#/audit' : '#/');
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const heading = view.querySelector<HTMLElement>('h1');
  // The view's heading takes focus after a navigation, so that a screen reader announces it.
  heading?.setAttribute('tabindex', '-1');
  if (focus) heading?.focus();
}

function init(): void {
  store.subscribe(onChange);
  byId<HTMLFormElement>('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('token');
    const token = input.value.trim();
    input.value = '';
    if (token !== '') void signIn(token);
  });
  byId('sign-out').addEventListener('click', () => {
    setToken(null);
    who = undefined;
    showLogin('Signed out.');
  });
  byId('skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', () => {
    if (who) route();
  });
  const token = getToken();
  if (token === null) showLogin();
  else void signIn(token);
}

init();

/**
 * Operator actions behind a confirmation <dialog>: the reason (for the audit log) and the
 * tenant's name typed exactly. The API's answer is shown in its own words: an error's
 * `detail`, or a 202 held for two-person approval with the approval's id.
 */
import { ApiError, postJson, seg } from './api.js';
import { h, fill } from './dom.js';
import { formatMs } from './format.js';

export type ActionKind = 'failover' | 'failback' | 'fence' | 'unfence' | 'drain' | 'enable';

export interface ActionSpec {
  kind: ActionKind;
  tenant: string;
  site?: string;
  backend?: string;
  /** failover: the sites it may go to (other than the active one). */
  targets?: string[];
}

const VERB: Record<ActionKind, string> = { failover: 'Fail over', failback: 'Fail back', fence: 'Fence', unfence: 'Unfence', drain: 'Drain', enable: 'Enable' };

const WHAT: Record<ActionKind, string> = {
  failover: 'Moves the tenant\'s traffic to another site at a new epoch: the current site is drained and fenced.',
  failback: 'Moves the tenant\'s traffic back to its preferred site at a new epoch (a planned failover).',
  fence: 'Marks the site fenced: it takes no traffic until it is unfenced.',
  unfence: 'Lifts the fence: the site may take traffic again.',
  drain: 'Takes the backend out of rotation: in-flight requests finish, new ones go to the other backends.',
  enable: 'Puts the drained backend back into rotation.',
};

export function actionLabel(s: ActionSpec): string {
  return `${VERB[s.kind]} ${s.backend ?? s.site ?? s.tenant}`;
}

export function actionPath(s: ActionSpec): string {
  const t = `/tenants/${seg(s.tenant)}`;
  if (s.kind === 'failover' || s.kind === 'failback') return `${t}/${s.kind}`;
  const site = `${t}/sites/${seg(s.site ?? '')}`;
  return s.kind === 'fence' || s.kind === 'unfence' ? `${site}/${s.kind}` : `${site}/backends/${seg(s.backend ?? '')}/${s.kind}`;
}

/** What the API answered, in a sentence. */
export function describeResult(s: ActionSpec, status: number, b: Record<string, unknown>): string {
  if (status === 202) {
    const a = (b.approval ?? {}) as Record<string, unknown>;
    return `${VERB[s.kind]} of ${s.tenant} is pending two-person approval ${String(a.id ?? '?')}: another operator must approve it${a.expires_at ? ` before ${String(a.expires_at)}` : ''}.`;
  }
  if (s.kind === 'failover' || s.kind === 'failback') {
    return `${s.tenant}: ${String(b.from)} → ${String(b.to)} at epoch ${String(b.epoch)} (${String(b.result)}) in ${formatMs(Number(b.duration_ms))}.`;
  }
  if (s.kind === 'fence' || s.kind === 'unfence') return `${s.tenant}: site ${s.site} ${s.kind}d (fenced now: ${(b.fenced as string[] | undefined)?.join(', ') || 'none'}).`;
  return `${s.tenant}: backend ${s.backend} of ${s.site} ${b.drained ? 'drained' : 'enabled'}.`;
}

let dialog: HTMLDialogElement | undefined;

/** Opens the confirmation; `done` gets the API's answer as a sentence once it succeeded. */
export function confirmAction(s: ActionSpec, done: (message: string) => void): void {
  dialog ??= document.body.appendChild(h('dialog', { class: 'confirm', 'aria-labelledby': 'dlg-h', 'aria-describedby': 'dlg-what' }));
  const dlg = dialog;
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
  const reason = h('textarea', { id: 'dlg-reason', name: 'reason', required: true, maxlength: 1000, rows: 2 });
  const typed = h('input', { id: 'dlg-confirm', name: 'confirm', autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'dlg-confirm-hint' });
  const to = s.kind === 'failover' ? h('select', { id: 'dlg-to', name: 'to' }, h('option', { value: '' }, 'the first available site in preference order'), ...(s.targets ?? []).map((t) => h('option', { value: t }, t))) : null;
  const force = s.kind === 'failover' || s.kind === 'failback' ? h('input', { id: 'dlg-force', name: 'force', type: 'checkbox' }) : null;
  const error = h('p', { class: 'error', role: 'alert' });
  const ok = h('button', { type: 'submit', class: 'danger', disabled: true }, VERB[s.kind]);
  const cancel = h('button', { type: 'button' }, 'Cancel');
  const form = h('form', { class: 'confirm-form' },
    h('h2', { id: 'dlg-h' }, `${VERB[s.kind]}${s.backend ? ` backend ${s.backend} of` : s.site ? ` site ${s.site} of` : ''} ${s.tenant}?`),
    h('p', { id: 'dlg-what' }, WHAT[s.kind]),
    to ? h('div', { class: 'field' }, h('label', { for: 'dlg-to' }, 'Target site'), to) : null,
    force ? h('div', { class: 'field check' }, force, h('label', { for: 'dlg-force' }, 'Force: go even to a site that is unhealthy or has stale data')) : null,
    h('div', { class: 'field' }, h('label', { for: 'dlg-reason' }, 'Reason (recorded in the audit log)'), reason),
    h('div', { class: 'field' }, h('label', { for: 'dlg-confirm' }, 'Tenant name'), typed, h('p', { id: 'dlg-confirm-hint', class: 'hint' }, 'Type ', h('code', {}, s.tenant), ' exactly to confirm.')),
    error,
    h('div', { class: 'buttons' }, cancel, ok),
  );
  const check = () => {
    ok.disabled = typed.value !== s.tenant || reason.value.trim() === '';
  };
  typed.addEventListener('input', check);
  reason.addEventListener('input', check);
  cancel.addEventListener('click', () => dlg.close());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (ok.disabled) return;
    ok.disabled = true;
    error.textContent = '';
    const body: Record<string, unknown> = { reason: reason.value };
    if (to && to.value !== '') body.to = to.value;
    if (force?.checked) body.force = true;
    postJson(actionPath(s), body).then(
      (r) => {
        dlg.close();
        done(describeResult(s, r.status, r.body));
      },
      (err: unknown) => {
        error.textContent = err instanceof ApiError ? `${err.message} (${err.code}, HTTP ${err.status})` : `The request failed: ${String(err)}`;
        check();
      },
    );
  });
  // Back to the button that opened it; a live refresh may have replaced it by an equal one.
  const key = opener?.getAttribute('data-key');
  dlg.addEventListener('close', () => (opener?.isConnected ? opener : key ? document.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`) : null)?.focus(), { once: true });
  fill(dlg, form);
  dlg.showModal();
}

/** How an audit record (GET /audit) reads in the page's table: pure functions, unit-tested. */
export type AuditRecord = Record<string, unknown>;

export const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

/** Action of an admin call (`failover`, `failover (intent)`), or the event of a state change. */
export function whatOf(r: AuditRecord): string {
  if (r.event === 'admin' || r.event === undefined) return `${str(r.action) || '?'}${r.phase === 'intent' ? ' (intent)' : ''}`;
  return str(r.event);
}

export function resultOf(r: AuditRecord): string {
  const parts = [str(r.result), r.status !== undefined ? str(r.status) : ''].filter((x) => x !== '');
  return parts.join(' ') || (r.phase === 'intent' ? 'started' : '—');
}

export function epochOf(r: AuditRecord): string {
  if (r.epoch_before !== undefined || r.epoch_after !== undefined) return `${str(r.epoch_before) || '?'} → ${str(r.epoch_after) || '?'}`;
  return r.epoch !== undefined ? str(r.epoch) : '—';
}

/** Numbers and times as the page writes them. Pure. */

/** 0.4 ms, 12 ms, 2.3 s, 4 min 10 s, 3 h 5 min, 2 d 4 h. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const a = Math.abs(ms);
  if (a < 10) return `${Math.round(ms * 10) / 10} ms`;
  if (a < 1000) return `${Math.round(ms)} ms`;
  if (a < 60_000) return `${Math.round(ms / 100) / 10} s`;
  const s = Math.round(ms / 1000);
  if (a < 3_600_000) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const m = Math.round(ms / 60_000);
  if (a < 86_400_000) return `${Math.floor(m / 60)} h${m % 60 ? ` ${m % 60} min` : ''}`;
  const h = Math.round(ms / 3_600_000);
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

export function formatSeconds(s: number): string {
  return formatMs(s * 1000);
}

/** "12 s ago" from an ISO time and now (ms). */
export function ago(iso: string | undefined, now: number): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const d = now - t;
  return d < 1000 ? 'just now' : `${formatMs(d)} ago`;
}

export function percent(ratio: number): string {
  if (!Number.isFinite(ratio)) return '—';
  const p = ratio * 100;
  if (p > 0 && p < 0.01) return '<0.01%';
  return `${p < 1 ? Math.round(p * 100) / 100 : p < 10 ? Math.round(p * 10) / 10 : Math.round(p)}%`;
}

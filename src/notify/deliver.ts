/**
 * One delivery attempt with undici, and the back-off between attempts: exponential with full
 * jitter on network errors, 5xx and 429; a Retry-After (seconds or an HTTP date) is honoured,
 * up to MAX_DELAY. The URL is never logged or returned (Slack's holds its secret).
 */
import { request, type Dispatcher } from 'undici';

const MAX_DELAY = 5 * 60_000;
const EXCERPT = 300;

export interface Attempt {
  ok: boolean;
  /** Worth another attempt (network error, 5xx, 429). */
  retry: boolean;
  status?: number;
  /** The start of the answer's body, for `drproxy notify test`. */
  body?: string;
  error?: string;
  retryAfterMs?: number;
}

function retryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = Number(v);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(v) - now;
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), MAX_DELAY) : undefined;
}

export async function attempt(url: string, body: string, headers: Record<string, string>, timeout: number, dispatcher?: Dispatcher): Promise<Attempt> {
  try {
    const res = await request(url, { method: 'POST', body, headers: { 'user-agent': 'drproxy-notify', ...headers }, headersTimeout: timeout, bodyTimeout: timeout, signal: AbortSignal.timeout(timeout), ...(dispatcher && { dispatcher }) });
    const text = (await res.body.text()).slice(0, EXCERPT);
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    const ra = retryAfter(res.headers['retry-after'], Date.now());
    return { ok, retry: !ok && (res.statusCode >= 500 || res.statusCode === 429), status: res.statusCode, body: text, ...(ra !== undefined && { retryAfterMs: ra }) };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ok: false, retry: true, error: e.code ? `${e.code}: ${e.message}` : e.message };
  }
}

/** The wait before attempt n+1 (n ≥ 1): full jitter over base·2^(n-1), or the receiver's Retry-After. */
export function backoff(n: number, base: number, a: Attempt, random: () => number = Math.random): number {
  if (a.retryAfterMs !== undefined) return a.retryAfterMs;
  return Math.min(MAX_DELAY, Math.round(base * 2 ** (n - 1) * (0.5 + random() / 2)));
}

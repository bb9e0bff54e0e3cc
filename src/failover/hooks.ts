/**
 * Fence and promote hooks: an HTTP POST with a JSON body {tenant, site, epoch, reason, action}
 * and a timeout. Success is any 2xx answer. The `check` action (readiness-monitor.ts) asks the
 * same endpoint whether it could act, without acting: {action: "check", tenant, site, epoch},
 * epoch the tenant's current one (never a new one), no reason (docs/backends.md).
 */
import { request } from 'undici';
import type { HookConfig } from '../config/types.js';
import { describeError } from '../health/active-check.js';

export type HookPayload =
  | { action: 'fence' | 'promote'; tenant: string; site: string; epoch: number; reason: string }
  | { action: 'check'; tenant: string; site: string; epoch: number };

export interface HookResult {
  ok: boolean;
  status?: number;
  error?: string;
  durationMs: number;
}

export async function callHook(hook: HookConfig, payload: HookPayload): Promise<HookResult> {
  const started = performance.now();
  try {
    const res = await request(hook.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'drproxy-hook', ...hook.headers },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(hook.timeout),
      headersTimeout: hook.timeout,
      bodyTimeout: hook.timeout,
    });
    await res.body.dump();
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    return { ok, status: res.statusCode, ...(ok ? {} : { error: `status ${res.statusCode}` }), durationMs: performance.now() - started };
  } catch (err) {
    return { ok: false, error: describeError(err, hook.timeout), durationMs: performance.now() - started };
  }
}

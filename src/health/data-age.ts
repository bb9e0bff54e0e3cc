/**
 * RPO gate input: read a site's data age (seconds) from its health answer, either a field that
 * holds the lag in seconds or a timestamp of the last replicated/backed-up write.
 */
import type { DataAgeConfig } from '../config/types.js';

export function readDataAge(body: string, cfg: DataAgeConfig, now = Date.now()): number | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return undefined;
  }
  let v: unknown = doc;
  for (const part of cfg.json_field.split('.')) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  if (cfg.kind === 'seconds') {
    const n = typeof v === 'string' ? Number(v) : v;
    return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined;
  }
  let ms: number;
  if (typeof v === 'number') ms = v > 1e11 ? v : v * 1000; // epoch ms or epoch seconds
  else if (typeof v === 'string') ms = Date.parse(v);
  else return undefined;
  if (!Number.isFinite(ms)) return undefined;
  return Math.max(0, (now - ms) / 1000);
}

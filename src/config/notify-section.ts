/**
 * The `notify:` section (docs/notifications.md): a list of sinks, each with the events it
 * wants and optional tenant / tier filters. URLs and secrets are only ever named (an
 * environment variable or a file), so that the config text can be shared and committed.
 */
import path from 'node:path';
import type { NotifySinkConfig, TenantConfig, TierConfig } from './types.js';
import * as D from './defaults.js';
import { type Parse, type Problems, Fields, values, rejectDuplicates, text, int, oneOf, duration, positiveDuration, listOf, matching, show } from './fields.js';
import { envName } from './values.js';
import { findTier } from './tiers.js';
import { NOTIFY_EVENT_KINDS } from '../notify/events.js';

const sinkName = matching(/^[A-Za-z0-9_.-]{1,63}$/, 'sink name');
const name = matching(/^[A-Za-z0-9_.-]{1,63}$/, 'name');

/** `<what>_env` or `<what>_file`: exactly one when required, at most one otherwise. */
function secretRef(f: Fields, what: string, baseDir: string, required: boolean): Record<string, string> {
  const env = f.get(`${what}_env`, envName);
  const file = f.get(`${what}_file`, text);
  const given = [`${what}_env`, `${what}_file`].filter((k) => f.has(k)).length;
  if (given > 1 || (required && given === 0)) f.out.error(f.at, `needs ${required ? 'exactly' : 'at most'} one of ${what}_env or ${what}_file (${given === 0 ? 'neither' : 'both'} given)`);
  f.forbid(what, `never put the ${what} in the config text: name it with ${what}_env or ${what}_file`);
  return { ...(env !== undefined && { [`${what}_env`]: env }), ...(file !== undefined && { [`${what}_file`]: path.resolve(baseDir, file) }) };
}

function sink(baseDir: string): Parse<NotifySinkConfig> {
  return (value, at, out) => {
    const f = Fields.of(value, at, out);
    if (f === undefined) return undefined;
    const sinkNameValue = f.req('name', sinkName);
    const kind = f.req('kind', oneOf(['webhook', 'slack', 'pagerduty'] as const));
    const events = f.get('events', listOf(oneOf(NOTIFY_EVENT_KINDS), { nonEmpty: true }));
    const refs = {
      // PagerDuty's endpoint is fixed; url_env / url_file only point it elsewhere (tests, a proxy).
      ...secretRef(f, 'url', baseDir, kind !== 'pagerduty'),
      ...(kind === 'webhook' ? secretRef(f, 'secret', baseDir, true) : {}),
      ...(kind === 'pagerduty' ? secretRef(f, 'routing_key', baseDir, true) : {}),
    };
    const s = {
      tenants: values(f.get('tenants', listOf(name)) ?? []),
      tiers: values(f.get('tiers', listOf(name)) ?? []),
      queue: f.get('queue', int(1, 1_000_000)) ?? D.DEFAULT_NOTIFY_SINK.queue,
      retries: f.get('retries', int(1, 100)) ?? D.DEFAULT_NOTIFY_SINK.retries,
      coalesce: f.get('coalesce', duration({ min: 0 })) ?? D.DEFAULT_NOTIFY_SINK.coalesce,
      retry_base: f.get('retry_base', positiveDuration) ?? D.DEFAULT_NOTIFY_SINK.retry_base,
      timeout: f.get('timeout', positiveDuration) ?? D.DEFAULT_NOTIFY_SINK.timeout,
    };
    f.end();
    if (sinkNameValue === undefined || kind === undefined) return undefined;
    return { name: sinkNameValue, kind, events: events ? [...new Set(values(events))] : [...NOTIFY_EVENT_KINDS], ...refs, ...s };
  };
}

/** The sinks; tenant and tier filters must name tenants and tiers that exist. */
export function readNotify(raw: unknown, baseDir: string, known: { tenants: readonly TenantConfig[]; tiers: Record<string, TierConfig> }, out: Problems): NotifySinkConfig[] {
  if (raw === undefined) return [];
  const items = listOf(sink(baseDir))(raw, 'notify', out);
  if (items === undefined) return [];
  const unique = rejectDuplicates(items, (s) => s.name, out, { what: 'sink name', where: (i) => `${i.at}.name` });
  unique.forEach(({ value: s, at }) => {
    s.tenants.forEach((t, k) => {
      if (!known.tenants.some((x) => x.name === t)) out.error(`${at}.tenants[${k}]`, `no tenant ${show(t)}`);
    });
    s.tiers.forEach((t, k) => {
      const tier = findTier(known.tiers, t);
      if (tier === undefined) out.error(`${at}.tiers[${k}]`, `unknown tier ${show(t)}; known tiers: ${Object.keys(known.tiers).join(', ')}`);
      else s.tiers[k] = tier.name;
    });
  });
  return values(unique);
}

/**
 * A tenant's per-flip rules (docs/safety.md "Per-flip rules"), in `defaults.safety` and in each
 * tenant's `safety` (the tenant's fields override the defaults' one by one):
 *
 *   safety: { min_available_sites: 2, failure_domain: region }   # or zone; 0 / none: no rule
 *
 * The fleet-wide `safety:` section at the top level (the breaker) is safety-section.ts.
 */
import type { SiteConfig, TenantSafetyConfig } from './types.js';
import { Fields, Problems, int, oneOf } from './fields.js';

/** What one layer writes: a number or domain, or null where it lifts a rule of the layer below (0 / none). */
export type TenantSafetyLayer = { min_available_sites?: number | null; failure_domain?: 'region' | 'zone' | null };

export function readTenantSafetyLayer(f: Fields | undefined): TenantSafetyLayer {
  if (f === undefined) return {};
  const min = f.get('min_available_sites', int(0, 1000));
  const domain = f.get('failure_domain', oneOf(['region', 'zone', 'none'] as const));
  f.end();
  return {
    ...(min !== undefined && { min_available_sites: min === 0 ? null : min }),
    ...(domain !== undefined && { failure_domain: domain === 'none' ? null : domain }),
  };
}

/** The tenant's rules: its layer over the defaults'; undefined when no rule is left. */
export function mergeTenantSafety(base: TenantSafetyLayer, layer: TenantSafetyLayer): TenantSafetyConfig | undefined {
  const m = { ...base, ...layer };
  const out: TenantSafetyConfig = {
    ...(typeof m.min_available_sites === 'number' && { min_available_sites: m.min_available_sites }),
    ...(typeof m.failure_domain === 'string' && { failure_domain: m.failure_domain }),
  };
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * The rules must be able to hold: min_available_sites at most the number of sites, and every
 * site named in a failure domain (region; zone) when failure_domain is set. `at`: the tenant's
 * path; `own`: the tenant wrote the field itself (else it came from defaults.safety).
 */
export function checkTenantSafety(s: TenantSafetyConfig | undefined, sites: readonly SiteConfig[], at: string, own: TenantSafetyLayer, out: Problems): void {
  if (s === undefined || sites.length === 0) return;
  const where = (key: keyof TenantSafetyLayer): string => (key in own ? `${at}.safety.${key}` : `${at}.safety`);
  const from = (key: keyof TenantSafetyLayer): string => (key in own ? '' : ' (from defaults.safety)');
  if (s.min_available_sites !== undefined && s.min_available_sites > sites.length) {
    out.error(where('min_available_sites'), `min_available_sites${from('min_available_sites')} is ${s.min_available_sites} but the tenant has only ${sites.length} site(s): no flip could ever keep that many`);
  }
  const d = s.failure_domain;
  if (d === undefined) return;
  sites.forEach((site, i) => {
    const missing = d === 'region' ? (site.region === undefined ? 'region' : undefined) : site.zone === undefined ? 'zone' : undefined;
    if (missing !== undefined) out.error(`${at}.sites[${i}]`, `site ${site.name} has no "${missing}": failure_domain: ${d}${from('failure_domain')} needs the ${missing} of every site`);
  });
  const domains = new Set(sites.map((x) => (d === 'region' ? x.region : `${x.region ?? ''}/${x.zone}`)));
  if (domains.size === 1 && sites.length > 1) out.warn(where('failure_domain'), `every site is in the same ${d}: failure_domain: ${d} forbids every flip`);
}

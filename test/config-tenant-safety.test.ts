/** Per-tenant flip rules (`defaults.safety`, `tenants.*.safety`; docs/safety.md): merged, and bad values name their path. */
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../src/config/index.js';

const sites = (withRegion = true) => [
  { name: 'a', ...(withRegion && { region: 'A' }), zone: '1', backends: ['http://127.0.0.1:1'] },
  { name: 'b', region: 'B', zone: '1', backends: ['http://127.0.0.1:2'] },
];
const doc = (safety: unknown, defaults?: unknown, withRegion = true) => ({ ...(defaults !== undefined && { defaults: { safety: defaults } }), tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: sites(withRegion), ...(safety !== undefined && { safety }) } } });
const read = (safety: unknown, defaults?: unknown, withRegion = true) => validateConfig(doc(safety, defaults, withRegion), { baseDir: '/tmp' });
const errors = (safety: unknown, defaults?: unknown, withRegion = true) => read(safety, defaults, withRegion).problems.filter((p) => p.severity === 'error').map((p) => `${p.path}: ${p.message}`);

describe('tenant safety config', () => {
  it('reads the rules; defaults.safety applies, a tenant overrides or lifts them (0, none); unset: no rule', () => {
    expect(read({ min_available_sites: 2, failure_domain: 'region' }).config?.tenants[0]?.safety).toEqual({ min_available_sites: 2, failure_domain: 'region' });
    expect(read(undefined, { failure_domain: 'zone' }).config?.tenants[0]?.safety).toEqual({ failure_domain: 'zone' });
    expect(read({ failure_domain: 'none', min_available_sites: 1 }, { failure_domain: 'zone' }).config?.tenants[0]?.safety).toEqual({ min_available_sites: 1 });
    expect(read({ min_available_sites: 0 }, { min_available_sites: 2 }).config?.tenants[0]?.safety).toBeUndefined();
    expect(read(undefined).config?.tenants[0]?.safety).toBeUndefined();
  });

  it('names the path of each problem', () => {
    expect(errors({ min_available_sites: 3 })).toEqual(['tenants.acme.safety.min_available_sites: min_available_sites is 3 but the tenant has only 2 site(s): no flip could ever keep that many']);
    expect(errors(undefined, { min_available_sites: 3 })).toEqual(['tenants.acme.safety: min_available_sites (from defaults.safety) is 3 but the tenant has only 2 site(s): no flip could ever keep that many']);
    expect(errors({ failure_domain: 'region' }, undefined, false)).toEqual(['tenants.acme.sites[0]: site a has no "region": failure_domain: region needs the region of every site']);
    expect(errors({ failure_domain: 'zone' }, undefined, false)).toEqual([]);
    expect(errors({ failure_domain: 'rack' })[0]).toMatch(/^tenants\.acme\.safety\.failure_domain: /);
    expect(errors({ min_available_sites: -1 })[0]).toMatch(/^tenants\.acme\.safety\.min_available_sites: /);
    expect(errors({ min_available_sites: 'two' })[0]).toMatch(/^tenants\.acme\.safety\.min_available_sites: /);
    expect(errors({ min_availabe_sites: 2 })[0]).toMatch(/^tenants\.acme\.safety\.min_availabe_sites: unknown key/);
    expect(errors(undefined, { failure_domian: 'zone' })[0]).toMatch(/^defaults\.safety\.failure_domian: unknown key/);
  });
});

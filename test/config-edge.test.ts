/**
 * Config of the edge settings: redirect_https, https_port and hsts per tenant (and in
 * defaults), and a site's tls block for mTLS to its backends (files read and checked at load).
 * Every refusal names the exact path.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type ConfigProblem } from '../src/config/index.js';
import { rmSync } from 'node:fs';
import { makePki, type Pki } from './helpers/pki.js';

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => rmSync(pki.dir, { recursive: true, force: true }));

function doc(tenant: Record<string, unknown> = {}, defaults: Record<string, unknown> = {}, site: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    defaults,
    tenants: {
      acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['https://127.0.0.1:8443'], ...site }, { name: 'a2', backends: ['http://10.0.0.2:80'] }], ...tenant },
    },
  };
}

function check(raw: unknown, baseDir = '/etc/drproxy') {
  return validateConfig(raw, { baseDir });
}

function problemAt(problems: ConfigProblem[], at: string): ConfigProblem {
  const here = problems.filter((p) => p.path === at);
  expect(here, JSON.stringify(problems)).toHaveLength(1);
  return here[0]!;
}

describe('redirect_https, https_port, hsts', () => {
  it('default: no redirect, port 443, no HSTS', () => {
    const { config } = check(doc());
    expect(config!.tenants[0]!.edge).toEqual({ redirect_https: false, https_port: 443 });
  });

  it('defaults apply to every tenant; the tenant overrides', () => {
    const { config } = check(doc({ https_port: 8443 }, { redirect_https: true, hsts: { max_age: '1y', include_subdomains: true, preload: true } }));
    expect(config!.tenants[0]!.edge).toEqual({ redirect_https: true, https_port: 8443, hsts: { max_age: 31_557_600, include_subdomains: true, preload: true } });
  });

  it.each([
    [{ redirect_https: 'yes' }, 'tenants.acme.redirect_https'],
    [{ https_port: 70000 }, 'tenants.acme.https_port'],
    [{ hsts: { max_age: 'forever' } }, 'tenants.acme.hsts.max_age'],
    [{ hsts: {} }, 'tenants.acme.hsts.max_age'],
    [{ hsts: { max_age: '1y', preload_list: true } }, 'tenants.acme.hsts.preload_list'],
  ])('%j is refused at %s', (tenant, at) => {
    const { config, problems } = check(doc(tenant));
    expect(config).toBeUndefined();
    expect(problemAt(problems, at).severity).toBe('error');
  });

  it('preload needs max_age of at least a year (hstspreload.org)', () => {
    const { config, problems } = check(doc({ hsts: { max_age: '180d', include_subdomains: true, preload: true } }));
    expect(config).toBeUndefined();
    expect(problemAt(problems, 'tenants.acme.hsts.preload').message).toContain('at least 1 year');
  });

  it('preload needs include_subdomains', () => {
    const { config, problems } = check(doc({ hsts: { max_age: '2y', preload: true } }));
    expect(config).toBeUndefined();
    expect(problemAt(problems, 'tenants.acme.hsts.preload').message).toContain('include_subdomains');
  });

  it('a bad hsts in defaults is reported at defaults.hsts', () => {
    const { problems } = check(doc({}, { hsts: { max_age: '1d', preload: true, include_subdomains: true } }));
    expect(problemAt(problems, 'defaults.hsts.preload').severity).toBe('error');
  });
});

describe('a site tls block', () => {
  const at = 'tenants.acme.sites[0].tls';

  it('reads the CA, the client certificate and its key (PEM text in the config)', () => {
    const { config, problems } = check(doc({}, {}, { tls: { ca_file: pki.files.ca, cert_file: pki.files.clientCert, key_file: pki.files.clientKey, servername: 'localhost' } }));
    expect(problems).toEqual([]);
    expect(config!.tenants[0]!.sites[0]!.tls).toEqual({ ca: pki.read('ca'), cert: pki.read('clientCert'), key: pki.read('clientKey'), servername: 'localhost' });
  });

  it('resolves relative file names against the config directory', () => {
    const { config } = check(doc({}, {}, { tls: { ca_file: 'ca.pem' } }), pki.dir);
    expect(config!.tenants[0]!.sites[0]!.tls).toEqual({ ca: pki.read('ca') });
  });

  it('a missing file is refused at its path', () => {
    const { config, problems } = check(doc({}, {}, { tls: { ca_file: '/nonexistent/ca.pem' } }));
    expect(config).toBeUndefined();
    expect(problemAt(problems, `${at}.ca_file`).message).toContain('ENOENT');
  });

  it('a key that does not belong to the certificate is refused at key_file', () => {
    const { config, problems } = check(doc({}, {}, { tls: { cert_file: pki.files.clientCert, key_file: pki.files.serverKey } }));
    expect(config).toBeUndefined();
    expect(problemAt(problems, `${at}.key_file`).message).toContain('does not belong');
  });

  it('a CA or certificate that is not PEM is refused', () => {
    const junk = join(pki.dir, 'junk.pem');
    writeFileSync(junk, 'not a certificate\n');
    const { problems } = check(doc({}, {}, { tls: { ca_file: junk, cert_file: junk, key_file: pki.files.clientKey } }));
    expect(problemAt(problems, `${at}.ca_file`).message).toContain('not a PEM certificate');
    expect(problemAt(problems, `${at}.cert_file`).message).toContain('not a PEM certificate');
  });

  it('cert_file without key_file is refused', () => {
    const { problems } = check(doc({}, {}, { tls: { cert_file: pki.files.clientCert } }));
    expect(problemAt(problems, `${at}.key_file`).message).toContain('go together');
  });

  it('a tls block on a site whose backends are all http:// is a warning', () => {
    const raw = doc();
    (raw.tenants as any).acme.sites[1].tls = { ca_file: pki.files.ca };
    const { config, problems } = check(raw);
    expect(config).toBeDefined();
    const p = problemAt(problems, 'tenants.acme.sites[1].tls');
    expect(p.severity).toBe('warning');
    expect(p.message).toContain('http://');
  });

  it('a changed file is a changed site config (a reload builds new pools)', () => {
    const copy = join(pki.dir, 'ca-copy.pem');
    copyFileSync(pki.files.ca, copy);
    const before = JSON.stringify(check(doc({}, {}, { tls: { ca_file: copy } })).config!.tenants[0]);
    copyFileSync(pki.files.clientCert, copy);
    const after = JSON.stringify(check(doc({}, {}, { tls: { ca_file: copy } })).config!.tenants[0]);
    expect(after).not.toBe(before);
  });
});

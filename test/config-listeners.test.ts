/**
 * `listen` as a list of listeners and the TLS settings (issue 22): path-named errors for bad
 * entries, duplicate addresses and certificate pairs that do not belong together; the single
 * string form keeps working.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type ConfigProblem } from '../src/config/index.js';
import { DEFAULT_TLS_CIPHERS } from '../src/config/defaults.js';
import { tempDir } from './helpers/proxy.js';
import { makeCert, type TestCert } from './helpers/certs.js';

const tenant = { tier: 'BC', hosts: ['a.example.com'], sites: [{ name: 'a', backends: ['http://10.0.0.1:80'] }] };
let a: TestCert, b: TestCert;

function check(listen: unknown, extra: Record<string, unknown> = {}): ReturnType<typeof validateConfig> {
  return validateConfig({ listen, tenants: { acme: { ...tenant, ...extra } } }, { baseDir: '/etc/drproxy' });
}

function errorAt(problems: ConfigProblem[], path: string): string | undefined {
  return problems.find((p) => p.path === path && p.severity === 'error')?.message;
}

beforeAll(async () => {
  const dir = await tempDir('drproxy-config-tls-');
  a = makeCert(dir, 'a', ['a.example.com']);
  b = makeCert(dir, 'b', ['b.example.com']);
});

describe('listen as a list', () => {
  it('keeps the string form, and normalises a list into listeners (listen = the first)', () => {
    const one = check('0.0.0.0:8080').config!;
    const plain = { proxy_protocol: false, http2: true, h2c: false };
    expect(one.listeners).toEqual([{ address: { host: '0.0.0.0', port: 8080 }, ...plain }]);
    const two = check(['127.0.0.1:80', { address: '127.0.0.1:443', tls: { cert_file: a.cert, key_file: a.key } }]).config!;
    expect(two.listen).toEqual({ host: '127.0.0.1', port: 80 });
    expect(two.listeners[1]).toEqual({
      address: { host: '127.0.0.1', port: 443 },
      ...plain,
      tls: { cert_file: a.cert, key_file: a.key, min_version: 'TLSv1.2', ciphers: DEFAULT_TLS_CIPHERS, ticket_rotation: 12 * 3600_000 },
    });
  });

  it('refuses duplicate addresses and bad entries, naming them', () => {
    expect(errorAt(check(['127.0.0.1:80', '127.0.0.1:80']).problems, 'listen[1]')).toContain('duplicate listen address');
    expect(errorAt(check(['127.0.0.1:80', { addr: '127.0.0.1:81' }]).problems, 'listen[1].address')).toContain('required');
    expect(errorAt(check(['127.0.0.1:80', 'nope']).problems, 'listen[1]')).toContain('not a listen address');
    expect(errorAt(check([]).problems, 'listen')).toContain('at least one');
  });

  it('names the certificate file at fault', () => {
    const missing = check(['127.0.0.1:80', { address: '127.0.0.1:443', tls: { cert_file: '/nonexistent/x.crt', key_file: a.key } }]).problems;
    expect(errorAt(missing, 'listen[1].tls.cert_file')).toContain('cannot read /nonexistent/x.crt');
    const mismatched = check([{ address: '127.0.0.1:443', tls: { cert_file: a.cert, key_file: b.key } }]).problems;
    expect(errorAt(mismatched, 'listen[0].tls.key_file')).toContain('is not the key of the certificate');
    const half = check([{ address: '127.0.0.1:443', tls: { cert_file: a.cert } }]).problems;
    expect(errorAt(half, 'listen[0].tls.key_file')).toContain('go together');
    expect(errorAt(check([{ address: '127.0.0.1:443', tls: {} }]).problems, 'listen[0].tls')).toContain('needs a default certificate');
    const version = check([{ address: '127.0.0.1:443', tls: { cert_file: a.cert, key_file: a.key, min_version: 'TLSv1.1' } }]).problems;
    expect(errorAt(version, 'listen[0].tls.min_version')).toBeDefined();
  });

  it('reads tenants.X.tls and checks its pair', () => {
    const tlsListener = [{ address: '127.0.0.1:443', tls: { cert_file: a.cert, key_file: a.key } }];
    expect(check(tlsListener, { tls: { cert_file: a.cert, key_file: a.key } }).config!.tenants[0]!.tls).toEqual({ cert_file: a.cert, key_file: a.key });
    expect(errorAt(check(tlsListener, { tls: { cert_file: b.cert, key_file: a.key } }).problems, 'tenants.acme.tls.key_file')).toContain('is not the key');
    const unserved = check('127.0.0.1:80', { tls: { cert_file: a.cert, key_file: a.key } }).problems;
    expect(unserved.find((p) => p.path === 'tenants.acme.tls')?.severity).toBe('warning');
  });
});

describe('listener protocol options', () => {
  it('takes http2 on TLS listeners and h2c on plain ones, refusing them the other way round', () => {
    const ok = check([{ address: '127.0.0.1:80', h2c: true }, { address: '127.0.0.1:443', http2: false, tls: { cert_file: a.cert, key_file: a.key } }]).config!;
    expect(ok.listeners.map((l) => [l.h2c, l.http2])).toEqual([[true, true], [false, false]]);
    expect(errorAt(check([{ address: '127.0.0.1:80', http2: true }]).problems, 'listen[0].http2')).toContain('TLS listeners only');
    expect(errorAt(check([{ address: '127.0.0.1:443', h2c: true, tls: { cert_file: a.cert, key_file: a.key } }]).problems, 'listen[0].h2c')).toContain('without TLS');
  });
});

/**
 * Issue 18: `state.etcd` (clustered mode) is read in full, every field validated with its path;
 * check-config accepts a good section and names a bad field. (Issue 17 refused the section
 * while clustered mode was not built.)
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText, validateConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';
import { tempDir } from './helpers/proxy.js';
import { Fields, Problems } from '../src/config/fields.js';
import { readEtcd } from '../src/config/etcd-section.js';

const TENANTS = {
  acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }, { name: 'b1', backends: ['http://127.0.0.1:10'] }] },
};
const ETCD = { endpoints: ['http://127.0.0.1:2379'], prefix: '/drproxy/prod', lease_ttl: '5s', quorum: 2 };

const YAML = `
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
state:
  dir: STATE
  etcd:
    endpoints: [http://127.0.0.1:2379]
tenants:
  acme:
    tier: BC
    hosts: [acme.example.com]
    sites:
      - { name: a1, backends: [http://127.0.0.1:9] }
      - { name: b1, backends: [http://127.0.0.1:10] }
`;

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function run(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
    child.stdin?.end();
  });
}

describe('state.etcd', () => {
  it('is accepted: the config carries the section, defaults filled', () => {
    const { config, problems } = validateConfig({ state: { dir: '/var/lib/drproxy', etcd: ETCD }, tenants: TENANTS }, { baseDir: '/etc/drproxy' });
    expect(problems).toEqual([]);
    expect(config!.state.etcd).toMatchObject({ endpoints: ['http://127.0.0.1:2379'], prefix: '/drproxy/prod', lease_ttl: 5000, quorum: 2, coordinator_loss: 'fail_closed' });
  });

  it('makes a file with a bad field fail to load with DRP_CONFIG_INVALID naming the field', () => {
    let err: unknown;
    try {
      parseConfigText(YAML.replace('STATE', '/tmp/x').replace('endpoints: [http://127.0.0.1:2379]', 'endpoints: [ftp://127.0.0.1:2379]'), 'drproxy.yaml', '/etc/drproxy');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('DRP_CONFIG_INVALID');
    expect((err as ConfigError).message).toMatch(/^drproxy\.yaml: 1 problem\n {2}state\.etcd\.endpoints\[0\]: /);
  });

  it('reports an empty endpoint list with its path', () => {
    const { problems } = validateConfig({ state: { etcd: { endpoints: [] } }, tenants: TENANTS }, { baseDir: '/etc/drproxy' });
    expect(problems.map((p) => p.path)).toEqual(['state.etcd.endpoints']);
  });

  it('check-config accepts the section', async () => {
    const dir = await tempDir();
    const file = join(dir, 'drproxy.yaml');
    await writeFile(file, YAML.replace('STATE', join(dir, 'state')));
    const check = await run('check-config', file);
    expect(check.out).not.toContain('state.etcd');
    expect(check.code).toBe(0);
  });

  // Issue 18 step 2: the section is read in full (for when the refusal goes), defaults included.
  const problemsOf = (etcd: Record<string, unknown>) =>
    validateConfig({ state: { etcd: { endpoints: ['http://127.0.0.1:2379'], ...etcd } }, tenants: TENANTS }, { baseDir: '/etc/drproxy' })
      .problems.filter((p) => p.path !== 'state.etcd')
      .map((p) => `${p.path}: ${p.message}`);

  it('validates every field of the section with its path', () => {
    expect(problemsOf({ prefix: '/p', lease_ttl: '10s', quorum: 'majority', coordinator_loss: 'fail_static', dial_timeout: '3s', request_timeout: '2s' })).toEqual([]);
    expect(problemsOf({ quorum: 2 })).toEqual([]);
    expect(problemsOf({ lease_ttl: '2s' })).toEqual([]); // the default request_timeout shrinks to 666ms
    expect(problemsOf({ lease_ttl: '1s' })).toEqual(['state.etcd.lease_ttl: must be at least 2s, got "1s"']);
    expect(problemsOf({ lease_ttl: '2500ms' })).toEqual(['state.etcd.lease_ttl: must be a whole number of seconds (etcd leases count in seconds), got "2500ms"']);
    expect(problemsOf({ quorum: 'most' })).toEqual(['state.etcd.quorum: expected "majority" or a whole number of replicas, got "most"']);
    expect(problemsOf({ quorum: 0 })).toEqual(['state.etcd.quorum: must be at least 1, got 0']);
    expect(problemsOf({ coordinator_loss: 'open' })).toEqual(['state.etcd.coordinator_loss: expected one of fail_closed, fail_static, got "open"']);
    expect(problemsOf({ dial_timeout: '0s' })).toEqual(['state.etcd.dial_timeout: must be more than 0s, got "0s"']);
    expect(problemsOf({ request_timeout: '2s' })).toEqual(['state.etcd.request_timeout: must be at most a third of lease_ttl (5s / 3), got "2s"']);
    expect(problemsOf({ leas_ttl: '5s' })).toEqual(['state.etcd.leas_ttl: unknown key (did you mean "lease_ttl"?)']);
  });

  it('fills the defaults: prefix /drproxy, lease_ttl 5s, quorum majority, fail_closed, 2s dial, 1s requests', () => {
    const out = new Problems();
    const f = Fields.of({ endpoints: ['http://127.0.0.1:2379/'] }, 'state.etcd', out);
    expect(readEtcd(f)).toEqual({
      endpoints: ['http://127.0.0.1:2379'],
      prefix: '/drproxy',
      lease_ttl: 5000,
      quorum: 'majority',
      coordinator_loss: 'fail_closed',
      dial_timeout: 2000,
      request_timeout: 1000,
      replica_id: expect.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/),
    });
    expect(out.list).toEqual([]);
  });

  it('takes a replica id, and names a bad one with its path', () => {
    const out = new Problems();
    expect(readEtcd(Fields.of({ endpoints: ['http://127.0.0.1:2379'], replica_id: 'proxy-0' }, 'state.etcd', out))?.replica_id).toBe('proxy-0');
    readEtcd(Fields.of({ endpoints: ['http://127.0.0.1:2379'], replica_id: 'a/b' }, 'state.etcd', out));
    expect(out.list.map((p) => p.path).join(' ')).toMatch(/state\.etcd\.replica_id/);
  });
});

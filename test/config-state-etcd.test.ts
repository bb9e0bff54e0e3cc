/**
 * Issue 17, item 14: clustered mode is not built, so a config with `state.etcd` is refused (it
 * used to be accepted and ignored: replicas configured for etcd each kept their own epochs).
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfigText, validateConfig } from '../src/config/index.js';
import { ConfigError } from '../src/errors.js';
import { tempDir } from './helpers/proxy.js';

const MESSAGE =
  'clustered mode is not built yet, so this block would be ignored and replicas configured for etcd would each keep their own epochs (split brain); remove state.etcd and run one drproxy per state directory';

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
  it('is refused at validation, with its path, a clear message and a stable code', () => {
    const { config, problems } = validateConfig({ state: { dir: '/var/lib/drproxy', etcd: ETCD }, tenants: TENANTS }, { baseDir: '/etc/drproxy' });
    expect(config).toBeUndefined();
    expect(problems).toEqual([{ path: 'state.etcd', message: MESSAGE, severity: 'error', code: 'DRP_CONFIG_UNSUPPORTED' }]);
  });

  it('makes the config file fail to load with DRP_CONFIG_INVALID naming state.etcd', () => {
    let err: unknown;
    try {
      parseConfigText(YAML.replace('STATE', '/tmp/x'), 'drproxy.yaml', '/etc/drproxy');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('DRP_CONFIG_INVALID');
    expect((err as ConfigError).message).toBe(`drproxy.yaml: 1 problem\n  state.etcd: ${MESSAGE}`);
  });

  it('is refused even when its own fields are wrong (they are reported too)', () => {
    const { problems } = validateConfig({ state: { etcd: { endpoints: [] } }, tenants: TENANTS }, { baseDir: '/etc/drproxy' });
    expect(problems.map((p) => p.path)).toEqual(['state.etcd', 'state.etcd.endpoints']);
  });

  it('stops drproxy from starting, and check-config reports it', async () => {
    const dir = await tempDir();
    const file = join(dir, 'drproxy.yaml');
    await writeFile(file, YAML.replace('STATE', join(dir, 'state')));
    const start = await run('--config', file);
    expect(start.code).not.toBe(0);
    expect(start.out).toContain(`state.etcd: ${MESSAGE}`);
    expect(start.out).not.toContain('drproxy listening');
    const check = await run('check-config', file);
    expect(check.code).toBe(1);
    expect(check.out).toContain(`state.etcd: ${MESSAGE}`);
  });
});

/**
 * `drproxy check-config FILE [--strict]`: problems and warnings go to stderr with their config
 * path, stdout carries only the OK summary; --strict makes warnings fatal; token files that are
 * missing, unreadable or empty and token variables that are unset are warnings naming
 * `admin.tokens[i].token_file` / `.token_env`. Runs the built CLI.
 */
import { describe, expect, it } from 'vitest';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './helpers/proxy.js';
import { runCli } from './helpers/cli.js';

const SITES = `
tenants:
  acme:
    tier: BC
    hosts: [acme.example.com]
    sites:
      - { name: a1, backends: [http://127.0.0.1:9] }
      - { name: b1, backends: [http://127.0.0.1:10] }
`;

async function configWith(admin: string, tenants = SITES): Promise<{ dir: string; file: string }> {
  const dir = await tempDir();
  const file = join(dir, 'drproxy.yaml');
  await writeFile(file, `${admin}\n${tenants}`);
  return { dir, file };
}

describe('drproxy check-config', () => {
  it('a clean file: the summary on stdout, nothing on stderr, exit 0 (with --strict too)', async () => {
    const { dir, file } = await configWith(`admin:\n  tokens:\n    - { name: ops, role: operator, token_file: ops.token }\n    - { name: view, role: viewer, token_env: DRP_CHECK_VIEWER }`);
    await writeFile(join(dir, 'ops.token'), 'secret\n', { mode: 0o600 });
    for (const strict of [[], ['--strict']]) {
      const r = await runCli(['check-config', file, ...strict], { DRP_CHECK_VIEWER: 'v' });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toBe(`${file}: OK: 1 tenant(s), 2 site(s), 2 backend(s)\n`);
    }
  });

  it('warnings go to stderr with their path; exit 0, or 1 under --strict with nothing on stdout', async () => {
    const one = SITES.replace('      - { name: b1, backends: [http://127.0.0.1:10] }\n', '');
    const { file } = await configWith('', one);
    const r = await runCli(['check-config', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^.*: warning: tenants\.acme\.sites: only one site/m);
    expect(r.stdout).toBe(`${file}: OK: 1 tenant(s), 1 site(s), 1 backend(s), 1 warning(s)\n`);
    const strict = await runCli(['check-config', file, '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toMatch(/warning: tenants\.acme\.sites: only one site/);
    expect(strict.stderr).toMatch(/1 warning\(s\), fatal under --strict/);
  });

  it('errors go to stderr only, exit 1', async () => {
    const { file } = await configWith('', SITES.replace('tier: BC', 'tier: GOLD'));
    const r = await runCli(['check-config', file]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/tenants\.acme\.tier: .*GOLD/);
  });

  it('missing, unreadable and empty token files and unset token variables are warnings naming their path', async () => {
    const { dir, file } = await configWith(
      [
        'admin:',
        '  tokens:',
        '    - { name: gone, role: operator, token_file: missing.token }',
        '    - { name: locked, role: operator, token_file: locked.token }',
        '    - { name: blank, role: viewer, token_file: empty.token }',
        '    - { name: unset, role: viewer, token_env: DRP_CHECK_UNSET }',
        '    - { name: set, role: viewer, token_env: DRP_CHECK_SET }',
        '    - { name: dir, role: viewer, token_file: a-directory }',
      ].join('\n'),
    );
    await writeFile(join(dir, 'locked.token'), 'secret\n');
    await chmod(join(dir, 'locked.token'), 0o000);
    await writeFile(join(dir, 'empty.token'), '\n');
    await mkdir(join(dir, 'a-directory'));
    const r = await runCli(['check-config', file], { DRP_CHECK_SET: 'x' });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: admin.tokens[0].token_file: ${join(dir, 'missing.token')} does not exist: the token "gone" would be disabled`);
    // root reads any file: the unreadable case only holds for other users.
    if (process.getuid?.() !== 0) expect(r.stderr).toContain(`warning: admin.tokens[1].token_file: ${join(dir, 'locked.token')} is not readable`);
    expect(r.stderr).toContain(`warning: admin.tokens[2].token_file: ${join(dir, 'empty.token')} is empty`);
    expect(r.stderr).toContain('warning: admin.tokens[3].token_env: environment variable DRP_CHECK_UNSET is not set or empty: the token "unset" would be disabled');
    expect(r.stderr).not.toMatch(/admin\.tokens\[4\]/);
    expect(r.stderr).toContain(`warning: admin.tokens[5].token_file: ${join(dir, 'a-directory')} cannot be read (EISDIR)`);
    expect(r.stdout).toMatch(/: OK: .* warning\(s\)\n$/);
    const strict = await runCli(['check-config', file, '--strict'], { DRP_CHECK_SET: 'x' });
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
  });

  it('a missing FILE is a usage error', async () => {
    const r = await runCli(['check-config']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing FILE/);
  });
});

import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/proxy.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function file(text: string): Promise<string> {
  const f = join(await tempDir(), 'drproxy.yaml');
  await writeFile(f, text);
  return f;
}

const GOOD = `
tenants:
  acme:
    tier: BC
    hosts: [acme.example.com]
    sites:
      - { name: a1, backends: [http://127.0.0.1:9] }
      - { name: b1, backends: [http://127.0.0.1:10, http://127.0.0.1:11] }
`;

describe('drproxy CLI', () => {
  it('--version prints the package version', async () => {
    const r = await run('--version');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^drproxy \d+\.\d+\.\d+/);
  });

  it('--help lists the commands', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/check-config FILE/);
    expect(r.stdout).toMatch(/--config FILE/);
  });

  it('check-config prints a one-line summary and exits 0 for a good file', async () => {
    const f = await file(GOOD);
    const r = await run('check-config', f);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`${f}: OK: 1 tenant(s), 2 site(s), 3 backend(s)`);
  });

  it('check-config prints every problem with its path to stderr and exits 1', async () => {
    const f = await file(GOOD.replace('http://127.0.0.1:9', 'ftp://x').replace('tier: BC', 'tier: GOLD'));
    const r = await run('check-config', f);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/tenants\.acme\.sites\[0\]\.backends\[0\]: .*http/);
    expect(r.stderr).toMatch(/tenants\.acme\.tier: .*GOLD/);
  });

  it('check-config names line and column of a YAML syntax error', async () => {
    const f = await file('tenants:\n  acme: [unclosed\n');
    const r = await run('check-config', f);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line \d+, column \d+/);
  });

  it('serving with a bad config exits 1 without listening', async () => {
    const f = await file('listen: nowhere\ntenants: {}\n');
    const r = await run('--config', f);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/listen/);
  });

  it('an unknown command is a usage error', async () => {
    const r = await run('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });
});

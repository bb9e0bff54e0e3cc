/**
 * `drproxy status | head -1`: when the reader of the CLI's output goes away early, the CLI
 * stops quietly with status 0 (as cat and git do) instead of dying on an unhandled EPIPE with
 * a stack trace. The built CLI runs against a real drproxy; its output is made larger than a
 * pipe's buffer so that it is still writing when the reader closes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, type TestProxy } from './helpers/proxy.js';
import { runCli, runCliIntoClosedReader } from './helpers/cli.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const VIEWER = `view-${randomBytes(16).toString('hex')}`;
process.env.DRP_TEST_EPIPE_VIEWER = VIEWER;

/** Host names enough for `status --json` to be several pipe buffers (64 KiB) long. */
const HOSTS = Array.from({ length: 6000 }, (_, i) => `host-${String(i).padStart(5, '0')}.tenant-with-many-names.example.com`);

describe('the CLI when its reader closes early (EPIPE)', () => {
  let up: Upstream | undefined;
  let p: TestProxy | undefined;
  let admin: string[] = [];

  beforeAll(async () => {
    up = await startUpstream('a1');
    p = await startProxy({
      admin: { tokens: [{ name: 'grafana', role: 'viewer', token_env: 'DRP_TEST_EPIPE_VIEWER' }] },
      tenants: { acme: { tier: 'BC', hosts: HOSTS, sites: [{ name: 'a1', backends: [up.url] }] } },
    });
    admin = ['--admin', p.adminUrl, '--token', VIEWER];
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(up);
  });

  it('status --json | head -1: exits 0 with nothing on stderr', async () => {
    const full = await runCli(['status', '--json', ...admin]);
    expect(full.code).toBe(0);
    // Several pipe buffers: the CLI is still writing when the reader has gone.
    expect(full.stdout.length).toBeGreaterThan(4 * 64 * 1024);
    const r = await runCliIntoClosedReader(['status', '--json', ...admin], 'firstLine');
    expect(r.stdout).toBe('{\n');
    expect(r.stderr).toBe('');
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
  });

  it('status, reader gone before the first line: exits 0 with nothing on stderr', async () => {
    const r = await runCliIntoClosedReader(['status', ...admin], 'immediately');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('check-config, --help and --version, reader gone: exit 0 with nothing on stderr', async () => {
    const f = join(await tempDir(), 'drproxy.yaml');
    await writeFile(f, `tenants:\n  acme:\n    tier: BC\n    hosts: [acme.example.com]\n    sites:\n      - { name: a1, backends: [http://127.0.0.1:9] }\n      - { name: b1, backends: [http://127.0.0.1:10] }\n`);
    for (const args of [['check-config', f], ['--help'], ['--version']]) {
      const r = await runCliIntoClosedReader(args, 'immediately');
      expect({ args, stderr: r.stderr, code: r.code }).toEqual({ args, stderr: '', code: 0 });
    }
  });
});

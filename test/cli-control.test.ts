/**
 * The operator commands (drproxy status|failover|failback|fence|unfence|drain|enable|reload),
 * run as the built CLI against a real drproxy: in-process for most, a child process started
 * from a config file for reload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { PATIENT_CHECKS, spawnProxy, startProxy, tempDir, type ChildProxy, type TestProxy } from './helpers/proxy.js';

import { waitFor } from './helpers/poll.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

const OPERATOR = `op-${randomBytes(16).toString('hex')}`;
const VIEWER = `view-${randomBytes(16).toString('hex')}`;
process.env.DRP_TEST_OPERATOR = OPERATOR;
process.env.DRP_TEST_VIEWER = VIEWER;

const ADMIN = {
  tokens: [
    { name: 'ops', role: 'operator', token_env: 'DRP_TEST_OPERATOR' },
    { name: 'grafana', role: 'viewer', token_env: 'DRP_TEST_VIEWER' },
  ],
};

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI, with none of the caller's DRPROXY_* variables unless given. */
function run(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DRPROXY_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...base, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

function adminUrlOf(p: TestProxy): string {
  const admin = (p.proxy as unknown as { admin?: { address(): AddressInfo } }).admin;
  if (!admin) throw new Error('drproxy has no admin listener');
  return `http://127.0.0.1:${admin.address().port}`;
}

describe('operator commands against a running drproxy', () => {
  let a1a: Upstream | undefined, a1b: Upstream | undefined, b1: Upstream | undefined;
  let p: TestProxy | undefined;
  let admin = '';
  /** The built CLI as the operator. */
  const op = (...args: string[]) => run([...args, '--admin', admin, '--token', OPERATOR]);
  const tenant = () => p!.proxy.tenant('acme')!;

  beforeAll(async () => {
    [a1a, a1b, b1] = await Promise.all([startUpstream('a1'), startUpstream('a1'), startUpstream('b1')]);
    p = await startProxy({
      admin: ADMIN,
      defaults: { health_check: PATIENT_CHECKS, failover: { min_interval: '0s', drain_timeout: '1s' } },
      tenants: {
        acme: {
          tier: 'BC',
          hosts: ['acme.example.com'],
          sites: [
            { name: 'a1', region: 'A', zone: '1A', backends: [a1a.url, a1b.url] },
            { name: 'b1', region: 'B', zone: '1B', backends: [b1.url] },
          ],
        },
      },
    });
    admin = adminUrlOf(p);
    await waitFor(() => tenant().sites.every((s) => s.backends.every((b) => b.health.check.state === 'up')), { what: 'all backends up' });
  });

  afterAll(async () => {
    await p?.stop();
    await stopAll(a1a, a1b, b1);
  });

  async function servedBy(): Promise<string | undefined> {
    const r = await request(`${p!.url}/`, { headers: { host: 'acme.example.com' } });
    await r.body.dump();
    return r.headers['x-site'] as string | undefined;
  }

  it('status prints a tenant table and a site table (a viewer token is enough)', async () => {
    const epoch = tenant().state.epoch;
    const r = await run(['status', '--admin', admin, '--token', VIEWER]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^drproxy \d+\.\d+\.\d+, up /);
    expect(r.stdout).toMatch(/^TENANT\s+TIER\s+RPO\/RTO\s+PHASE\s+EPOCH\s+ACTIVE\s+FENCED/m);
    expect(r.stdout).toMatch(new RegExp(`^acme\\s+BC\\s+15m/15m\\s+active\\s+${epoch}\\s+a1\\s+-\\s+auto\\s+manual$`, 'm'));
    expect(r.stdout).toMatch(/^TENANT\s+SITE\s+REGION\/ZONE\s+ROLE\s+AVAILABLE\s+BACKENDS\s+DATA AGE\s+READY$/m);
    expect(r.stdout).toMatch(/^acme\s+a1\s+A\/1A\s+active\s+yes\s+2\/2 up\s+-\s+yes$/m);
    expect(r.stdout).toMatch(/^acme\s+b1\s+B\/1B\s+standby\s+yes\s+1\/1 up\s+-\s+yes$/m);
  });

  it('status --json prints the API answer (durations in ms: see cli-json.test.ts)', async () => {
    const r = await op('status', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as { tenants: Array<Record<string, unknown>>; uptime_ms: number };
    expect(s.uptime_ms).toBeGreaterThanOrEqual(0);
    expect(s.tenants).toHaveLength(1);
    expect(s.tenants[0]).toMatchObject({ name: 'acme', tier: 'BC', phase: 'active', active: 'a1', fenced: [], rto_ms: 900_000 });
    expect((s.tenants[0]!.sites as Array<{ name: string; backends: unknown[] }>).map((x) => [x.name, x.backends.length])).toEqual([
      ['a1', 2],
      ['b1', 1],
    ]);
  });

  it('the admin URL and token may come from DRPROXY_ADMIN and DRPROXY_TOKEN, or --token-file', async () => {
    const env = await run(['status', '--json'], { DRPROXY_ADMIN: admin, DRPROXY_TOKEN: VIEWER });
    expect(env.code).toBe(0);
    expect(JSON.parse(env.stdout)).toHaveProperty('tenants');
    const file = join(await tempDir(), 'token');
    await writeFile(file, `${VIEWER}\n`, { mode: 0o600 });
    const fromFile = await run(['status', '--admin', admin, '--token-file', file]);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toMatch(/^acme\s/m);
  });

  it('failover --to moves the traffic and prints both epochs and the share of the RTO', async () => {
    const before = tenant().state.epoch;
    expect(await servedBy()).toBe('a1');
    const r = await op('failover', 'acme', '--to', 'b1', '--reason', 'DR drill');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(new RegExp(`^failover acme: a1 → b1, epoch ${before} → ${before + 1}, \\d+ ms \\(RTO 15m: \\d+\\.\\d+%\\)$`));
    expect(tenant().state).toMatchObject({ active: 'b1', epoch: before + 1, fenced: ['a1'] });
    expect(await servedBy()).toBe('b1');

    const s = await op('status');
    expect(s.stdout).toMatch(new RegExp(`^acme\\s+BC\\s+15m/15m\\s+active\\s+${before + 1}\\s+b1\\s+a1\\s`, 'm'));
    expect(s.stdout).toMatch(/^acme\s+a1\s+A\/1A\s+fenced\s+yes\s+2\/2 up/m);
  });

  it('status TENANT lists its recent failovers with actor and reason', async () => {
    const r = await op('status', 'acme');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Recent failovers/m);
    expect(r.stdout).toMatch(new RegExp(`^\\S+Z\\s+a1\\s+b1\\s+${tenant().state.epoch}\\s+admin\\s+routed\\s+\\d+ ms\\s+\\S+%\\s+ops\\s+DR drill$`, 'm'));
    const j = await op('status', 'acme', '--json');
    const t = JSON.parse(j.stdout) as { flips: Array<{ to: string; reason: string; actor: string }> };
    expect(t.flips.at(-1)).toMatchObject({ to: 'b1', reason: 'DR drill', actor: 'ops' });
  });

  it('failback moves the traffic back to the preferred site (--json prints the API answer)', async () => {
    const before = tenant().state.epoch;
    const r = await op('failback', 'acme', '--reason', 'drill over', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({ tenant: 'acme', from: 'b1', to: 'a1', epoch_before: before, epoch: before + 1, result: 'routed', rto_ms: 900_000 });
    expect(j.duration_ms).toBeTypeOf('number');
    expect(tenant().state).toMatchObject({ active: 'a1', fenced: ['b1'] });
    expect(await servedBy()).toBe('a1');

    // Failing back to the site that is already active is refused: 409, exit 1.
    const again = await op('failback', 'acme', '--reason', 'twice');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^drproxy: 409 conflict: .*a1.* already active/m);
    expect(again.stdout).toBe('');
  });

  it('unfence and fence a site', async () => {
    const epoch = tenant().state.epoch;
    const u = await op('unfence', 'acme', 'b1', '--reason', 'b1 is healthy again');
    expect(u.stderr).toBe('');
    expect(u.code).toBe(0);
    expect(u.stdout.trim()).toBe(`unfence acme/b1: fenced sites: none, epoch ${epoch}`);
    expect(tenant().state.fenced).toEqual([]);

    const f = await op('fence', 'acme', 'b1', '--reason', 'storage maintenance in region B');
    expect(f.code).toBe(0);
    expect(f.stdout.trim()).toBe(`fence acme/b1: fenced sites: b1, epoch ${epoch}`);
    expect(tenant().state.fenced).toEqual(['b1']);
    expect((await op('status')).stdout).toMatch(/^acme\s+b1\s+B\/1B\s+fenced\s/m);

    const fj = await op('unfence', 'acme', 'b1', '--reason', 'maintenance done', '--json');
    expect(JSON.parse(fj.stdout)).toEqual({ tenant: 'acme', site: 'b1', fenced: [], epoch });

    // The active site cannot be fenced.
    const active = await op('fence', 'acme', 'a1', '--reason', 'oops');
    expect(active.code).toBe(1);
    expect(active.stderr).toMatch(/^drproxy: 409 conflict: site a1 is active/m);
    expect(tenant().state.fenced).toEqual([]);
  });

  it('drain and enable a backend', async () => {
    const name = new URL(a1a!.url).host; // backends are named host:port by default
    const backend = () => tenant().site('a1')!.backends.find((b) => b.backend.name === name)!;
    const d = await op('drain', 'acme', 'a1', name, '--reason', 'kernel patch');
    expect(d.stderr).toBe('');
    expect(d.code).toBe(0);
    expect(d.stdout.trim()).toBe(`drain acme/a1/${name}: drained (no new requests)`);
    expect(backend().drained).toBe(true);
    expect((await op('status')).stdout).toMatch(/^acme\s+a1\s+A\/1A\s+active\s+yes\s+2\/2 up \(1 drained\)/m);

    const e = await op('enable', 'acme', 'a1', name, '--reason', 'patched', '--json');
    expect(e.code).toBe(0);
    expect(JSON.parse(e.stdout)).toEqual({ tenant: 'acme', site: 'a1', backend: name, drained: false });
    expect(backend().drained).toBe(false);

    const missing = await op('drain', 'acme', 'a1', '127.0.0.1:1', '--reason', 'typo');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^drproxy: 404 not_found: .*127\.0\.0\.1:1/m);
  });

  it('a mutation without --reason is a usage error (exit 2) and changes nothing', async () => {
    const before = { ...tenant().state };
    for (const args of [
      ['failover', 'acme', '--to', 'b1'],
      ['failback', 'acme'],
      ['fence', 'acme', 'b1'],
      ['unfence', 'acme', 'b1', '--reason', '  '],
      ['drain', 'acme', 'a1', new URL(a1b!.url).host],
      ['enable', 'acme', 'a1', new URL(a1b!.url).host],
    ]) {
      const r = await op(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^drproxy ${args[0]}: --reason TEXT is required`, 'm'));
      expect(r.stderr).toMatch(/^Usage: drproxy /m);
    }
    const missingArg = await op('fence', 'acme', '--reason', 'x');
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toMatch(/missing SITE/);
    expect(tenant().state).toMatchObject({ epoch: before.epoch, active: before.active, fenced: before.fenced });
  });

  it('a viewer token cannot fail over (403, exit 1); no token is 401 with a hint', async () => {
    const before = tenant().state.epoch;
    const r = await run(['failover', 'acme', '--to', 'b1', '--reason', 'x', '--admin', admin, '--token', VIEWER]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^drproxy: 403 forbidden: token "grafana" has role viewer/m);
    expect(r.stdout).toBe('');
    expect(tenant().state).toMatchObject({ epoch: before, active: 'a1' });

    const none = await run(['status', '--admin', admin]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^drproxy: 401 unauthorized: /m);
    expect(none.stderr).toMatch(/--token/);

    const json = await run(['fence', 'acme', 'b1', '--reason', 'x', '--admin', admin, '--token', VIEWER, '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: 'forbidden' });
  });

  it('an unknown tenant is 404, exit 1', async () => {
    const r = await op('failover', 'nope', '--reason', 'x');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^drproxy: 404 not_found: .*nope/m);
  });

  it('reload of a proxy not started from a file is refused with the reason (400, exit 1)', async () => {
    const r = await op('reload');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^drproxy: 400 invalid_config: /m);
  });

  it('connection refused names the admin URL (exit 1)', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const r = await run(['status', '--admin', url, '--token', VIEWER]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(url);
    expect(r.stderr).toMatch(/connection refused/);
    expect(r.stdout).toBe('');
  });
});

describe('drproxy reload against a proxy serving a config file', () => {
  let child: ChildProxy | undefined;
  let admin = '';
  const op = (...args: string[]) => run([...args, '--admin', admin, '--token', OPERATOR]);
  const tenantDoc = (name: string) => ({ tier: 'BC', hosts: [`${name}.example.com`], sites: [{ name: 's1', backends: ['http://127.0.0.1:9'] }] });

  beforeAll(async () => {
    child = await spawnProxy({ admin: ADMIN, defaults: { health_check: PATIENT_CHECKS }, tenants: { acme: tenantDoc('acme') } });
    const m = /"admin":"[^"]*:(\d+)"/.exec(child.output());
    if (!m) throw new Error(`no admin address in the output:\n${child.output()}`);
    admin = `http://127.0.0.1:${m[1]}`;
  });

  afterAll(async () => {
    await child?.kill('SIGTERM');
  });

  async function editConfig(edit: (doc: { tenants: Record<string, Record<string, unknown>> }) => void): Promise<void> {
    const doc = parse(await readFile(child!.configFile, 'utf8')) as { tenants: Record<string, Record<string, unknown>> };
    edit(doc);
    await writeFile(child!.configFile, stringify(doc));
  }

  it('reports what changed and the warnings; a bad file prints every problem and changes nothing', async () => {
    const same = await op('reload', '--reason', 'no-op');
    expect(same.code).toBe(0);
    // The new file's warnings are shown; it was applied anyway.
    expect(same.stderr).toMatch(/^warning: tenants\.acme\.sites: /m);
    expect(same.stdout.trim()).toBe('reload: OK, 1 tenant(s); no tenant changed');

    await editConfig((doc) => {
      doc.tenants.globex = tenantDoc('globex');
    });
    const added = await op('reload');
    expect(added.code).toBe(0);
    expect(added.stdout.trim()).toBe('reload: OK, 2 tenant(s); added globex');

    await editConfig((doc) => {
      doc.tenants.acme!.tier = 'GOLD';
      (doc.tenants.globex!.sites as Array<{ backends: string[] }>)[0]!.backends[0] = 'ftp://x';
    });
    const bad = await op('reload');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^drproxy: 400 invalid_config: /m);
    expect(bad.stderr).toMatch(/^tenants\.acme\.tier: .*GOLD/m);
    expect(bad.stderr).toMatch(/^tenants\.globex\.sites\[0\]\.backends\[0\]: /m);

    const status = await op('status', '--json');
    const s = JSON.parse(status.stdout) as { tenants: Array<{ name: string; tier: string }> };
    expect(s.tenants.map((t) => [t.name, t.tier])).toEqual([
      ['acme', 'BC'],
      ['globex', 'BC'],
    ]);

    await editConfig((doc) => {
      doc.tenants.acme!.tier = 'DR1';
      delete doc.tenants.globex;
    });
    const json = await op('reload', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, tenants: 1, added: [], removed: ['globex'], changed: ['acme'] });
  });
});

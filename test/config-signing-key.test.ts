/**
 * drills.signing_key_file: a key that cannot be used (missing, unreadable, a public key, not
 * Ed25519, not PEM) stops `drproxy serve` with DRP_SIGNING_KEY naming the path, fails
 * `drproxy check-config`, and refuses a reload (the running key stays); a usable key open to
 * others is a warning. The built CLI as a child process.
 */
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfigText } from '../src/config/index.js';
import { runCli } from './helpers/cli.js';
import { sampleDrillReport } from './helpers/drill-report.js';
import { startProxy, tempDir, testConfigDoc } from './helpers/proxy.js';

const TENANTS = {
  acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }, { name: 'b1', backends: ['http://127.0.0.1:10'] }] },
};

const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** A config file whose drills.signing_key_file is `key` (relative to the file's directory). */
async function configWithKey(key: string): Promise<{ dir: string; file: string }> {
  const dir = await tempDir('drproxy-key-');
  const file = join(dir, 'drproxy.yaml');
  await writeFile(file, stringify(await testConfigDoc({ drills: { signing_key_file: key }, tenants: TENANTS }, join(dir, 'state'))));
  return { dir, file };
}

describe('drills.signing_key_file', () => {
  it('check-config: each unusable key is an error naming drills.signing_key_file and the path', async () => {
    const { dir, file } = await configWithKey('drills.pem');
    const at = join(dir, 'drills.pem');
    const cases: [string, () => Promise<void>, RegExp][] = [
      ['missing', async () => {}, /does not exist/],
      ['public key', () => writeFile(at, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString()), /holds a public key; drproxy needs the private key/],
      ['RSA', () => writeFile(at, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()), /is a rsa key, not Ed25519 \(make one with: openssl genpkey -algorithm ed25519/],
      ['not PEM', () => writeFile(at, 'hello\n'), /is not a PEM private key/],
    ];
    for (const [what, make, message] of cases) {
      await make();
      const r = await runCli(['check-config', file]);
      expect(r.code, what).toBe(1);
      expect(r.stdout, what).toBe('');
      expect(r.stderr, what).toContain(`${file}: drills.signing_key_file: ${at} `);
      expect(r.stderr, what).toMatch(message);
    }
  });

  it('check-config: a usable key is fine at 0600, a warning when others may read it', async () => {
    const { dir, file } = await configWithKey('drills.pem');
    await writeFile(join(dir, 'drills.pem'), ed25519Pem(), { mode: 0o600 });
    const ok = await runCli(['check-config', file, '--strict']);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    await chmod(join(dir, 'drills.pem'), 0o644);
    const open = await runCli(['check-config', file]);
    expect(open.code).toBe(0);
    expect(open.stderr).toMatch(/warning: drills\.signing_key_file: .*drills\.pem is open to others \(mode 0644\): make it readable only by drproxy/);
    expect((await runCli(['check-config', file, '--strict'])).code).toBe(1);
  });

  it('serve: a missing key stops start-up with DRP_SIGNING_KEY and the path, before listening', async () => {
    const { dir, file } = await configWithKey('nope.pem');
    const r = await runCli(['--config', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`drproxy: drills.signing_key_file: ${join(dir, 'nope.pem')} does not exist`);
    expect(r.stdout).toMatch(/"code":"DRP_SIGNING_KEY"/);
    expect(r.stdout).not.toMatch(/drproxy listening/);
  });

  it('reload: a key that cannot be used refuses the reload; a new usable key is taken', async () => {
    const dir = await tempDir('drproxy-key-reload-');
    await writeFile(join(dir, 'a.pem'), ed25519Pem(), { mode: 0o600 });
    await writeFile(join(dir, 'b.pem'), ed25519Pem(), { mode: 0o600 });
    const p = await startProxy({ drills: { signing_key_file: join(dir, 'a.pem') }, tenants: TENANTS }, { noAdmin: true });
    try {
      const keyId = () => p.proxy.evidence().finish(sampleDrillReport()).signature?.key_id;
      const first = keyId();
      expect(first).toMatch(/^[0-9a-f]{16}$/);
      const withKey = (k: string) => parseConfigText(stringify({ listen: '127.0.0.1:0', server: { workers: p.proxy.currentConfig.server.workers }, admin: { listen: '127.0.0.1:0' }, state: { dir: p.stateDir }, drills: { signing_key_file: k }, tenants: TENANTS }), 'r.yaml', dir).config;
      const bad = await p.proxy.apply(withKey(join(dir, 'gone.pem')));
      expect(bad).toMatchObject({ ok: false, problems: [{ path: 'drills.signing_key_file', message: expect.stringMatching(/gone\.pem does not exist/) }] });
      expect(keyId()).toBe(first);
      expect(await p.proxy.apply(withKey(join(dir, 'b.pem')))).toMatchObject({ ok: true });
      expect(keyId()).not.toBe(first);
    } finally {
      await p.stop();
    }
  });
});

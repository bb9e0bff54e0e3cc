/**
 * A reload under server.workers reaches the workers' TLS listeners: a tenant added with its own
 * certificate is served it by every worker (SNI), and so is a worker started after the reload.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, type TestProxy } from './helpers/proxy.js';
import { handshake, makeCert, type TestCert } from './helpers/certs.js';
import { waitFor } from './helpers/poll.js';

let up: Upstream;
let p: TestProxy;
let dir: string;
let a: TestCert, b: TestCert, def: TestCert;
let tlsPort: number;

const tenant = (host: string, cert: TestCert) => ({ tier: 'BC', hosts: [host], tls: { cert_file: cert.cert, key_file: cert.key }, sites: [{ name: 's', backends: [up.url] }] });
const doc = (tenants: Record<string, unknown>, port = 0) => ({
  server: { workers: 2 },
  listen: [{ address: `127.0.0.1:${port}`, tls: { cert_file: def.cert, key_file: def.key } }],
  defaults: { health_check: { interval: '30s', timeout: '1s' } },
  tenants,
});

beforeAll(async () => {
  dir = await tempDir('drproxy-wtls-reload-');
  a = makeCert(dir, 'a', ['a.example.com']);
  b = makeCert(dir, 'b', ['b.example.com']);
  def = makeCert(dir, 'default', ['default.example.net']);
  up = await startUpstream('s');
  p = await startProxy(doc({ ta: tenant('a.example.com', a) }), { configFile: join(dir, 'drproxy.yaml') });
  tlsPort = p.proxy.threads!.ports()[0]!;
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

/** Several handshakes (new connections, spread over the workers): every one got `cert`. */
async function everyWorkerServes(name: string, cert: TestCert): Promise<void> {
  for (let i = 0; i < 8; i++) expect((await handshake(tlsPort, name)).fingerprint).toBe(cert.fingerprint);
}

describe('TLS certificates on reload, in the workers', () => {
  it('a tenant added with its own certificate is served it by every worker, and by a worker started later', async () => {
    await everyWorkerServes('a.example.com', a);
    expect((await handshake(tlsPort, 'b.example.com')).fingerprint).toBe(def.fingerprint);
    await writeFile(join(dir, 'drproxy.yaml'), stringify(await testConfigDoc(doc({ ta: tenant('a.example.com', a), tb: tenant('b.example.com', b) }, tlsPort), p.stateDir)));
    expect(await p.proxy.reload()).toMatchObject({ ok: true, added: ['tb'] });
    await waitFor(async () => (await handshake(tlsPort, 'b.example.com')).fingerprint === b.fingerprint, { what: 'the new certificate served' });
    await everyWorkerServes('b.example.com', b);
    const threads = p.proxy.threads!;
    const before = threads.ids();
    await threads.terminate(before[0]!);
    await waitFor(() => threads.ids().find((id) => !before.includes(id) && threads.listening.has(id)), { what: 'a new worker listening' });
    await everyWorkerServes('b.example.com', b);
  });
});

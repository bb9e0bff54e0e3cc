/**
 * Hot certificate reload (issue 22, item 2): a certificate replaced on disk is served to the
 * next handshake while a long download on a connection made before completes; a mismatched
 * pair is refused (logged, and POST /reload reports it naming the file) and the old
 * certificate is still served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import https from 'node:https';
import { copyFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { admin } from './helpers/admin.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, testConfigDoc, type TestProxy } from './helpers/proxy.js';
import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { makeCert, handshake, type TestCert } from './helpers/certs.js';
import { waitFor } from './helpers/poll.js';

let up: Upstream;
let p: TestProxy;
let dir: string;
let live: TestCert;
let def: TestCert;
let tlsPort: number;
let doc: (tenantTls: { cert_file: string; key_file: string }) => Record<string, unknown>;

/** Rewrite the config file (same state dir) and POST /reload. */
async function reloadWith(d: Record<string, unknown>) {
  await writeFile(join(dir, 'drproxy.yaml'), stringify(await testConfigDoc(d, p.stateDir)));
  return admin(p.adminUrl, 'POST', '/reload', { token: TOKEN, body: { reason: 'tls' } });
}
const TOKEN = 'reload-operator-token-0123456789';

/** Replace a file the way certbot and cert-manager do: write aside, rename over. */
function replace(from: string, to: string): void {
  copyFileSync(from, `${to}.tmp`);
  renameSync(`${to}.tmp`, to);
}

beforeAll(async () => {
  dir = await tempDir('drproxy-tls-reload-');
  live = makeCert(dir, 'live', ['a.example.com']);
  def = makeCert(dir, 'default', ['default.example.net']);
  up = await startUpstream('a');
  process.env.DRP_TLS_RELOAD_TOKEN = TOKEN;
  doc = (tenantTls) => ({
    listen: [{ address: '127.0.0.1:0', tls: { cert_file: def.cert, key_file: def.key } }],
    admin: { tokens: [{ name: 'ops', role: 'operator', token_env: 'DRP_TLS_RELOAD_TOKEN' }] },
    tenants: { ta: { tier: 'BC', hosts: ['a.example.com'], tls: tenantTls, sites: [{ name: 'a', backends: [up.url] }] } },
  });
  p = await startProxy(doc({ cert_file: live.cert, key_file: live.key }), { configFile: join(dir, 'drproxy.yaml') });
  tlsPort = p.ports[0]!;
});

afterAll(async () => {
  await p?.stop();
  await stopAll(up);
});

describe('hot certificate reload', () => {
  it('serves a replaced certificate to new handshakes while a download on an old connection completes', async () => {
    const size = 32 * 1024 * 1024;
    let got = 0;
    let oldPeer = '';
    const done = new Promise<number>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port: tlsPort, servername: 'a.example.com', path: `/bytes?n=${size}`, headers: { host: 'a.example.com' }, rejectUnauthorized: false, agent: false }, (res) => {
        oldPeer = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.pause();
        res.on('data', (d: Buffer) => (got += d.length));
        res.on('end', () => resolve(got));
        res.on('error', reject);
        // Resumed once the new certificate is served (below).
        (globalThis as { resumeDownload?: () => void }).resumeDownload = () => res.resume();
      });
      req.on('error', reject);
    });
    await waitFor(() => oldPeer !== '', { what: 'the download to start' });
    expect(oldPeer).toBe(live.fingerprint);
    const next = makeCert(dir, 'next', ['a.example.com']);
    replace(next.key, live.key);
    replace(next.cert, live.cert);
    await waitFor(async () => (await handshake(tlsPort, 'a.example.com')).fingerprint === next.fingerprint, { what: 'the new certificate on a new handshake' });
    // The default certificate too: a client without SNI.
    expect((await handshake(tlsPort, undefined)).fingerprint).toBe(def.fingerprint);
    const nextDef = makeCert(dir, 'next-default', ['default.example.net']);
    replace(nextDef.key, def.key);
    replace(nextDef.cert, def.cert);
    await waitFor(async () => (await handshake(tlsPort, undefined)).fingerprint === nextDef.fingerprint, { what: 'the new default certificate' });
    expect((await handshake(tlsPort, 'a.example.com')).fingerprint).toBe(next.fingerprint);
    (globalThis as { resumeDownload?: () => void }).resumeDownload!();
    expect(await done).toBe(size);
    live = { ...live, fingerprint: next.fingerprint };
  });

  it('refuses a mismatched pair, keeps serving the old certificate, and says so', async () => {
    const other = makeCert(dir, 'other', ['a.example.com']);
    replace(other.cert, live.cert); // the key stays the old one: they do not match
    await waitFor(() => p.logs.some((l) => l.event === 'tls_cert_refused' && String(l.msg).includes('is not the key of the certificate')), { what: 'the refusal in the log' });
    expect((await handshake(tlsPort, 'a.example.com')).fingerprint).toBe(live.fingerprint);
    const r = await admin(p.adminUrl, 'POST', '/reload', { token: TOKEN, body: { reason: 'certificates' } });
    expect(r.status, JSON.stringify(r.body)).toBe(400);
    const problems = r.body.problems as Array<{ path: string; message: string }>;
    expect(problems.some((x) => /\.tls\.key_file$/.test(x.path) && x.message.includes(live.key)), JSON.stringify(problems)).toBe(true);
    expect((await handshake(tlsPort, 'a.example.com')).fingerprint).toBe(live.fingerprint);
  });

  it('serves a tenant certificate named anew by a reload; a changed listener set needs a restart', async () => {
    const fresh = makeCert(dir, 'fresh', ['a.example.com']);
    const r = await reloadWith(doc({ cert_file: fresh.cert, key_file: fresh.key }));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((await handshake(tlsPort, 'a.example.com')).fingerprint).toBe(fresh.fingerprint);
    const more = doc({ cert_file: fresh.cert, key_file: fresh.key });
    more.listen = [...(more.listen as unknown[]), '127.0.0.1:0'];
    const refused = await reloadWith(more);
    expect(refused.status).toBe(400);
    expect((refused.body.problems as Array<{ path: string }>).map((x) => x.path)).toEqual(['listen']);
  });
});

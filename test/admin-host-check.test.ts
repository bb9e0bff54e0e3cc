/**
 * The admin listener checks Host against an allow-list, so that a browser page using DNS
 * rebinding (attacker.example re-pointed at the admin address) cannot read /metrics or
 * /status: before, `/metrics` answered `Host: attacker.example` and listed backend addresses.
 * By default IP literals, localhost and the host of admin.listen are allowed; others get 421
 * with a JSON body. admin.allowed_hosts adds names (exact, "*.suffix", "*"); a reload applies
 * it. The CLI keeps working against the default.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { HostCheck } from '../src/admin/host-check.js';
import { parseConfigText } from '../src/config/index.js';
import { adminTokens, VIEWER } from './helpers/admin.js';
import { startProxy, testConfigDoc, type TestProxy } from './helpers/proxy.js';
import { rawRequest } from './helpers/raw.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const BACKEND = 'http://127.0.0.1:39999';
let p: TestProxy;
let port: number;
let doc: Record<string, unknown>;

beforeAll(async () => {
  doc = {
    admin: adminTokens(),
    tenants: { acme: { tier: 'BC', hosts: ['acme.example.com'], sites: [{ name: 'a1', backends: [BACKEND] }] } },
  };
  p = await startProxy(doc);
  port = Number(new URL(p.adminUrl).port);
});

afterAll(() => p?.stop());

async function get(path: string, host: string | undefined, token?: string): Promise<{ status: number; text: string }> {
  const head = host === undefined ? `GET ${path} HTTP/1.0\r\n` : `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n`;
  const raw = await rawRequest(port, `${head}${token ? `Authorization: Bearer ${token}\r\n` : ''}Connection: close\r\n\r\n`);
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw)?.[1]), text: raw };
}

describe('admin Host allow-list', () => {
  it('a DNS-rebinding Host gets 421 with JSON on /metrics, /status and the probes, and no backend address', async () => {
    for (const host of ['attacker.example', `attacker.example:${port}`, 'ATTACKER.EXAMPLE.', '127.0.0.1.attacker.example', 'a b']) {
      const m = await get('/metrics', host);
      expect(m.status, host).toBe(421);
      expect(m.text).toMatch(/"error": "misdirected_request"/);
      expect(m.text).not.toContain('39999');
      expect((await get('/status', host, VIEWER)).status, host).toBe(421);
      expect((await get('/healthz', host)).status, host).toBe(421);
    }
  });

  it('IP literals, localhost, and requests without Host are served', async () => {
    for (const host of [`127.0.0.1:${port}`, '127.0.0.1', '10.1.2.3:9901', `[::1]:${port}`, '[::ffff:127.0.0.1]', `localhost:${port}`, 'LOCALHOST', 'localhost.']) {
      const m = await get('/metrics', host);
      expect(m.status, host).toBe(200);
      expect((await get('/status', host, VIEWER)).status, host).toBe(200);
    }
    expect((await get('/healthz', undefined)).status).toBe(200);
  });

  it('admin.allowed_hosts adds names, applied on reload', async () => {
    const next = await testConfigDoc({ ...doc, admin: { ...adminTokens(), listen: `127.0.0.1:${port}`, allowed_hosts: ['drproxy-admin.internal', '*.svc.cluster.local'] } }, p.stateDir);
    const { config } = parseConfigText(stringify(next), 'reload.yaml', '/tmp');
    expect((await p.proxy.apply(config!)).ok).toBe(true);
    expect((await get('/metrics', 'drproxy-admin.internal:9901')).status).toBe(200);
    expect((await get('/metrics', 'drproxy.ns.svc.cluster.local')).status).toBe(200);
    expect((await get('/metrics', 'svc.cluster.local')).status).toBe(421);
    expect((await get('/metrics', 'attacker.example')).status).toBe(421);
  });

  it('the CLI works against the default (an IP address or localhost)', async () => {
    for (const admin of [`127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const r = await new Promise<{ code: number; out: string }>((resolve) => {
        execFile(process.execPath, [CLI, 'status', '--admin', admin, '--token', VIEWER], { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: stdout + stderr }));
      });
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain('acme');
    }
  });
});

describe('HostCheck', () => {
  it('allows the host of admin.listen when it is a name, and "*" allows any host', () => {
    const own = new HostCheck([], 'admin.example.net');
    expect(own.allows('admin.example.net:9901')).toBe(true);
    expect(own.allows('other.example.net')).toBe(false);
    expect(new HostCheck([], '0.0.0.0').allows('0.0.0.0.example')).toBe(false);
    expect(new HostCheck(['*'], '127.0.0.1').allows('anything.example')).toBe(true);
  });

  it('rejects malformed Host values', () => {
    const h = new HostCheck([], '127.0.0.1');
    for (const bad of ['[zz]:1', '[::1', 'a:b:c', '127.0.0.1:80:80']) expect(h.allows(bad), bad).toBe(false);
  });
});

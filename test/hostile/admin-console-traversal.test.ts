/**
 * Path traversal against the console's files (issue 21, item 1), in raw bytes so that no
 * client normalises the path: `..`, `%2e%2e`, `%2f`, backslashes, NUL (escaped and raw), a
 * symbolic link in the build folder. Every one is refused (404, or 400 where Node's parser
 * rejects the request line) and no answer carries a byte of the files aimed at.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cp, symlink, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { startProxy, tempDir, type TestProxy } from '../helpers/proxy.js';
import { adminTokens } from '../helpers/admin.js';
import { rawRequest } from '../helpers/raw.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/console-web/', import.meta.url));
const tenants = { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: ['http://127.0.0.1:9'] }] } };
/** In the folder above the served one: what a traversal would read. */
const SECRET = 'TRAVERSAL-SECRET-5f1c';
let p: TestProxy;
let port: number;

beforeAll(async () => {
  const root = await tempDir('drproxy-console-');
  const web = join(root, 'web');
  await cp(FIXTURE, web, { recursive: true });
  await writeFile(join(root, 'secret.js'), `${SECRET}\n`);
  await symlink(join(root, 'secret.js'), join(web, 'linked.js'));
  await symlink(root, join(web, 'up'));
  p = await startProxy({ admin: adminTokens(), tenants }, { console: { assetsDir: web } });
  port = p.proxy.admin!.address().port;
});
afterAll(async () => {
  await p?.stop();
});

const raw = (target: string) => rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);

describe('console files: traversal', () => {
  it('the served file itself is reachable (the control)', async () => {
    const a = await raw('/console/app.js');
    expect(statusOf(a)).toBe(200);
    expect(a).toContain("textContent = 'fixture'");
  });

  const attempts = [
    '/console/../secret.js',
    '/console/../../package.json',
    '/console/lib/../../secret.js',
    '/console/lib/../app.js',
    '/console/%2e%2e/secret.js',
    '/console/%2E%2E/secret.js',
    '/console/..%2fsecret.js',
    '/console/%2e%2e%2fsecret.js',
    '/console/..%5csecret.js',
    '/console/..\\secret.js',
    '/console//etc/passwd',
    '/console/%2fetc%2fpasswd',
    '/console/app.js%00',
    '/console/app.js%00.png',
    '/console/%00',
    '/console/linked.js',
    '/console/up/secret.js',
    '/console/./app.js',
    '/console/%61pp.js',
    '/../secret.js',
    '/%2e%2e/secret.js',
  ];
  for (const target of attempts) {
    it(`GET ${target} → 404, nothing leaked`, async () => {
      const a = await raw(target);
      expect(statusOf(a)).toBe(404);
      expect(a).not.toContain(SECRET);
      expect(a).not.toContain('"name": "drproxy"');
      expect(a).toMatch(/content-security-policy: default-src 'none'/i);
    });
  }

  it('a raw NUL in the request line is refused by the parser (400), nothing leaked', async () => {
    const a = await raw('/console/app.js\0../secret.js');
    expect(statusOf(a)).toBe(400);
    expect(a).not.toContain(SECRET);
  });
});

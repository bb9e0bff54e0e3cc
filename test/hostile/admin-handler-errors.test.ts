/**
 * Hostile input to the admin API, sent as raw bytes to drproxy running as a child process:
 * whatever a client does (an oversized body, announced or not; a body cut off or malformed
 * mid-way; huge headers; odd methods; an Upgrade; leaving in the middle of a failover), it
 * gets an HTTP answer where one is possible and the process keeps running and serving.
 * Before the fix, an operator POST over 64 KiB got its 413 and then ended the process
 * (`req.socket` was null in the audit call of a promise nobody awaited).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { adminTokens, OPERATOR, VIEWER } from '../helpers/admin.js';
import { spawnAdminChild, type AdminChild } from '../helpers/admin-child.js';
import { FAST_CHECKS, tempDir } from '../helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { waitFor } from '../helpers/poll.js';
import { rawRequest } from '../helpers/raw.js';
import { startHookServer, type HookServer } from '../helpers/hook-server.js';

let a1: Upstream, b1: Upstream;
let hook: HookServer;
let d: AdminChild;
let auditFile: string;

beforeAll(async () => {
  [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  // b1's promote hook answers after 1 s: a failover to b1 is in progress that long.
  hook = await startHookServer(200, 1000);
  auditFile = join(await tempDir('drproxy-audit-'), 'audit.log');
  d = await spawnAdminChild(
    {
      admin: { ...adminTokens(), audit_file: auditFile },
      defaults: { health_check: FAST_CHECKS, failover: { min_interval: '0s', drain_timeout: '500ms' } },
      tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url], promote: { url: `${hook.url}/promote` } }] } },
    },
    { DRP_TEST_OPERATOR: OPERATOR, DRP_TEST_VIEWER: VIEWER },
  );
});

afterAll(async () => {
  await d?.child.kill();
  await stopAll(a1, b1);
  await hook?.close();
});

afterEach(async () => {
  // The point of every case: the process is still there and still answers.
  expect(d.alive(), d.child.output().slice(-2000)).toBe(true);
  expect(await d.serves()).toBe(true);
});

const AUTH = `Authorization: Bearer ${OPERATOR}\r\n`;
/** A follow-up request on the same connection. */
const STATUS = `GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${VIEWER}\r\n\r\n`;

/** Complete final answers in `raw` (1xx skipped), by Content-Length. */
function answers(raw: string): number {
  let n = 0;
  let at = 0;
  for (;;) {
    const head = raw.indexOf('\r\n\r\n', at);
    if (head === -1) return n;
    const headers = raw.slice(at, head);
    const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
    if (raw.length < head + 4 + length) return n;
    if (!/^HTTP\/1\.1 1\d\d/.test(headers)) n++;
    at = head + 4 + length;
  }
}

/**
 * Sends `parts` one after the other; resolves with what came back once `expect` answers are
 * complete (then the client closes), or the server closes, or after `timeoutMs`.
 */
function send(parts: Array<string | Buffer>, opts: { destroyAfter?: boolean; timeoutMs?: number; expect?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(d.adminPort, '127.0.0.1');
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => {
      out += c;
      if (opts.expect !== undefined && answers(out) >= opts.expect) {
        s.destroy();
        resolve(out);
      }
    });
    s.on('close', () => resolve(out));
    s.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? resolve(out) : reject(err)));
    s.setTimeout(opts.timeoutMs ?? 3000, () => {
      s.destroy();
      resolve(out);
    });
    s.on('connect', () => {
      for (const p of parts) s.write(p);
      if (opts.destroyAfter) s.destroy();
    });
  });
}

const status = (raw: string): number[] => [...raw.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));

describe('admin API under hostile input (child process)', () => {
  it('an operator POST over 64 KiB with Content-Length gets 413 with a JSON body; the body is dropped and the connection kept', async () => {
    const body = `{"reason":"${'a'.repeat(70_000)}"}`;
    const raw = await send([`POST /tenants/t/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`, body, STATUS], { expect: 2 });
    expect(status(raw)).toEqual([413, 200]);
    expect(raw).toMatch(/"error": "payload_too_large"/);
  });

  it('a chunked POST that grows past 64 KiB gets 413; the rest is dropped and the connection kept', async () => {
    const chunk = 'a'.repeat(16 * 1024);
    const chunks = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const raw = await send([`POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, ...chunks, '0\r\n\r\n', STATUS], { expect: 2 });
    expect(status(raw)).toEqual([413, 200]);
  });

  it('an anonymous chunked POST gets 401 without its body being read, and the connection closes', async () => {
    const chunk = 'a'.repeat(1024);
    const raw = await send([`POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, `${chunk.length.toString(16)}\r\n${chunk}\r\n`]);
    expect(status(raw)).toEqual([401]);
    expect(raw).toMatch(/connection: close/i);
  });

  it('Expect: 100-continue: an oversized Content-Length gets 413 and no 100; a refused call no 100 either', async () => {
    const big = await send([`POST /tenants/t/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n`]);
    expect(status(big)).toEqual([413]);
    expect(big).toMatch(/connection: close/i);
    const anon = await send([`POST /tenants/t/failover HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n`]);
    expect(status(anon)).toEqual([401]);
    const ok = await send([`POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n`], { timeoutMs: 500 });
    expect(ok).toMatch(/^HTTP\/1\.1 100 Continue/);
  });

  it('a client that sends half its body and leaves', async () => {
    await send([`POST /tenants/t/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"reason":"x`], { destroyAfter: true });
    // The server sees the connection go while it reads the body: nothing to answer, nothing may break.
    await waitFor(async () => (await readFile(auditFile, 'utf8')).includes('"status":499'), { what: 'the cut-off call audited' });
  });

  it('a chunked body with a malformed chunk size mid-way', async () => {
    const raw = await send([`POST /tenants/t/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"rea\r\nzz\r\n`]);
    expect(status(raw).every((s) => s === 400)).toBe(true);
  });

  it('headers over 16 KiB get 431; a 15 KB path gets 404', async () => {
    expect(status(await send([`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`]))).toEqual([431]);
    expect(status(await rawRequest(d.adminPort, `GET /${'p'.repeat(15_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`))).toEqual([404]);
  });

  it('odd methods: 405 with JSON for known ones, 400 for unknown ones, CONNECT closed', async () => {
    for (const m of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE']) {
      const raw = await rawRequest(d.adminPort, `${m} /tenants/t/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Connection: close\r\n\r\n`);
      expect(status(raw), m).toEqual([405]);
      expect(raw).toMatch(/"error": "method_not_allowed"/);
    }
    expect(status(await send([`FOO /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`]))).toEqual([400]);
    await send([`CONNECT 127.0.0.1:9 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n\r\n`]);
    const head = await rawRequest(d.adminPort, `HEAD /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(status(head)).toEqual([401]);
  });

  it('an Upgrade request is answered as a plain request', async () => {
    const raw = await send([`GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`], { timeoutMs: 1000 });
    expect(status(raw).every((s) => s === 401)).toBe(true);
  });

  it('pipelined: an oversized first request gets 413, the next one is served', async () => {
    const body = 'x'.repeat(70_000);
    const raw = await send([`POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, STATUS], { expect: 2 });
    expect(status(raw)).toEqual([413, 200]);
  });

  it('a body whose reason is not a string, on reload: 400', async () => {
    const body = '{"reason":{"toString":1}}';
    const raw = await rawRequest(d.adminPort, `POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    expect(status(raw)).toEqual([400]);
  });

  it('a client that leaves while its failover runs: the failover completes and is audited', async () => {
    const tenant = async () => (await (await request(`${d.adminUrl}/tenants/t`, { headers: { authorization: `Bearer ${VIEWER}` } })).body.json()) as { epoch: number; active: string; sites: Array<{ available: boolean }> };
    await waitFor(async () => (await tenant()).sites.every((s) => s.available), { what: 'both sites healthy' });
    const before = (await tenant()).epoch;
    const body = '{"reason":"hostile test","to":"b1","force":true}';
    const s = net.connect(d.adminPort, '127.0.0.1');
    s.on('error', () => {});
    s.write(`POST /tenants/t/failover HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    // Leave while the failover waits for b1's promote hook.
    await waitFor(() => hook.calls.length > 0, { what: 'the failover under way' });
    s.destroy();
    await waitFor(async () => (await tenant()).epoch > before && (await tenant()).active === 'b1', { what: 'the failover done' });
    await waitFor(async () => /"action":"failover","actor":"ops".*"result":"ok"/.test(await readFile(auditFile, 'utf8')), { what: 'the failover audited' });
  });
});

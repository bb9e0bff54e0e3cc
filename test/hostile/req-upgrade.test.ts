/**
 * Upgrade requests drproxy does not handle (h2c, unknown protocols; RFC 9110 §7.8 lets a server
 * ignore Upgrade) are answered in HTTP/1.1 like any other request, with or without a body; only
 * WebSocket (GET, HTTP/1.1) is taken over. On Node 20 this is the IncomingMessage fallback, on
 * Node 26 the shouldUpgradeCallback option (src/proxy/upgrade-policy.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-client.js';
import { HOST, startHostileProxy, type HostileSetup } from '../helpers/hostile-proxy.js';
import { NATIVE_UPGRADE_CALLBACK } from '../../src/proxy/upgrade-policy.js';

const run = promisify(execFile);
let h: HostileSetup;

beforeAll(async () => {
  h = await startHostileProxy();
});
afterAll(async () => h?.stop());
beforeEach(() => h.up.mark());

const H2C = `Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n`;

describe('upgrades drproxy does not handle are ignored', () => {
  it('curl --http2 over cleartext gets its answer in HTTP/1.1', async () => {
    const { stdout } = await run('curl', ['--http2', '-sS', '-H', `Host: ${HOST}`, '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `${h.p.url}/curl`]);
    expect(stdout).toBe('200 1.1');
    expect(h.up.requests).toHaveLength(1);
    const q = h.up.requests[0]!;
    expect(q.url).toBe('/curl');
    // Upgrade is hop-by-hop; HTTP2-Settings is named by Connection: neither goes upstream.
    expect(q.headers.upgrade).toBeUndefined();
    expect(q.headers['http2-settings']).toBeUndefined();
  });

  it.each([
    ['h2c', `GET /h2c HTTP/1.1\r\nHost: ${HOST}\r\n${H2C}\r\n`],
    ['an unknown protocol', `GET /h2c HTTP/1.1\r\nHost: ${HOST}\r\nConnection: upgrade\r\nUpgrade: foo/1, bar\r\n\r\n`],
    ['websocket on a POST', `POST /h2c HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n`],
    ['websocket on HTTP/1.0', `GET /h2c HTTP/1.0\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`],
  ])('%s: answered by the upstream in HTTP/1.1, then the connection is closed', async (_name, text) => {
    const r = await rawExchange(h.p.port, text, { waitClose: true });
    expect(r.responses).toHaveLength(1);
    expect(r.responses[0]).toMatchObject({ status: 200, headers: { connection: 'close' } });
    expect(r.responses[0]!.statusLine.startsWith('HTTP/1.1 200')).toBe(true);
    expect(r.closed).toBe(true);
    expect(h.up.requests.map((q) => [q.url, q.complete, q.headers.upgrade])).toEqual([['/h2c', true, undefined]]);
  });

  it.each([
    ['a Content-Length body', 'Content-Length: 5\r\n\r\nhello'],
    ['a chunked body', 'Transfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n'],
  ])('h2c with %s: the body reaches the upstream', async (_name, rest) => {
    const r = await rawExchange(h.p.port, `POST /body HTTP/1.1\r\nHost: ${HOST}\r\n${H2C}${rest}`, { waitClose: true });
    expect(r.responses[0]?.status).toBe(200);
    expect(h.up.requests.map((q) => [q.url, q.body, q.complete])).toEqual([['/body', 'hello', true]]);
  });

  it('a request pipelined behind an ignored upgrade is not silently lost: the connection closes', async () => {
    // Node's parser takes the bytes after an Upgrade request as the other protocol and drops
    // them; closing after the answer tells the client that the next request was not served.
    const text = `GET /first HTTP/1.1\r\nHost: ${HOST}\r\n${H2C}\r\nGET /second HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
    const r = await rawExchange(h.p.port, text, { waitClose: true });
    expect(r.responses.map((x) => [x.status, x.headers.connection])).toEqual([[200, 'close']]);
    expect(r.closed).toBe(true);
    expect(h.up.requests.map((q) => q.url)).toEqual(['/first']);
  });
});

describe('how Node is told', () => {
  it('uses the shouldUpgradeCallback server option where Node has it (26), the fallback on Node 20', () => {
    const major = Number(process.versions.node.split('.')[0]);
    if (major >= 24) expect(NATIVE_UPGRADE_CALLBACK).toBe(true);
    if (major === 20) expect(NATIVE_UPGRADE_CALLBACK).toBe(false);
  });
});

describe('WebSocket is still taken over', () => {
  it('a WebSocket upgrade gets 101 from the upstream and the connection carries frames', async () => {
    const text =
      `GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const r = await rawExchange(h.p.port, text);
    expect(r.responses[0]).toMatchObject({ status: 101, headers: { upgrade: 'websocket' } });
    expect(h.up.requests.map((q) => [q.url, q.headers.upgrade])).toEqual([['/ws', ['WebSocket']]]);
  });
});

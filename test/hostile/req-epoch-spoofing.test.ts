/**
 * Client copies of the epoch and site headers, in every spelling a backend might read as the
 * real one: case, underscores (CGI/WSGI/PHP map "X_DR_Epoch" onto HTTP_X_DR_EPOCH), whitespace
 * before the colon, repeated fields, a Connection header naming them, a WebSocket upgrade.
 * The upstream must see exactly one epoch and one site: drproxy's. Underscore names in general
 * are dropped unless server.underscores_in_headers, which never lets the DR or forwarding
 * spellings through.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-client.js';
import type { SeenRequest } from '../helpers/capture-upstream.js';
import { HOST, startHostileProxy, type HostileSetup } from '../helpers/hostile-proxy.js';

let strict: HostileSetup;
let lenient: HostileSetup;

beforeAll(async () => {
  [strict, lenient] = await Promise.all([startHostileProxy(), startHostileProxy({ underscores_in_headers: true })]);
});
afterAll(async () => {
  await strict?.stop();
  await lenient?.stop();
});
beforeEach(() => {
  strict.up.mark();
  lenient.up.mark();
});

const req = (lines: string) => `GET /e HTTP/1.1\r\nHost: ${HOST}\r\n${lines}\r\n`;

/** Values of every header whose name reads as `name` to a CGI backend (case, "_" or "-"). */
function cgiValues(q: SeenRequest, name: string): string[] {
  const want = name.toLowerCase().replaceAll('_', '-');
  const out: string[] = [];
  for (let i = 0; i < q.rawHeaders.length; i += 2) {
    if (q.rawHeaders[i]!.toLowerCase().replaceAll('_', '-') === want) out.push(q.rawHeaders[i + 1]!);
  }
  return out;
}

async function only(h: HostileSetup, lines: string): Promise<SeenRequest> {
  const r = await rawExchange(h.p.port, req(lines));
  expect(r.responses[0]?.status).toBe(200);
  expect(h.up.requests).toHaveLength(1);
  return h.up.requests[0]!;
}

const SPOOFS = [
  ['the configured case', 'X-DR-Epoch: 99\r\nX-DR-Site: evil\r\n'],
  ['lower case', 'x-dr-epoch: 99\r\nx-dr-site: evil\r\n'],
  ['upper case', 'X-DR-EPOCH: 99\r\nX-DR-SITE: evil\r\n'],
  ['repeated', 'X-DR-Epoch: 99\r\nx-dr-epoch: 98\r\nX-DR-Site: evil\r\nX-DR-Site: evil2\r\n'],
  ['underscores', 'X_DR_Epoch: 99\r\nX_DR_Site: evil\r\n'],
  ['underscores, lower case', 'x_dr_epoch: 99\r\nx_dr_site: evil\r\n'],
  ['mixed "_" and "-"', 'X-DR_Epoch: 99\r\nX_DR-Site: evil\r\n'],
  ['named by Connection', 'Connection: keep-alive, X-DR-Epoch, X-DR-Site\r\nX-DR-Epoch: 99\r\n'],
  ['named by Connection with close', 'Connection: close, x-dr-epoch\r\n'],
  ['forwarding headers with underscores too', 'X_Forwarded_For: 6.6.6.6\r\nX_Forwarded_Proto: https\r\nX_Forwarded_Host: evil\r\nX-DR-Epoch: 99\r\n'],
] as const;

describe.each([
  ['underscores_in_headers: false (default)', () => strict],
  ['underscores_in_headers: true', () => lenient],
])('%s', (_name, setup) => {
  it.each(SPOOFS)('epoch/site spelled with %s: the upstream sees only drproxy\'s', async (_s, lines) => {
    const q = await only(setup(), lines);
    expect(cgiValues(q, 'x-dr-epoch')).toEqual(['1']);
    expect(cgiValues(q, 'x-dr-site')).toEqual(['a1']);
    expect(cgiValues(q, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(cgiValues(q, 'x-forwarded-proto')).toEqual(['http']);
    expect(cgiValues(q, 'x-forwarded-host')).toEqual([HOST]);
    expect(setup().up.bytes()).not.toMatch(/99|evil|6\.6\.6\.6/);
  });

  it.each([
    ['a space before the colon', 'X-DR-Epoch : 99\r\n'],
    ['a tab before the colon', 'X-DR-Epoch\t: 99\r\n'],
    ['a leading space (a folded first line)', ' X-DR-Epoch: 99\r\n'],
    ['a non-ASCII look-alike letter', 'X-DR-\u0415poch: 99\r\n'],
  ])('epoch with %s → 400, nothing upstream', async (_s, lines) => {
    const h = setup();
    const r = await rawExchange(h.p.port, Buffer.from(req(lines), 'utf8'), { waitClose: true });
    expect(r.responses[0]?.status).toBe(400);
    expect(r.closed).toBe(true);
    expect(h.up.bytes()).toBe('');
  });

  it('a WebSocket upgrade carrying spoofed copies gets only drproxy\'s stamp', async () => {
    const h = setup();
    const upgrade =
      `GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade, X-DR-Site\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
      'X-DR-Epoch: 99\r\nX_DR_Epoch: 98\r\nx-dr-site: evil\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';
    const r = await rawExchange(h.p.port, upgrade);
    expect(r.responses[0]?.status).toBe(101);
    expect(h.up.requests).toHaveLength(1);
    const q = h.up.requests[0]!;
    expect(cgiValues(q, 'x-dr-epoch')).toEqual(['1']);
    expect(cgiValues(q, 'x-dr-site')).toEqual(['a1']);
    expect(cgiValues(q, 'x-forwarded-for')).toEqual(['127.0.0.1']);
    expect(cgiValues(q, 'connection')).toEqual(['Upgrade']);
  });
});

describe('other header names with underscores', () => {
  it('are dropped by default', async () => {
    const q = await only(strict, 'X_Custom: a\r\nX-Kept: b\r\n');
    expect(cgiValues(q, 'x-custom')).toEqual([]);
    expect(cgiValues(q, 'x-kept')).toEqual(['b']);
    expect(strict.up.bytes()).not.toContain('X_Custom');
  });

  it('pass with underscores_in_headers: true', async () => {
    const q = await only(lenient, 'X_Custom: a\r\nX-Kept: b\r\n');
    expect(q.headers.x_custom).toEqual(['a']);
    expect(cgiValues(q, 'x-kept')).toEqual(['b']);
  });
});

/**
 * Broken upstream: response headers that try to inject a header or a line into the client's
 * answer (CR, LF, NUL and other control characters, obs-fold, bad names), that are over the
 * size limit, or that are hop-by-hop. A bad header is drproxy's own 502 before any byte; a
 * hop-by-hop header is dropped, and the upstream's Connection does not decide the client's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrokenUpstream, expectOwnError, type BrokenUpstreamSetup } from '../helpers/broken-upstream.js';

let b: BrokenUpstreamSetup;

beforeAll(async () => {
  b = await startBrokenUpstream();
});

afterAll(async () => {
  await b?.stop();
});

const TAIL = 'content-length: 2\r\n\r\nhi';

const INJECTIONS: Array<[name: string, header: string]> = [
  ['a CR inside a value', 'x-a: a\rx-injected: 1'],
  ['a bare LF inside a value', 'x-a: a\nx-injected: 1'],
  ['a NUL inside a value', 'x-a: a\x00b'],
  ['a DEL inside a value', 'x-a: a\x7fb'],
  ['a vertical tab inside a value', 'x-a: a\x0bb'],
  ['obs-fold (a continuation line)', 'x-a: a\r\n x-injected: 1'],
  ['a space inside a name', 'x a: b'],
  ['a space before the colon', 'x-a : b'],
  ['a separator inside a name', 'x(a): b'],
  ['an empty name', ': b'],
  ['a line with no colon', 'x-injected'],
];

describe('response header injection', () => {
  for (const [name, header] of INJECTIONS) {
    it(`${name}: 502 before any byte`, async () => {
      const path = `/inject-${INJECTIONS.findIndex((c) => c[0] === name)}`;
      b.script(path, `HTTP/1.1 200 OK\r\n${header}\r\n${TAIL}`);
      const r = await b.ask(path);
      expectOwnError(r, '502 Bad Gateway', 'upstream_invalid_response');
      expect(r.raw.toLowerCase()).not.toContain('x-injected');
      expect(r.raw).not.toContain('x-a');
      expect(b.received(path)).toHaveLength(1);
      await b.stillServing();
    });
  }
});

describe('response header size', () => {
  it('headers over the limit (16 KiB): 502 before any byte', async () => {
    b.script('/big', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(20_000)}\r\n${TAIL}`);
    const r = await b.ask('/big');
    expectOwnError(r, '502 Bad Gateway', 'upstream_invalid_response');
    expect(r.final!.body.toString()).toBe('502 Bad Gateway: site s1 sent an invalid response: its response headers are over the size limit\n');
    expect(b.received('/big')).toHaveLength(1);
    await b.stillServing();
  });

  it('many small headers over the limit in total: 502', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => `x-${i}: v`).join('\r\n');
    b.script('/many', `HTTP/1.1 200 OK\r\n${many}\r\n${TAIL}`);
    const r = await b.ask('/many');
    expectOwnError(r, '502 Bad Gateway', 'upstream_invalid_response');
    await b.stillServing();
  });

  it('headers under the limit are forwarded whole', async () => {
    b.script('/fits', `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(8_000)}\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n${TAIL}`);
    const r = await b.ask('/fits');
    expect(r.final?.statusLine, r.raw.slice(0, 200)).toBe('HTTP/1.1 200 OK');
    expect(r.header('x-big')).toBe('a'.repeat(8_000));
    expect(r.final!.headers.filter(([k]) => k === 'set-cookie')).toEqual([
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ]);
    expect(r.final!.body.toString()).toBe('hi');
  });
});

describe('hop-by-hop response headers', () => {
  it('are dropped, with the headers Connection names; the client connection stays open', async () => {
    b.script(
      '/hop',
      'HTTP/1.1 200 OK\r\nconnection: close, x-secret\r\nx-secret: s\r\nkeep-alive: timeout=1\r\nproxy-connection: close\r\nupgrade: h2c\r\nte: trailers\r\ntrailer: x-t\r\nx-kept: 1\r\n' + TAIL,
    );
    const r = await b.ask('/hop');
    expect(r.final?.statusLine, r.raw).toBe('HTTP/1.1 200 OK');
    const names = r.final!.headers.map(([k]) => k.toLowerCase());
    for (const dropped of ['x-secret', 'proxy-connection', 'upgrade', 'te', 'trailer']) expect(names).not.toContain(dropped);
    expect(r.header('x-kept')).toBe('1');
    // Node's own Connection/Keep-Alive for the client, not the upstream's.
    expect(r.header('connection')).toBe('keep-alive');
    expect(r.header('keep-alive')).not.toBe('timeout=1');
    expect(r.final!.body.toString()).toBe('hi');
    expect(r.ended).toBe('open');
  });
});

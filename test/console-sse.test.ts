/** The page's Server-Sent Events frame parser and reconnect back-off (src/console/web/sse.ts). */
import { describe, expect, it } from 'vitest';
import { backoffMs, SseParser } from '../src/console/web/sse.js';

const all = (chunks: string[]) => {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
};

describe('SSE frames', () => {
  it('parses named events with JSON data, in order', () => {
    expect(all(['event: snapshot\ndata: {"a":1}\n\nevent: tenants\ndata: {"b":2}\n\n'])).toEqual([
      { event: 'snapshot', data: '{"a":1}', id: '' },
      { event: 'tenants', data: '{"b":2}', id: '' },
    ]);
  });

  it('an event split anywhere across chunks comes out whole, once', () => {
    const text = 'event: flip\ndata: {"tenant":"acme","record":{"epoch":3}}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      expect(all([text.slice(0, cut), text.slice(cut)])).toEqual([{ event: 'flip', data: '{"tenant":"acme","record":{"epoch":3}}', id: '' }]);
    }
    expect(all([...text])).toHaveLength(1); // one character at a time
  });

  it('CRLF, CR and LF line ends, including a CRLF split between chunks', () => {
    expect(all(['event: a\r\ndata: 1\r\n\r\n'])).toEqual([{ event: 'a', data: '1', id: '' }]);
    expect(all(['event: a\rdata: 1\r\r'])).toEqual([{ event: 'a', data: '1', id: '' }]);
    expect(all(['event: a\r', '\ndata: 1\r', '\n\r', '\n'])).toEqual([{ event: 'a', data: '1', id: '' }]);
  });

  it('multi-line data is joined with newlines; no space after the colon is fine', () => {
    expect(all(['data:line one\ndata: line two\ndata\n\n'])).toEqual([{ event: 'message', data: 'line one\nline two\n', id: '' }]);
  });

  it('comments (the keep-alive ping) and unknown fields are ignored; a block without data dispatches nothing', () => {
    expect(all([': ping\n\n', 'event: lonely\n\n', 'foo: bar\ndata: x\n\n'])).toEqual([{ event: 'message', data: 'x', id: '' }]);
  });

  it('the event name does not leak into the next event', () => {
    expect(all(['event: tenants\ndata: 1\n\ndata: 2\n\n']).map((e) => e.event)).toEqual(['tenants', 'message']);
  });

  it('id is sticky, retry is read, a leading BOM is dropped', () => {
    const p = new SseParser();
    expect(p.push('\ufeffid: 7\nretry: 1500\ndata: a\n\ndata: b\n\n')).toEqual([
      { event: 'message', data: 'a', id: '7' },
      { event: 'message', data: 'b', id: '7' },
    ]);
    expect(p.retry).toBe(1500);
  });

  it('an unfinished event at the end of the stream is not dispatched', () => {
    expect(all(['event: snapshot\ndata: {"half":'])).toEqual([]);
  });
});

describe('reconnect back-off', () => {
  it('doubles from 250 ms to a 10 s cap, with at most 20% taken off', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10, 60].map((a) => backoffMs(a, 0))).toEqual([250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    expect(backoffMs(2, 0.999)).toBe(800);
    expect(backoffMs(2, 0.5)).toBe(900);
  });
});

/** Which answer verifies a drill's switch (verifier.ts), and the guard's p99 from histogram counts. */
import { describe, expect, it } from 'vitest';
import { answers, loopbackOf } from '../src/drill/verifier.js';
import { p99Of } from '../src/drill/guard.js';
import { REQUEST_BUCKETS } from '../src/metrics/index.js';

const headers = { epoch: 'x-dr-epoch', site: 'x-dr-site' };
const verify = { path: '/', timeout: 1000, interval: 10 };
const want = { site: 'b1', epoch: 7 };

describe('drill verification', () => {
  it('needs the echoed site and epoch by default', () => {
    expect(answers({ 'x-dr-site': 'b1', 'x-dr-epoch': '7' }, 200, { verify, headers }, want)).toBe(true);
    expect(answers({ 'x-dr-site': 'b1', 'x-dr-epoch': '7' }, 404, { verify, headers }, want)).toBe(true);
    expect(answers({ 'x-dr-site': 'b1', 'x-dr-epoch': '7' }, 503, { verify, headers }, want)).toBe(false);
    expect(answers({ 'x-dr-site': 'a1', 'x-dr-epoch': '7' }, 200, { verify, headers }, want)).toBe(false);
    expect(answers({ 'x-dr-site': 'b1', 'x-dr-epoch': '6' }, 200, { verify, headers }, want)).toBe(false);
    expect(answers({ 'x-dr-site': 'b1' }, 200, { verify, headers }, want)).toBe(false);
  });

  it('with served_by_header: the site it names, and the epoch when one is echoed', () => {
    const o = { verify: { ...verify, served_by_header: 'x-served-by' }, headers };
    expect(answers({ 'x-served-by': 'b1' }, 200, o, want)).toBe(true);
    expect(answers({ 'x-served-by': 'b1', 'x-dr-epoch': '7' }, 200, o, want)).toBe(true);
    expect(answers({ 'x-served-by': 'b1', 'x-dr-epoch': '6' }, 200, o, want)).toBe(false);
    expect(answers({ 'x-served-by': 'a1' }, 200, o, want)).toBe(false);
    expect(answers({ 'x-dr-site': 'b1', 'x-dr-epoch': '7' }, 200, o, want)).toBe(false);
  });

  it('reaches a wildcard listener on loopback', () => {
    expect(loopbackOf('0.0.0.0')).toBe('127.0.0.1');
    expect(loopbackOf('::')).toBe('127.0.0.1');
    expect(loopbackOf('127.0.0.2')).toBe('127.0.0.2');
    expect(loopbackOf('::1')).toBe('[::1]');
  });
});

describe('the guard p99', () => {
  it('is the upper bound of the bucket holding the 99th percentile', () => {
    const counts = new Array<number>(REQUEST_BUCKETS.length + 1).fill(0);
    counts[2] = 98; // ≤ 2.5 ms
    counts[6] = 2; // ≤ 50 ms
    expect(p99Of(counts)).toBe(50);
    counts[2] = 199; // of 200, the one slow request is above the 99th percentile
    counts[6] = 1;
    expect(p99Of(counts)).toBe(2.5);
    expect(p99Of(new Array<number>(REQUEST_BUCKETS.length + 1).fill(0))).toBeUndefined();
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { Readable } from 'node:stream';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { spawnProxy, type ChildProxy } from './helpers/proxy.js';

/**
 * 200 MB, not the 50 MB the issue names: the margin between "streamed" and "buffered" must not
 * depend on the machine. V8 grows its young generation (two semi-spaces of up to 16 MB each on
 * 64-bit Node 20) during a long transfer whatever the proxy does; CI saw 32.6 MB of growth for a
 * 50 MB body that was streamed. Node 26 lets more of a long transfer's read buffers pile up
 * before a GC: the 200 MB response grew the peak by 49-61 MB there (and 0-3 MB on Node 20),
 * with the same drproxy build before and after issue 16, and a clean-clone CI saw 65.3 MB.
 * Buffering 200 MB would add at least 200 MB; streaming stays under MAX_GROWTH, half of that.
 */
const SIZE = 200 * 1024 * 1024;
const MAX_GROWTH = SIZE / 2;

let up: Upstream;
let px: ChildProxy;

/** Peak resident set size of a process (VmHWM), in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

function source(bytes: number): Readable {
  const chunk = Buffer.alloc(64 * 1024, 97);
  let left = bytes;
  return new Readable({
    read() {
      if (left <= 0) return void this.push(null);
      const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
      left -= part.length;
      this.push(part);
    },
  });
}

function send(path: string, method: string, body?: Readable): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: px.port, path, method, headers: { host: 'big.example.com' }, agent: false },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => (bytes += d.length));
        res.on('end', () => resolve({ status: res.statusCode!, bytes }));
      },
    );
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

beforeAll(async () => {
  up = await startUpstream('big');
  px = await spawnProxy({
    tenants: { big: { tier: 'BC', hosts: ['big.example.com'], sites: [{ name: 's1', backends: [up.url] }] } },
  });
  // Warm up: let the process reach its steady size before measuring.
  for (let i = 0; i < 20; i++) await send('/bytes?n=1048576', 'GET');
});

afterAll(async () => {
  await px?.kill();
  await stopAll(up);
});

describe('streaming bodies', () => {
  it('streams a 200 MB response without buffering it', async () => {
    const before = await peakRss(px.proc.pid!);
    const r = await send(`/bytes?n=${SIZE}`, 'GET');
    expect(r).toEqual({ status: 200, bytes: SIZE });
    const growth = (await peakRss(px.proc.pid!)) - before;
    expect(growth, `peak RSS grew by ${(growth / 1048576).toFixed(1)} MB`).toBeLessThan(MAX_GROWTH);
  });

  it('streams a 200 MB request body (and its 200 MB echo) without buffering it', async () => {
    const before = await peakRss(px.proc.pid!);
    const r = await send('/echo', 'POST', source(SIZE));
    expect(r).toEqual({ status: 200, bytes: SIZE });
    const growth = (await peakRss(px.proc.pid!)) - before;
    expect(growth, `peak RSS grew by ${(growth / 1048576).toFixed(1)} MB`).toBeLessThan(MAX_GROWTH);
  });
});

/**
 * V8 young-generation sizing under server.workers (src/workers/heap-sizing.ts): each worker's
 * young generation is held at 3 × 4 MB, and the main thread's stops growing (Node ≥ 22: V8 11
 * in Node 20 does not read the growth factor at each growth, so there only the workers are
 * held). Run in a fresh node, as a threaded drproxy would set it, with objects kept alive across
 * scavenges on both threads (what makes V8 grow a young generation to its maximum, 64 MB here).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { operatorSizedYoung, workerHeapFlags } from '../src/workers/heap-sizing.js';

const CHILD = fileURLToPath(new URL('./fixtures/heap-sizing-child.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist', import.meta.url));
const MB = 1024 * 1024;
const nodeMajor = Number(process.versions.node.split('.')[0]);

function run(apply: boolean | 'inline'): { flags: string[]; mainBefore: number; held: number; mainAfter: number; workerNew: number } {
  const mode = apply === 'inline' ? 'inline' : apply ? '1' : '0';
  return JSON.parse(execFileSync(process.execPath, [CHILD, DIST, mode], { encoding: 'utf8', timeout: 60_000 }));
}

describe('V8 heap sizing for data-plane workers', () => {
  it('holds a worker at about 8 MB of new space and stops the main thread growing', () => {
    const sized = run(true);
    expect(sized.flags).toEqual(['--semi-space-growth-factor=1', '--min-semi-space-size=4']);
    // 8 MB (two 4 MB semi-spaces); V8 may briefly hold more while it scavenges: 16 MB is the
    // bound, against 64 MB unsized.
    expect(sized.workerNew).toBeLessThanOrEqual(16 * MB);
    if (nodeMajor >= 22) expect(sized.mainAfter).toBeLessThanOrEqual(8 * MB);
    // Without it, the same churn grows both (what this test would see if the sizing broke).
    const plain = run(false);
    expect(plain.workerNew).toBeGreaterThan(16 * MB); // 64 MB on Node 26, 32 MB on Node 20
    expect(plain.mainAfter).toBeGreaterThan(16 * MB);
  });

  // Node 20's V8 reads the growth factor once, not at each growth: nothing to hold there.
  it.skipIf(nodeMajor < 22)('inline (server.workers 0): held while the config loads, then grows as V8 would', () => {
    const r = run('inline');
    expect(r.held).toBeLessThanOrEqual(8 * MB);
    expect(r.mainAfter).toBeGreaterThan(16 * MB);
  });

  it('leaves an operator-sized young generation alone', () => {
    expect(operatorSizedYoung(['--max-semi-space-size=16'], undefined)).toBe(true);
    expect(operatorSizedYoung([], '--max_semi_space_size=16 --enable-source-maps')).toBe(true);
    expect(operatorSizedYoung(['--enable-source-maps'], '--max-old-space-size=512')).toBe(false);
    expect(workerHeapFlags([], '--min-semi-space-size=2')).toEqual([]);
    expect(workerHeapFlags(['--inspect'], undefined)).toHaveLength(2);
  });
});

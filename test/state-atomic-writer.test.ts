/**
 * The state writer's worker thread: writes land durably; if the thread dies with writes
 * pending, they fail (a flip waiting on them gets an error, never hangs) and the next write
 * starts a new thread.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { AtomicWriter } from '../src/state/atomic-writer.js';
import { tempDir } from './helpers/proxy.js';

describe('atomic writer', () => {
  it('replaces a file and fails pending writes when its thread dies, then recovers', async () => {
    const dir = await tempDir();
    const file = join(dir, 'x.json');
    const w = new AtomicWriter();
    await w.write(file, `${file}.tmp`, 'one');
    expect(await readFile(file, 'utf8')).toBe('one');

    const pending = w.write(file, `${file}.tmp`, 'two');
    // Kill the thread under the pending write, as an OOM or a crash would.
    await (w as unknown as { worker: Worker }).worker.terminate();
    const outcome = await pending.then(
      () => 'landed',
      (err: Error) => err.message,
    );
    // The write settles either way (here it fails: terminate() lands before the thread reads
    // the message); what must never happen is a promise that never settles.
    expect(['landed', 'state writer thread exited (code 1)']).toContain(outcome);

    await w.write(file, `${file}.tmp`, 'three');
    expect(await readFile(file, 'utf8')).toBe('three');
    await w.close();
  });
});

/**
 * The state journal on a full disk: a batch whose journal write fails is refused with
 * DRP_STATE_IO and leaves nothing behind (no partial record for the next batch to run into);
 * once there is space again, the same commits go through. Needs a tiny tmpfs, so root (as CI
 * and this VM run); skipped where mounting is not allowed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStateStore } from '../src/state/file-store.js';
import { JOURNAL_FILE, readJournal } from '../src/state/journal.js';
import type { TenantState } from '../src/state/types.js';

const mountPoint = mkdtempSync(join(tmpdir(), 'drproxy-tinyfs-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
  mounted = true;
} catch {
  /* not allowed here: skipped */
}

afterAll(() => {
  // Lazy: a store left open by a failed assertion must not turn into a second error here.
  if (mounted) execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
  rmSync(mountPoint, { recursive: true, force: true });
});

function state(tenant: string, epoch: number, active: string): TenantState {
  return { tenant, epoch, phase: 'active', active, fenced: [], reason: 'test', trigger: 'admin', updated_at: '2026-11-22T00:00:00.000Z' };
}

describe.skipIf(!mounted)('state journal on a full disk', () => {
  // 30 records, ~5 KiB together: more than the one page left free below, so the journal write
  // gets part of the batch on disk before it fails.
  const names = Array.from({ length: 30 }, (_, i) => `t${i}`);
  let s: FileStateStore;
  beforeAll(async () => {
    s = new FileStateStore(join(mountPoint, 'state'));
    await s.open();
    await Promise.all(names.map((n) => s.commit(state(n, 1, 's1'), undefined)));
    // The files and the manifest written, the journal emptied: what is free now stays free.
    await s.checkpointed();
  });

  it('refuses the batch with DRP_STATE_IO, keeps the epochs, and takes the same commits once there is space', async () => {
    // Fill the filesystem but one page: the batch's first 4 KiB fit, the rest does not.
    const filler = join(mountPoint, 'filler');
    const free = (): number => {
      const out = execFileSync('df', ['--output=avail', '-B1', mountPoint], { encoding: 'utf8' });
      return Number(out.trim().split('\n').pop());
    };
    await writeFile(filler, Buffer.alloc(Math.max(0, free() - 4096)));
    const refused = await Promise.allSettled(names.map((n) => s.commit(state(n, 2, 's2'), 1)));
    for (const r of refused) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'DRP_STATE_IO' } });
    // Nothing half-committed: the store still expects epoch 1 for every tenant...
    await expect(s.commit(state('t0', 2, 's2'), 2)).rejects.toMatchObject({ code: 'DRP_STATE_CONFLICT' });
    // ...and the part of the batch that reached the journal was cut off again.
    const journal = join(mountPoint, 'state', JOURNAL_FILE);
    expect((await stat(journal)).size).toBe(0);
    expect(readJournal(await readFile(journal)).skipped).toBe(0);

    await rm(filler);
    await Promise.all(names.map((n) => s.commit(state(n, 2, 's2'), 1)));
    await s.close();
    expect((await stat(journal)).size).toBe(0);
    const again = new FileStateStore(join(mountPoint, 'state'));
    await again.open();
    expect(again.replayed).toEqual([]);
    for (const n of names) expect(await again.load(n)).toMatchObject({ epoch: 2, active: 's2' });
    await again.close();
  });
});

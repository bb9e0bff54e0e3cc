/**
 * A full disk under the state store (a small tmpfs). A commit that cannot reach the journal is
 * refused (DRP_STATE_IO) and changes nothing (test/state-journal-enospc.test.ts covers the
 * batch); here, the writes after the journal: new tenant files (and so the manifest, written
 * only once every checkpoint is done). They fail, are reported, and the journal keeps the
 * commits; the process goes on; with space again the next start writes them. No epoch ever
 * loads below a committed one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JOURNAL_FILE } from '../../src/state/journal.js';
import type { TenantState } from '../../src/state/types.js';
import { canMount, tmpfs, type Tmpfs } from './mounts.js';
import { neverBelow, openStore, st } from './helpers.js';

let fs: Tmpfs | undefined;
afterEach(() => {
  fs?.unmount();
  fs = undefined;
});

describe.skipIf(!canMount)('a full disk under the state store', () => {
  it('new tenant files cannot be written: reported, the commits kept in the journal, all there at the next start', async () => {
    fs = tmpfs('1m');
    const dir = join(fs.dir, 'state');
    const a = await openStore(dir);
    const old = Array.from({ length: 10 }, (_, i) => `t${i}`);
    await Promise.all(old.map((n) => a.s.commit(st(1, 'a1', [], n), undefined)));
    await a.s.checkpointed();
    // Leave room for the journal's records only: 40 new tenants (~10 KiB of records) fit, their
    // 8 KiB files (320 KiB) do not.
    const filler = join(fs.dir, 'filler');
    await writeFile(filler, Buffer.alloc(Math.max(0, fs.free() - 64 * 1024)));
    const fresh = Array.from({ length: 40 }, (_, i) => `n${i}`);
    const committed = new Map<string, TenantState>();
    await Promise.all(fresh.map((n) => a.s.commit(st(1, 'b1', [], n), undefined).then(() => committed.set(n, st(1, 'b1', [], n)))));
    await Promise.all(old.map((n) => a.s.commit(st(2, 'b1', ['a1'], n), 1).then(() => committed.set(n, st(2, 'b1', ['a1'], n)))));
    expect(committed.size).toBe(50);
    await a.s.checkpointed();
    expect(a.writeErrors.join('\n')).toMatch(/ENOSPC/);
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBeGreaterThan(0);
    await a.s.close();

    await rm(filler);
    const b = await openStore(dir);
    expect(b.s.replayed.length).toBeGreaterThan(0);
    for (const [n, s] of committed) neverBelow(await b.s.load(n), s);
    await b.s.close();
  });

  it('full to the last byte: commits are refused, nothing half-committed; the process goes on, and with space the same commits land', async () => {
    fs = tmpfs('1m');
    const dir = join(fs.dir, 'state');
    const a = await openStore(dir);
    await a.s.commit(st(1, 'a1'), undefined);
    await a.s.checkpointed();
    const filler = join(fs.dir, 'filler');
    await writeFile(filler, Buffer.alloc(fs.free()));
    await expect(a.s.commit(st(2, 'b1', ['a1']), 1)).rejects.toMatchObject({ code: 'DRP_STATE_IO', message: expect.stringMatching(/ENOSPC/) });
    await expect(a.s.commit(st(1, 'a1', [], 'u'), undefined)).rejects.toMatchObject({ code: 'DRP_STATE_IO' });
    await rm(filler);
    await a.s.commit(st(2, 'b1', ['a1']), 1);
    await a.s.close();
    const b = await openStore(dir);
    neverBelow(await b.s.load('t'), st(2, 'b1', ['a1']));
    expect(await b.s.load('u')).toBeUndefined();
    await b.s.close();
  });
});

import { describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileStateStore } from '../src/state/file-store.js';
import type { TenantState } from '../src/state/types.js';
import { tempDir } from './helpers/proxy.js';

function state(epoch: number, active = 'a'): TenantState {
  return { tenant: 't', epoch, phase: 'active', active, fenced: [], reason: 'test', trigger: 'admin', updated_at: new Date().toISOString() };
}

describe('file state store', () => {
  it('commits durably and loads what it committed', async () => {
    const dir = await tempDir();
    const s = new FileStateStore(dir);
    await s.open();
    await s.commit(state(1), undefined);
    await s.commit(state(2, 'b'), 1);
    await s.close();
    const again = new FileStateStore(dir);
    await again.open();
    expect(await again.load('t')).toMatchObject({ epoch: 2, active: 'b' });
    expect((await readdir(join(dir, 'tenants'))).filter((f) => f.includes('.tmp-'))).toEqual([]);
    await again.close();
  });

  it('refuses a commit against a stale expected epoch', async () => {
    const s = new FileStateStore(await tempDir());
    await s.open();
    await s.commit(state(1), undefined);
    await expect(s.commit(state(2), 0)).rejects.toMatchObject({ code: 'DRP_STATE_CONFLICT' });
    await s.close();
  });

  it('never accepts an epoch lower than one it has seen', async () => {
    const s = new FileStateStore(await tempDir());
    await s.open();
    await s.commit(state(5), undefined);
    await expect(s.commit(state(4), 5)).rejects.toMatchObject({ code: 'DRP_STATE_EPOCH_REGRESSION' });
    await s.close();
  });

  it('refuses to load a file whose epoch went backwards since it was read', async () => {
    const dir = await tempDir();
    const s = new FileStateStore(dir);
    await s.open();
    await s.commit(state(9), undefined);
    await s.checkpointed();
    await writeFile(join(dir, 'tenants', 't.json'), JSON.stringify(state(3)));
    await expect(s.load('t')).rejects.toMatchObject({ code: 'DRP_STATE_EPOCH_REGRESSION' });
    await s.close();
  });

  for (const [what, text] of [
    ['truncated', '{"tenant":"t","epoch":4,"pha'],
    ['empty', ''],
    ['missing epoch', '{"tenant":"t","phase":"active","active":"a","fenced":[]}'],
    ['negative epoch', '{"tenant":"t","epoch":-1,"phase":"active","active":"a","fenced":[]}'],
  ] as const) {
    it(`stops with a clear error on a ${what} state file, never resetting to epoch 0`, async () => {
      const dir = await tempDir();
      await mkdir(join(dir, 'tenants'), { recursive: true });
      await writeFile(join(dir, 'tenants', 't.json'), text);
      const s = new FileStateStore(dir);
      await s.open();
      const err = await s.load('t').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'DRP_STATE_CORRUPT' });
      expect((err as Error).message).toMatch(/t\.json is unreadable .*will not start with a guessed epoch/s);
      expect(await readFile(join(dir, 'tenants', 't.json'), 'utf8')).toBe(text);
      await s.close();
    });
  }

  it('will not share a directory with another live owner', async () => {
    const dir = await tempDir();
    const a = new FileStateStore(dir);
    await a.open();
    await expect(new FileStateStore(dir).open()).rejects.toThrow(/in use by process/);
    await a.close();
    const b = new FileStateStore(dir);
    await b.open();
    await b.close();
  });

  it('takes over a lock left by a dead process', async () => {
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'LOCK'), '999999999\n');
    const s = new FileStateStore(dir);
    await s.open();
    await s.close();
  });

  it('commits of many tenants at once all land (one worker batch, one directory fsync)', async () => {
    const dir = await tempDir();
    const s = new FileStateStore(dir);
    await s.open();
    const names = Array.from({ length: 50 }, (_, i) => `t${i}`);
    await Promise.all(names.map((tenant) => s.commit({ ...state(1), tenant }, undefined)));
    await s.close();
    const again = new FileStateStore(dir);
    await again.open();
    for (const tenant of names) expect(await again.load(tenant)).toMatchObject({ tenant, epoch: 1 });
    await again.close();
  });

  it("a new tenant's first commit whose file cannot be created stands in the journal: reported, and written at the next start", async () => {
    // (A commit that cannot reach the journal is refused: test/state-fault-*.test.ts.)
    const u = (epoch: number): TenantState => ({ ...state(epoch), tenant: 'u' });
    const dir = await tempDir();
    const errors: string[] = [];
    const s = new FileStateStore(dir, undefined, (m) => errors.push(m));
    await s.open();
    await s.commit(state(1), undefined);
    await s.checkpointed();
    // The tenants directory gone, a file in its place (root ignores permission bits).
    await rename(join(dir, 'tenants'), join(dir, 'tenants.moved'));
    await writeFile(join(dir, 'tenants'), 'not a directory');
    await s.commit(u(1), undefined);
    await s.commit(u(2), 1);
    await s.checkpointed();
    expect(errors.join('\n')).toMatch(/checkpoint failed .*u\.json/);
    await s.close();
    await rm(join(dir, 'tenants'));
    await rename(join(dir, 'tenants.moved'), join(dir, 'tenants'));
    const again = new FileStateStore(dir);
    await again.open();
    expect(again.replayed).toEqual(['u']);
    expect(await again.load('u')).toMatchObject({ epoch: 2 });
    await again.close();
  });
});

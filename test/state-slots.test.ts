/**
 * The state file's two slots (src/state/slots.ts): in-place commits, torn and damaged slots,
 * plain-JSON files, records larger than a slot.
 */
import { describe, expect, it } from 'vitest';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileStateStore, readStateFile } from '../src/state/file-store.js';
import type { TenantState } from '../src/state/types.js';
import { tempDir } from './helpers/proxy.js';
import { overwrite } from './helpers/files.js';

function state(epoch: number, active = 'a', reason = 'test'): TenantState {
  return { tenant: 't', epoch, phase: 'active', active, fenced: [], reason, trigger: 'admin', updated_at: new Date().toISOString() };
}

/** A store in a fresh directory with epochs 1..n committed. */
async function storeWith(n: number): Promise<{ dir: string; file: string; s: FileStateStore }> {
  const dir = await tempDir();
  const s = new FileStateStore(dir);
  await s.open();
  for (let e = 1; e <= n; e++) await s.commit(state(e, e % 2 ? 'a' : 'b'), e === 1 ? undefined : e - 1);
  // Durable in the journal already; wait for the records to reach the file itself.
  await s.checkpointed();
  return { dir, file: join(dir, 'tenants', 't.json'), s };
}

/** The file's records, as `jq` would show them. */
async function records(file: string): Promise<Array<{ slot: number; seq: number; state: TenantState }>> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l));
}

async function reload(dir: string): Promise<{ s: FileStateStore; loaded: TenantState | undefined }> {
  const s = new FileStateStore(dir);
  await s.open();
  return { s, loaded: await s.load('t') };
}

describe('state file slots', () => {
  it('commits in place into the older slot, in turn; the newest valid record is the state', async () => {
    const { dir, file, s } = await storeWith(1);
    expect((await stat(file)).size).toBe(2 * 4096);
    expect((await records(file)).map((r) => [r.slot, r.seq, r.state.epoch])).toEqual([[0, 1, 1]]);
    const inode = (await stat(file)).ino;
    await s.commit(state(2, 'b'), 1);
    await s.commit(state(3, 'a'), 2);
    await s.checkpointed();
    expect((await stat(file)).ino).toBe(inode); // written in place: no rename
    expect((await records(file)).map((r) => [r.slot, r.seq, r.state.epoch])).toEqual([
      [0, 3, 3],
      [1, 2, 2],
    ]);
    await s.close();
    const again = await reload(dir);
    expect(again.loaded).toMatchObject({ epoch: 3, active: 'a' });
    await again.s.close();
  });

  it('a slot torn by a crash mid-write: loads the other, moves the epoch up two, and rewrites the file', async () => {
    const { dir, file, s } = await storeWith(3); // slot 0: epoch 3 (newest), slot 1: epoch 2
    await s.close();
    // The crash: the next commit (epoch 4, into slot 1) wrote only its first bytes.
    await overwrite(file, 4096, '{"slot":1,"seq":4,"crc":123,"state":{"tenant":"t","epo');
    const a = await reload(dir);
    expect(a.loaded).toMatchObject({ epoch: 5, active: 'a', trigger: 'recovery' });
    expect(a.loaded!.reason).toMatch(/slot 1 was unreadable \(.+\).*epoch 3.*moved the epoch to 5/);
    await a.s.close();
    // Written anew, the repaired record alone: a file's two slots hold consecutive commits.
    expect((await records(file)).map((r) => r.state.epoch)).toEqual([5]);
    const b = await reload(dir);
    expect(b.loaded).toMatchObject({ epoch: 5 }); // repaired: no second move
    await b.s.close();
  });

  it('a committed slot damaged later: the epoch still ends above the lost one', async () => {
    const { dir, file, s } = await storeWith(3); // slot 0: epoch 3 (newest), slot 1: epoch 2
    await s.close();
    await overwrite(file, 40, 'XXXX'); // inside slot 0's record: its checksum no longer matches
    const a = await reload(dir);
    // Slot 1's epoch 2, moved two past the highest epoch recorded (3, in the state manifest).
    expect(a.loaded).toMatchObject({ epoch: 5, active: 'b', trigger: 'recovery' });
    expect(a.loaded!.epoch).toBeGreaterThan(3);
    expect(a.loaded!.reason).toMatch(/slot 0 was unreadable/);
    await a.s.close();
  });

  it('a slot damaged to its last byte (newline included) is still only one damaged slot', async () => {
    const { dir, file, s } = await storeWith(3); // slot 0: epoch 3 (newest), slot 1: epoch 2
    await s.close();
    await overwrite(file, 8192 - 100, 'x'.repeat(100)); // slot 1's padding and newline
    const a = await reload(dir);
    expect(a.loaded).toMatchObject({ epoch: 5, active: 'a', trigger: 'recovery' });
    await a.s.close();
  });

  it('both slots unreadable: a clear error, the file left as it is', async () => {
    const { dir, file, s } = await storeWith(2);
    await s.close();
    await overwrite(file, 40, 'XXXX');
    await overwrite(file, 4096 + 40, 'XXXX');
    const before = await readFile(file);
    const again = new FileStateStore(dir);
    await again.open();
    const err = await again.load('t').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DRP_STATE_CORRUPT' });
    expect((err as Error).message).toMatch(/both state slots are damaged.*will not start with a guessed epoch/s);
    expect(await readFile(file)).toEqual(before);
    await again.close();
  });

  it('reads a plain JSON file (an older drproxy, or a hand repair) and writes slots from the next commit', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'tenants'), { recursive: true });
    const file = join(dir, 'tenants', 't.json');
    await writeFile(file, JSON.stringify(state(7, 'b'), null, 2) + '\n');
    const a = await reload(dir);
    expect(a.loaded).toMatchObject({ epoch: 7, active: 'b' });
    await a.s.commit(state(8, 'a'), 7);
    await a.s.commit(state(9, 'b'), 8);
    await a.s.close();
    expect((await records(file)).map((r) => r.state.epoch)).toEqual([8, 9]);
    expect(readStateFile(await readFile(file), file, 't').state).toMatchObject({ epoch: 9, active: 'b' });
  });

  it('a record larger than its slot moves the file to bigger slots', async () => {
    const { dir, file, s } = await storeWith(1);
    await s.commit(state(2, 'b', 'x'.repeat(6000)), 1);
    await s.checkpointed();
    expect((await stat(file)).size).toBe(2 * 8192);
    await s.commit(state(3, 'a'), 2);
    await s.checkpointed();
    expect((await stat(file)).size).toBe(2 * 8192);
    await s.close();
    const again = await reload(dir);
    expect(again.loaded).toMatchObject({ epoch: 3, active: 'a' });
    await again.s.close();
  });

  it('an epoch rises one step per commit at most (what the damaged-slot recovery relies on)', async () => {
    const { s } = await storeWith(1);
    await expect(s.commit(state(3), 1)).rejects.toMatchObject({ code: 'DRP_STATE_CONFLICT', message: expect.stringMatching(/skips ahead/) });
    await s.close();
  });
});

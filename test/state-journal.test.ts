/**
 * The state journal (src/state/journal.ts): a commit is durable once its record is in the
 * journal; the record reaches the tenant's file afterwards; what a stop leaves in the journal is
 * replayed into the files at the next start, never taking an epoch back.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { FileStateStore, readCommittedState, readStateFile } from '../src/state/file-store.js';
import { JOURNAL_FILE, readJournal } from '../src/state/journal.js';
import { slotLine } from '../src/state/slots.js';
import type { TenantState } from '../src/state/types.js';
import { tempDir } from './helpers/proxy.js';
import { overwrite } from './helpers/files.js';
import { waitFor } from './helpers/poll.js';

function state(epoch: number, active = 'a', tenant = 't'): TenantState {
  return { tenant, epoch, phase: 'active', active, fenced: [], reason: 'test', trigger: 'admin', updated_at: '2026-11-22T00:00:00.000Z' };
}

/** A slotted state file as drproxy writes it: `records` as [slot, seq, state]. */
async function slottedFile(dir: string, records: Array<[0 | 1, number, TenantState]>): Promise<string> {
  await mkdir(join(dir, 'tenants'), { recursive: true });
  const file = join(dir, 'tenants', 't.json');
  const slots = [' '.repeat(4095) + '\n', ' '.repeat(4095) + '\n'];
  for (const [slot, seq, s] of records) {
    const line = slotLine(slot, seq, JSON.stringify(s));
    slots[slot] = line + ' '.repeat(4095 - line.length) + '\n';
  }
  await writeFile(file, slots.join(''));
  return file;
}

/** A journal holding these records (each line as a commit appends it). */
async function journal(dir: string, records: Array<[0 | 1, number, TenantState]>, tail = ''): Promise<void> {
  await writeFile(join(dir, JOURNAL_FILE), records.map(([slot, seq, s]) => slotLine(slot, seq, JSON.stringify(s)) + '\n').join('') + tail);
}

async function open(dir: string): Promise<FileStateStore> {
  const s = new FileStateStore(dir);
  await s.open();
  return s;
}

const epochs = async (file: string) => {
  const st = readStateFile(await readFile(file), file, 't');
  return { epoch: st.state.epoch, seq: st.layout?.seq };
};

/**
 * Tenants t and u at epoch 1, then committed together at epoch 2 with their tenants directory
 * gone (a file in its place): the journal, one level up, takes both records, and both
 * checkpoints fail. Resolves once both failures are reported.
 */
async function checkpointsFailing(): Promise<{ dir: string; s: FileStateStore; errors: string[] }> {
  const dir = await tempDir();
  const errors: string[] = [];
  const s = new FileStateStore(dir, undefined, (m) => errors.push(m));
  await s.open();
  await Promise.all([s.commit(state(1), undefined), s.commit(state(1, 'a', 'u'), undefined)]);
  await s.checkpointed();
  await rename(join(dir, 'tenants'), join(dir, 'tenants.moved'));
  await writeFile(join(dir, 'tenants'), 'not a directory');
  await Promise.all([s.commit(state(2, 'b'), 1), s.commit(state(2, 'b', 'u'), 1)]);
  await waitFor(() => errors.length >= 2, { what: 'both checkpoints failing' });
  return { dir, s, errors };
}

/** Put the tenants directory back. */
async function tenantsBack(dir: string): Promise<void> {
  await rm(join(dir, 'tenants'));
  await rename(join(dir, 'tenants.moved'), join(dir, 'tenants'));
}

describe('state journal', () => {
  it('commits made together are durable in the journal first; their files follow, and the journal empties', async () => {
    const dir = await tempDir();
    const s = await open(dir);
    // First commits: new files (temp file and rename) once the journal is quiet.
    await Promise.all([s.commit(state(1), undefined), s.commit(state(1, 'a', 'u'), undefined)]);
    await Promise.all([s.commit(state(2, 'b'), 1), s.commit(state(2, 'b', 'u'), 1)]);
    // Whether or not the files have caught up yet, the committed state is epoch 2.
    expect(readCommittedState(dir, 't')).toMatchObject({ epoch: 2, active: 'b' });
    expect(readCommittedState(dir, 'u')).toMatchObject({ epoch: 2, active: 'b' });
    await s.checkpointed();
    expect(await epochs(join(dir, 'tenants', 't.json'))).toEqual({ epoch: 2, seq: 2 });
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(0);
    // A lone commit too: durable in the journal, in its slot once the journal is quiet.
    await s.commit(state(3, 'a'), 2);
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBeGreaterThan(0);
    await waitFor(async () => (await epochs(join(dir, 'tenants', 't.json'))).epoch === 3, { what: 'the lone commit in its file' });
    expect(await epochs(join(dir, 'tenants', 't.json'))).toEqual({ epoch: 3, seq: 3 });
    await waitFor(async () => (await stat(join(dir, JOURNAL_FILE))).size === 0, { what: 'the journal emptied' });
    await s.close();
  });

  it('a thousand commits in one turn all land, through one journal batch', async () => {
    const dir = await tempDir();
    const s = await open(dir);
    const names = Array.from({ length: 1000 }, (_, i) => `t${i}`);
    await Promise.all(names.map((n) => s.commit(state(1, 'a', n), undefined)));
    await Promise.all(names.map((n) => s.commit(state(2, 'b', n), 1)));
    for (const n of names) expect(readCommittedState(dir, n)).toMatchObject({ epoch: 2, active: 'b' });
    await s.close();
    // Closing waits for the checkpoints: the files alone hold everything, the journal is empty.
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(0);
    const again = await open(dir);
    expect(again.replayed).toEqual([]);
    for (const n of names.slice(0, 50)) expect(await again.load(n)).toMatchObject({ epoch: 2, active: 'b' });
    await again.close();
  });

  it('closing right after commits that were not awaited writes them first, into their files', async () => {
    const dir = await tempDir();
    const s = await open(dir);
    await Promise.all([s.commit(state(1), undefined), s.commit(state(1, 'a', 'u'), undefined)]);
    const committed = Promise.all([s.commit(state(2, 'b'), 1), s.commit(state(2, 'b', 'u'), 1)]);
    await s.close();
    await committed;
    expect(await epochs(join(dir, 'tenants', 't.json'))).toEqual({ epoch: 2, seq: 2 });
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(0);
  });

  it('a checkpoint that fails: the commit stands, the error is reported, and the next start replays it', async () => {
    const { dir, s, errors } = await checkpointsFailing();
    expect(errors[0]).toMatch(/state journal checkpoint failed \(the journal keeps the record\): .*t\.json: /);
    await s.close();
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBeGreaterThan(0);

    await tenantsBack(dir);
    expect(await epochs(join(dir, 'tenants', 't.json'))).toEqual({ epoch: 1, seq: 1 });
    const again = await open(dir);
    expect(again.replayed.sort()).toEqual(['t', 'u']);
    expect(await again.load('t')).toMatchObject({ epoch: 2, active: 'b' });
    expect(await again.load('u')).toMatchObject({ epoch: 2, active: 'b' });
    expect(await epochs(join(dir, 'tenants', 't.json'))).toEqual({ epoch: 2, seq: 2 });
    expect((await stat(join(dir, JOURNAL_FILE))).size).toBe(0);
    await again.close();
  });

  it('the writer thread dies with checkpoints outstanding: they reach their files before the next commit', async () => {
    const { dir, s } = await checkpointsFailing();
    // The thread dies (as an OOM or a crash would) with both records only in the journal.
    await (s as unknown as { writer: { worker: Worker } }).writer.worker.terminate();
    await tenantsBack(dir);

    await s.commit(state(3, 'a'), 2);
    expect(s.replayed.sort()).toEqual(['t', 'u']);
    await s.checkpointed();
    // Epoch 2 went into its slot before epoch 3 went into the other: one commit apart.
    const lines = (await readFile(join(dir, 'tenants', 't.json'), 'utf8')).split('\n').filter((l) => l.trim() !== '');
    expect(lines.map((l) => JSON.parse(l) as { seq: number; state: TenantState }).map((r) => [r.seq, r.state.epoch]).sort()).toEqual([
      [2, 2],
      [3, 3],
    ]);
    await s.close();
    const again = await open(dir);
    expect(again.replayed).toEqual([]);
    expect(await again.load('t')).toMatchObject({ epoch: 3, active: 'a' });
    expect(await again.load('u')).toMatchObject({ epoch: 2, active: 'b' });
    await again.close();
  });

  it('replays a record newer than the file into the other slot; an older one changes nothing', async () => {
    const dir = await tempDir();
    const file = await slottedFile(dir, [[0, 1, state(1)]]);
    await journal(dir, [[1, 2, state(2, 'b')]]);
    const s = await open(dir);
    expect(s.replayed).toEqual(['t']);
    expect(await s.load('t')).toMatchObject({ epoch: 2, active: 'b' });
    await s.close();
    expect(await epochs(file)).toEqual({ epoch: 2, seq: 2 });

    const dir2 = await tempDir();
    const file2 = await slottedFile(dir2, [[0, 3, state(3)], [1, 2, state(2, 'b')]]);
    const before = await readFile(file2);
    await journal(dir2, [[1, 2, state(2, 'b')], [0, 3, state(3)]]);
    const s2 = await open(dir2);
    expect(s2.replayed).toEqual([]);
    expect(await s2.load('t')).toMatchObject({ epoch: 3 });
    await s2.close();
    expect(await readFile(file2)).toEqual(before);
  });

  it('a batch torn by a crash (never acknowledged) is skipped; the records before it replay', async () => {
    const dir = await tempDir();
    await slottedFile(dir, [[0, 1, state(1)]]);
    const torn = slotLine(0, 3, JSON.stringify(state(3))).slice(0, 50);
    await journal(dir, [[1, 2, state(2, 'b')]], torn);
    const s = await open(dir);
    expect(await s.load('t')).toMatchObject({ epoch: 2, active: 'b' });
    await s.close();
  });

  it('a record naming no valid tenant (it would become a file name) is skipped', () => {
    const evil = { ...state(9), tenant: '../../escape' };
    const { records, skipped } = readJournal(Buffer.from(`${slotLine(0, 2, JSON.stringify(evil))}\n${slotLine(1, 2, JSON.stringify(state(2)))}\n`));
    expect([...records.keys()]).toEqual(['t']);
    expect(skipped).toBe(1);
  });

  it('a slot torn while the journal holds its record: the record is loaded, no recovery move of the epoch', async () => {
    const dir = await tempDir();
    const file = await slottedFile(dir, [[0, 1, state(1)]]);
    // The checkpoint of seq 2 into slot 1 was cut short by the crash.
    await overwrite(file, 4096, '{"slot":1,"seq":2,"crc":1,"state":{"ten');
    await journal(dir, [[1, 2, state(2, 'b')]]);
    const s = await open(dir);
    expect(await s.load('t')).toMatchObject({ epoch: 2, active: 'b', trigger: 'admin' });
    await s.close();
  });

  it('both slots damaged (a disk fault): the journal does not paper over it, loading stops with the clear error', async () => {
    const dir = await tempDir();
    const file = await slottedFile(dir, [[0, 1, state(1)], [1, 2, state(2, 'b')]]);
    await overwrite(file, 40, 'XXXX');
    await overwrite(file, 4096 + 40, 'XXXX');
    const before = await readFile(file);
    await journal(dir, [[1, 2, state(2, 'b')]]);
    const s = await open(dir);
    expect(s.replayed).toEqual([]);
    await expect(s.load('t')).rejects.toMatchObject({ code: 'DRP_STATE_CORRUPT' });
    await s.close();
    expect(await readFile(file)).toEqual(before);
  });

  it('a missing file is written from the journal; a hand-written plain file wins unless its epoch is lower', async () => {
    const dir = await tempDir();
    await journal(dir, [[0, 4, state(4, 'b')]]);
    const s = await open(dir);
    expect(await s.load('t')).toMatchObject({ epoch: 4, active: 'b' });
    await s.close();

    const plain = async (epoch: number) => {
      const d = await tempDir();
      await mkdir(join(d, 'tenants'), { recursive: true });
      await writeFile(join(d, 'tenants', 't.json'), JSON.stringify(state(epoch, 'c')));
      await journal(d, [[1, 5, state(5, 'b')]]);
      const st = await open(d);
      const loaded = await st.load('t');
      await st.close();
      return loaded;
    };
    expect(await plain(7)).toMatchObject({ epoch: 7, active: 'c' }); // the operator's repair
    expect(await plain(3)).toMatchObject({ epoch: 5, active: 'b' }); // never back below a commit
  });

  it('SIGKILL right after the commits return: every one of them is there at the next start', async () => {
    const dir = await tempDir();
    const dist = fileURLToPath(new URL('../dist/state/file-store.js', import.meta.url));
    const child = `
      const { FileStateStore } = await import(${JSON.stringify(dist)});
      const s = new FileStateStore(${JSON.stringify(dir)});
      await s.open();
      const st = (n, epoch) => ({ tenant: n, epoch, phase: 'active', active: epoch === 1 ? 'a' : 'b', fenced: [], reason: 'test', trigger: 'admin', updated_at: '' });
      const names = Array.from({ length: 300 }, (_, i) => 't' + i);
      await Promise.all(names.map((n) => s.commit(st(n, 1), undefined)));
      await Promise.all(names.map((n) => s.commit(st(n, 2), 1)));
      process.kill(process.pid, 'SIGKILL');
    `;
    const script = join(dir, 'child.mjs');
    await writeFile(script, child);
    const proc = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const signal = await new Promise((r) => proc.once('exit', (_code, sig) => r(sig)));
    expect(signal, stderr).toBe('SIGKILL');
    const s = await open(dir);
    // The kill came microseconds after the commits returned, long before 300 checkpoints
    // (an fdatasync each) could be done: the journal had them.
    expect(s.replayed.length).toBeGreaterThan(0);
    for (let i = 0; i < 300; i++) expect(await s.load(`t${i}`)).toMatchObject({ epoch: 2, active: 'b' });
    await s.close();
  });
});

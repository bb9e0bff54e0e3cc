/**
 * Issue 16 item 15: the state manifest itself deleted, damaged or rolled back while the tenant
 * files are intact. drproxy loads with an alert and rebuilds it from the files (then the best
 * evidence); a directory written by a drproxy before the manifest gets one without an alert;
 * a torn manifest slot (a crash while it was written) falls back to the other. No epoch ever
 * loads below the committed one.
 */
import { describe, expect, it } from 'vitest';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readManifest } from '../../src/state/manifest.js';
import type { TenantState } from '../../src/state/types.js';
import { tempDir } from '../helpers/proxy.js';
import { overwrite } from '../helpers/files.js';
import { neverBelow, openStore, st } from './helpers.js';

const T3 = st(3, 'a1', ['b1']);
const U2 = st(2, 'b1', ['a1'], 'u');

/** t at epoch 3, u at epoch 2, both in their files and in the manifest. */
async function history(dir: string): Promise<void> {
  const { s } = await openStore(dir);
  await Promise.all([s.commit(st(1, 'a1'), undefined), s.commit(st(1, 'a1', [], 'u'), undefined)]);
  await Promise.all([s.commit(st(2, 'b1', ['a1']), 1), s.commit(U2, 1)]);
  await s.commit(T3, 2);
  await s.close();
}

async function loadsBoth(dir: string): Promise<{ t?: TenantState; u?: TenantState; events: string[] }> {
  const a = await openStore(dir);
  const t = await a.s.load('t');
  const u = await a.s.load('u');
  await a.s.close();
  return { t, u, events: a.notices.map((n) => `${n.event}${n.alert ? ' (alert)' : ''}`) };
}

describe('the state manifest', () => {
  it('is written with the commits: each tenant\'s last epoch, seq and site', async () => {
    const dir = await tempDir();
    await history(dir);
    const m = await readManifest(dir);
    expect(m.status).toBe('ok');
    if (m.status !== 'ok') return;
    expect(Object.fromEntries(m.entries)).toEqual({
      t: { epoch: 3, seq: 3, site: 'a1', crc: expect.any(Number) },
      u: { epoch: 2, seq: 2, site: 'b1', crc: crc32(JSON.stringify(U2)) },
    });
  });

  it('deleted: an alert, rebuilt from the tenant files, which load as committed; a tenant file deleted after that is noticed again', async () => {
    const dir = await tempDir();
    await history(dir);
    await rm(join(dir, 'manifest.json'));
    const r = await loadsBoth(dir);
    neverBelow(r.t, T3);
    neverBelow(r.u, U2);
    expect(r.events).toEqual(['state_manifest_rebuilt (alert)']);
    expect((await stat(join(dir, 'manifest.json'))).size).toBeGreaterThan(0);
    await rm(join(dir, 'tenants', 'u.json'));
    const again = await loadsBoth(dir);
    expect(again.u).toMatchObject({ phase: 'frozen', frozen_cause: 'state_lost', epoch: 4 });
  });

  for (const [what, damage] of [
    ['both slots damaged', async (f: string) => (await overwrite(f, 30, 'XX'), overwrite(f, (await stat(f)).size / 2 + 30, 'XX'))],
    ['truncated to nothing', async (f: string) => writeFile(f, '')],
    ['replaced by garbage', async (f: string) => writeFile(f, 'not a manifest\n')],
  ] as const) {
    it(`${what}: an alert, rebuilt from the tenant files, which load as committed`, async () => {
      const dir = await tempDir();
      await history(dir);
      await damage(join(dir, 'manifest.json'));
      const r = await loadsBoth(dir);
      neverBelow(r.t, T3);
      neverBelow(r.u, U2);
      expect(r.events).toEqual(['state_manifest_rebuilt (alert)']);
      expect((await readManifest(dir)).status).toBe('ok');
    });
  }

  it('one slot damaged: loads the other, merges the tenant files into it, with an alert (the journal was empty: not a crash)', async () => {
    const dir = await tempDir();
    await history(dir);
    const m = await readManifest(dir);
    if (m.status !== 'ok') throw new Error(m.status);
    await overwrite(join(dir, 'manifest.json'), m.layout.slot * m.layout.size + 30, 'XX'); // the newest
    const r = await loadsBoth(dir);
    neverBelow(r.t, T3);
    neverBelow(r.u, U2);
    expect(r.events).toEqual(['state_manifest_repaired (alert)']);
  });

  it('rolled back to an older copy: the tenant files are ahead of it and win (a warning), never a lower epoch', async () => {
    const dir = await tempDir();
    const { s } = await openStore(dir);
    await s.commit(st(1, 'a1'), undefined);
    await s.checkpointed();
    await copyFile(join(dir, 'manifest.json'), join(dir, 'manifest.old'));
    await s.commit(st(2, 'b1', ['a1']), 1);
    await s.commit(T3, 2);
    await s.close();
    await copyFile(join(dir, 'manifest.old'), join(dir, 'manifest.json'));
    const a = await openStore(dir);
    neverBelow(await a.s.load('t'), T3);
    expect(a.notices.map((n) => [n.event, n.alert])).toEqual([['state_manifest_behind', false]]);
    await a.s.close();
  });

  it('cannot be written while running (a directory in its place): reported, the journal kept; the next start rebuilds it', async () => {
    const dir = await tempDir();
    const a = await openStore(dir);
    await a.s.commit(st(1, 'a1'), undefined);
    await a.s.checkpointed();
    await rm(join(dir, 'manifest.json'));
    await mkdir(join(dir, 'manifest.json'));
    await a.s.commit(st(2, 'b1', ['a1']), 1);
    await a.s.commit(T3, 2);
    await a.s.checkpointed();
    expect(a.writeErrors.join('\n')).toMatch(/state manifest .*manifest\.json: EISDIR/);
    expect((await stat(join(dir, 'journal.log'))).size).toBeGreaterThan(0);
    await a.s.close();
    await rm(join(dir, 'manifest.json'), { recursive: true });
    const r = await loadsBoth(dir);
    neverBelow(r.t, T3);
    expect(r.events).toEqual(['state_manifest_rebuilt (alert)']);
  });

  it('deleted while running: written anew from what the store holds, before the journal is emptied', async () => {
    const dir = await tempDir();
    const a = await openStore(dir);
    await Promise.all([a.s.commit(st(1, 'a1'), undefined), a.s.commit(st(1, 'a1', [], 'u'), undefined)]);
    await a.s.checkpointed();
    await rm(join(dir, 'manifest.json'));
    await a.s.commit(st(2, 'b1', ['a1']), 1);
    await a.s.checkpointed();
    expect(a.writeErrors).toEqual([]);
    const m = await readManifest(dir);
    expect(m.status === 'ok' && Object.fromEntries(m.entries)).toMatchObject({ t: { epoch: 2 }, u: { epoch: 1 } });
    await a.s.close();
  });

  it('a directory written by a drproxy before the manifest (version 1 records, no manifest): created without an alert', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'tenants'), { recursive: true });
    const v1 = (slot: 0 | 1, seq: number, s: TenantState) => {
      const text = JSON.stringify(s);
      const line = `{"slot":${slot},"seq":${seq},"crc":${crc32(text)},"state":${text}}`;
      return line + ' '.repeat(4095 - line.length) + '\n';
    };
    await writeFile(join(dir, 'tenants', 't.json'), v1(0, 3, T3) + v1(1, 2, st(2, 'b1', ['a1'])));
    await writeFile(join(dir, 'LOCK'), '1\n'); // the old pid file, left by pid 1
    const a = await openStore(dir);
    expect(a.notices.map((n) => [n.event, n.alert])).toEqual([['state_manifest_created', false]]);
    neverBelow(await a.s.load('t'), T3);
    // The next commit writes version 2 (into the older slot, as always).
    await a.s.commit(st(4, 'b1', ['a1']), 3);
    await a.s.close();
    const text = await readFile(join(dir, 'tenants', 't.json'), 'utf8');
    expect(text.slice(4096)).toMatch(/^\{"v":2,"slot":1,"seq":4,/);
    expect(text).toMatch(/^\{"slot":0,"seq":3,/);
  });
});

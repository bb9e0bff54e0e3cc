/**
 * Issue 16 item 14: a state slot's checksum covers the whole record. Every bit of both slots
 * of a tenant file is flipped in turn (slot number, seq, state, checksum, padding, newline):
 * the file never loads the older record as if it were the newest (that dropped an operator's
 * fence), and never loads an epoch lower than the committed one. Old-format (version 1)
 * records, whose checksum covers the state only, are held to the same with the state
 * manifest's record of the last commit.
 */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readStateFile } from '../../src/state/file-store.js';
import type { ManifestEntry } from '../../src/state/manifest.js';
import { slotLine } from '../../src/state/slots.js';
import type { TenantState } from '../../src/state/types.js';
import { judge } from '../../src/state/verdict.js';
import { tempDir } from '../helpers/proxy.js';
import { neverBelow, openStore, st } from './helpers.js';

// The operator's fence at epoch 2 is the newest commit (seq 3, slot 0); slot 1 holds the
// commit before it (seq 2), the same epoch without the fence.
const fenced = st(2, 'b', ['a']);
const before = st(2, 'b', []);
const text = (s: TenantState) => JSON.stringify(s);
const v1Line = (slot: 0 | 1, seq: number, s: TenantState) => `{"slot":${slot},"seq":${seq},"crc":${crc32(text(s))},"state":${text(s)}}`;
const pad = (line: string) => line + ' '.repeat(4095 - Buffer.byteLength(line)) + '\n';

function fileOf(format: 1 | 2): Buffer {
  const line = format === 2 ? (slot: 0 | 1, seq: number, s: TenantState) => slotLine(slot, seq, text(s)) : v1Line;
  return Buffer.from(pad(line(0, 3, fenced)) + pad(line(1, 2, before)));
}
const manifest: ManifestEntry = { epoch: 2, seq: 3, site: 'b', crc: crc32(text(fenced)) };

/** What a load makes of these bytes: the state it would come up with. */
function loads(data: Buffer, m: ManifestEntry | undefined): TenantState {
  const v = judge(readStateFile(data, 't.json', 't'), m);
  if (v.kind === 'none' || v.kind === 'lost') throw new Error(`one flipped bit lost the tenant: ${JSON.stringify(v)}`);
  if (v.kind === 'ok') return v.state;
  return { ...v.base, epoch: v.epoch };
}

/** Every bit of the record lines, the first padding bytes and the newline of both slots. */
function* flips(data: Buffer): Generator<{ at: number; bit: number; flipped: Buffer }> {
  const recordEnd = (slot: number) => data.indexOf(0x20, slot * 4096 + 10) + 16;
  for (const slot of [0, 1]) {
    const offsets = [];
    for (let i = slot * 4096; i < recordEnd(slot); i++) offsets.push(i);
    offsets.push(slot * 4096 + 4095);
    for (const at of offsets) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = Buffer.from(data);
        flipped[at]! ^= 1 << bit;
        yield { at, bit, flipped };
      }
    }
  }
}

describe('a flipped bit anywhere in a state file', () => {
  for (const [format, m, what] of [
    [2, manifest, 'version 2 records, with the state manifest'],
    [2, undefined, 'version 2 records, with the state manifest lost'],
    [1, manifest, 'version 1 records (the old format), with the state manifest'],
  ] as const) {
    it(`${what}: never loads the older record as the newest, never a lower epoch`, () => {
      const data = fileOf(format);
      expect(loads(data, m)).toEqual(fenced);
      let n = 0;
      for (const { at, bit, flipped } of flips(data)) {
        const got = loads(flipped, m);
        try {
          neverBelow(got, fenced);
        } catch (err) {
          throw new Error(`byte ${at} (${JSON.stringify(String.fromCharCode(data[at]!))}) bit ${bit}: loaded ${JSON.stringify(got)}`, { cause: err });
        }
        n++;
      }
      expect(n).toBeGreaterThan(8 * 400);
    });
  }

  it("the issue's case through the store: a bit of the older slot's seq does not drop the operator's fence", async () => {
    const dir = await tempDir();
    const { s } = await openStore(dir);
    await s.commit(st(1, 'a'), undefined);
    await s.commit(before, 1);
    await s.commit(fenced, 2);
    await s.close();
    const file = join(dir, 'tenants', 't.json');
    const data = await readFile(file);
    const older = data.indexOf('"seq":2') + 6; // slot 1 holds seq 2
    expect(older).toBeGreaterThan(4096);
    data[older] = 0x36; // '2' -> '6': one bit
    await writeFile(file, data);
    const again = await openStore(dir);
    const loaded = await again.s.load('t');
    neverBelow(loaded, fenced);
    expect(loaded).toMatchObject({ fenced: ['a'], trigger: 'recovery' });
    expect(again.repairs.join()).toMatch(/slot 1 was unreadable \(checksum mismatch\)/);
    await again.s.close();
  });

  for (const region of ['"slot":', '"seq":', '"crc":', '"fenced":["'] as const) {
    for (const slot of [0, 1] as const) {
      it(`through the store: slot ${slot}, the byte after ${region}`, async () => {
        const dir = await tempDir();
        const { s } = await openStore(dir);
        await s.commit(st(1, 'a'), undefined);
        await s.commit(before, 1);
        await s.commit(fenced, 2);
        await s.close();
        const file = join(dir, 'tenants', 't.json');
        const data = await readFile(file);
        const at = data.indexOf(region, slot * 4096) + region.length;
        expect(at).toBeLessThan((slot + 1) * 4096);
        data[at]! ^= 0x01;
        await writeFile(file, data);
        const again = await openStore(dir);
        neverBelow(await again.s.load('t'), fenced);
        await again.s.close();
      });
    }
  }
});

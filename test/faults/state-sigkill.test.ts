/**
 * SIGKILL in the middle of commits: a child process flips 20 tenants as fast as it can (every
 * commit raises the epoch; every third one fences at the same epoch) and prints each commit
 * once it returns; it is killed at a different moment in each of four rounds on the same
 * directory. At every restart each tenant loads at or above its last acknowledged epoch, and
 * none comes up frozen as lost or repaired: a crash is never mistaken for a deleted,
 * rolled-back or damaged file.
 */
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/proxy.js';
import { waitFor } from '../helpers/poll.js';
import { openStore } from './helpers.js';

const DIST = fileURLToPath(new URL('../../dist/state/file-store.js', import.meta.url));
const TENANTS = Array.from({ length: 20 }, (_, i) => `t${i}`);

const CHILD = `
const [dir, names] = [process.argv[2], process.argv[3].split(',')];
const { FileStateStore } = await import(${JSON.stringify(DIST)});
const s = new FileStateStore(dir);
await s.open();
const st = (n, epoch, k, fenced) => ({ tenant: n, epoch, phase: 'active', active: k % 2 ? 'b' : 'a', fenced, reason: 'sigkill test', trigger: 'admin', updated_at: '' });
const at = new Map();
for (const n of names) at.set(n, (await s.load(n))?.epoch);
process.stdout.write('ready\\n');
for (let k = 0; ; k++) {
  await Promise.all(names.map(async (n) => {
    const e = at.get(n);
    const next = e === undefined ? 1 : k % 3 === 2 ? e : e + 1;
    await s.commit(st(n, next, k, k % 3 === 2 ? ['x'] : []), e);
    at.set(n, next);
    process.stdout.write('ack ' + n + ' ' + next + '\\n');
  }));
}
`;

describe('SIGKILL while committing', () => {
  it('four kills at different moments: every tenant at or above its last acknowledged epoch, none taken for lost', async () => {
    const dir = await tempDir();
    const script = join(dir, 'child.mjs');
    await writeFile(script, CHILD);
    const acked = new Map<string, number>();
    for (const [round, acks] of [[0, 5], [1, 60], [2, 200], [3, 600]] as const) {
      const proc = spawn(process.execPath, [script, dir, TENANTS.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<NodeJS.Signals | null>((r) => proc.once('exit', (_c, sig) => r(sig)));
      // Killed after a different number of acknowledged commits each round.
      await waitFor(() => out.split('\n').filter((l) => l.startsWith('ack ')).length >= acks || proc.exitCode !== null, { what: `round ${round}: ${acks} commits`, timeout: 20_000 });
      proc.kill('SIGKILL');
      expect(await exited, err).toBe('SIGKILL');
      for (const line of out.split('\n')) {
        const m = /^ack (\S+) (\d+)$/.exec(line);
        if (m) acked.set(m[1]!, Math.max(acked.get(m[1]!) ?? 0, Number(m[2])));
      }
      const { s, notices, repairs } = await openStore(dir);
      for (const n of TENANTS) {
        const loaded = await s.load(n);
        if (!acked.has(n)) continue;
        expect(loaded, `round ${round}, ${n}`).toBeDefined();
        expect(loaded!.epoch, `round ${round}, ${n}`).toBeGreaterThanOrEqual(acked.get(n)!);
        expect(loaded!.phase, `round ${round}, ${n}: ${loaded!.reason}`).toBe('active');
      }
      // Nothing taken for lost, damaged or rebuilt: a torn write is always one the journal holds.
      expect(notices.filter((x) => x.alert)).toEqual([]);
      expect(repairs).toEqual([]);
      await s.close();
    }
    expect(acked.size).toBe(TENANTS.length);
  });
});

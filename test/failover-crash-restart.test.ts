/**
 * drproxy killed (SIGKILL, for real) at each step of a flip, then restarted on the same state
 * directory: the epoch never goes backwards and the active site is consistent with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { spawnProxy, tempDir, FAST_CHECKS, type ChildProxy } from './helpers/proxy.js';
import { startHookServer, type HookServer } from './helpers/hook-server.js';
import { waitFor } from './helpers/poll.js';
import { readCommittedState } from '../src/state/file-store.js';

let primary: Upstream, backup: Upstream;
let hooks: HookServer;
const STEPS = [
  'flip:before-persist',
  'flip:after-persist',
  'flip:after-drain',
  'flip:after-fence',
  'flip:after-promote',
  'flip:after-route',
  'flip:after-complete',
] as const;

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  hooks = await startHookServer(200);
});

afterAll(async () => {
  await stopAll(primary, backup);
  await hooks?.close();
});

const doc = () => ({
  defaults: { health_check: FAST_CHECKS },
  tenants: {
    t: {
      tier: 'BC',
      hosts: ['t.example.com'],
      sites: [
        { name: 'a1', backends: [primary.url], fence: { url: `${hooks.url}/fence` } },
        { name: 'b1', backends: [backup.url], promote: { url: `${hooks.url}/promote` } },
      ],
    },
  },
});

/** The committed state: the tenant's file, or the journal's record when the file lags it. */
async function state(dir: string): Promise<{ epoch: number; phase: string; active: string; to?: string }> {
  const s = readCommittedState(dir, 't');
  if (s === undefined) throw new Error('no state committed');
  return s;
}

async function servedBy(px: ChildProxy): Promise<{ site?: string; epoch?: string }> {
  const r = await request(`${px.url}/`, { headers: { host: 't.example.com' } });
  const text = await r.body.text();
  if (r.statusCode !== 200) return {};
  const j = JSON.parse(text) as { site: string; headers: Record<string, string> };
  return { site: j.site, epoch: j.headers['x-dr-epoch'] };
}

describe('SIGKILL of drproxy at each step of a flip', () => {
  for (const step of STEPS) {
    it(`${step}: the restarted proxy never goes below the persisted epoch`, async () => {
      const dir = await tempDir();
      if (primary.proc.exitCode !== null || primary.proc.signalCode !== null) await primary.restart();
      const first = await spawnProxy(doc(), dir, { DRPROXY_FAILPOINTS: step });
      try {
        await waitFor(async () => (await servedBy(first)).site === 'a1', { what: 'traffic on a1' });
        const before = await state(dir);
        expect(before).toMatchObject({ epoch: 1, active: 'a1' });
        const died = new Promise((r) => first.proc.once('exit', (_c, sig) => r(sig)));
        await primary.kill('SIGKILL');
        expect(await died).toBe('SIGKILL');
      } finally {
        await first.kill();
      }
      const atCrash = await state(dir);
      expect(atCrash.epoch).toBeGreaterThanOrEqual(1);
      if (step === 'flip:before-persist') expect(atCrash).toMatchObject({ epoch: 1, phase: 'active', active: 'a1' });
      else expect(atCrash.epoch).toBe(2);

      const second = await spawnProxy(doc(), dir);
      try {
        await waitFor(async () => (await servedBy(second)).site === 'b1', { what: 'traffic on b1 after the restart' });
        // Traffic moves first; the completion record follows it to disk.
        const after = await waitFor(async () => {
          const s = await state(dir);
          return s.phase === 'active' ? s : undefined;
        }, { what: 'the completed flip on disk' });
        expect(after.epoch).toBeGreaterThanOrEqual(atCrash.epoch);
        expect(after).toMatchObject({ phase: 'active', active: 'b1', epoch: 2 });
        expect((await servedBy(second)).epoch).toBe(String(after.epoch));
        // The crash is not taken for a lost, damaged or rebuilt state.
        expect(second.output()).not.toMatch(/"event":"state_(lost|repaired|manifest_rebuilt|manifest_repaired)"/);
      } finally {
        await second.kill();
      }
    });
  }
});

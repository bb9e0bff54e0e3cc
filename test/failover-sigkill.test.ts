import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { startProxy, tempDir, FAST_CHECKS, type TestProxy, sitesHealthy } from './helpers/proxy.js';
import { waitFor } from './helpers/poll.js';
import { readCommittedState } from '../src/state/file-store.js';

let primary: Upstream;
let backup: Upstream;
let p: TestProxy | undefined;
let stateDir: string;

const doc = () => ({
  defaults: { health_check: FAST_CHECKS, failover: { min_interval: '1s' } },
  tenants: {
    acme: {
      tier: 'BC',
      hosts: ['acme.example.com'],
      sites: [
        { name: 'a1-primary', backends: [primary.url] },
        { name: 'b1-standby', backends: [backup.url] },
      ],
    },
  },
});

async function hit(): Promise<{ status: number; site?: string; epoch?: string }> {
  const r = await request(`${p!.url}/`, { headers: { host: 'acme.example.com' } });
  const text = await r.body.text();
  if (r.statusCode !== 200) return { status: r.statusCode };
  const j = JSON.parse(text) as { site: string; headers: Record<string, string> };
  return { status: 200, site: j.site, epoch: j.headers['x-dr-epoch'] };
}

/** The committed state: the tenant's file, or the journal's record while the file lags it. */
async function stored(): Promise<{ epoch: number; active: string; fenced: string[]; phase: string }> {
  const s = readCommittedState(stateDir, 'acme');
  if (s === undefined) throw new Error('no state committed');
  return s;
}

beforeAll(async () => {
  [primary, backup] = await Promise.all([startUpstream('a1-primary'), startUpstream('b1-standby')]);
  stateDir = await tempDir();
  p = await startProxy(doc(), { stateDir });
  await sitesHealthy(p!, 'acme');
});

afterAll(async () => {
  await p?.stop();
  await stopAll(primary, backup);
});

describe('automatic failover', () => {
  it('serves from the primary at epoch 1 at first', async () => {
    await waitFor(async () => (await hit()).site === 'a1-primary', { what: 'traffic on the primary' });
    expect(await hit()).toEqual({ status: 200, site: 'a1-primary', epoch: '1' });
    expect(await stored()).toMatchObject({ epoch: 1, active: 'a1-primary', phase: 'active' });
  });

  it('moves traffic to the backup when the primary is killed, with a higher persisted epoch', async () => {
    await primary.kill('SIGKILL');
    await waitFor(async () => (await hit()).site === 'b1-standby', { what: 'traffic on the backup', timeout: 10_000 });
    expect(await hit()).toEqual({ status: 200, site: 'b1-standby', epoch: '2' });
    // Traffic moves first; the completion record follows it to disk (the epoch was there before).
    await waitFor(async () => (await stored()).phase === 'active', { what: 'the completed flip on disk' });
    expect(await stored()).toMatchObject({ epoch: 2, active: 'b1-standby', phase: 'active', fenced: ['a1-primary'] });
    const flip = p!.proxy.tenant('acme')!.flips.at(-1)!;
    expect(flip).toMatchObject({ from: 'a1-primary', to: 'b1-standby', epoch: 2, trigger: 'health' });
    expect(flip.timings.persistedAt).toBeLessThanOrEqual(flip.timings.routedAt);
  });

  it('keeps the epoch and the active site across a restart', async () => {
    await p!.stop();
    p = await startProxy(doc(), { stateDir });
    expect(p.proxy.tenant('acme')!.state).toMatchObject({ epoch: 2, active: 'b1-standby', fenced: ['a1-primary'] });
    expect(await hit()).toEqual({ status: 200, site: 'b1-standby', epoch: '2' });
  });

  it('does not fail back on its own: the recovered primary stays fenced and gets no traffic', async () => {
    await primary.restart();
    const backend = p!.proxy.tenant('acme')!.site('a1-primary')!.backends[0]!;
    await waitFor(() => backend.health.check.state === 'up', { what: 'primary healthy again' });
    for (let i = 0; i < 20; i++) expect((await hit()).site).toBe('b1-standby');
    expect((await primary.stats()).requests).toBe(0);
  });
});

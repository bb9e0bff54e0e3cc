/**
 * Issue 16 item 15: a tenant's state file deleted, or rolled back to an older copy, while the
 * rest of the state directory is intact. The state manifest notices: the tenant comes up
 * frozen (`state_lost`) with an alert, at an epoch above every epoch committed, never at epoch
 * 1 on its previously fenced primary; an operator's failover brings it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { startProxy, tempDir } from '../helpers/proxy.js';
import { startUpstream, stopAll, type Upstream } from '../helpers/upstream.js';
import { neverBelow, openStore, st } from './helpers.js';

/** t: a1 → b1 (epoch 2), then a1 fenced by hand at epoch 2; u: epoch 1, untouched. */
async function history(dir: string): Promise<void> {
  const { s } = await openStore(dir);
  await s.commit(st(1, 'a1'), undefined);
  await s.commit(st(1, 'a1', [], 'u'), undefined);
  await s.commit(st(2, 'b1'), 1);
  await s.commit(st(2, 'b1', ['a1']), 2);
  await s.close();
}
const committed = st(2, 'b1', ['a1']);

describe('a lost tenant state file', () => {
  it('deleted: frozen (state_lost) above every committed epoch, with an alert; the other tenant as it was', async () => {
    const dir = await tempDir();
    await history(dir);
    await rm(join(dir, 'tenants', 't.json'));
    const a = await openStore(dir);
    const t = await a.s.load('t');
    neverBelow(t, committed);
    expect(t).toMatchObject({ epoch: 4, phase: 'frozen', frozen_cause: 'state_lost', active: 'b1', trigger: 'recovery' });
    expect(t!.reason).toMatch(/t\.json: the file is missing, but the state manifest records epoch 2 .*frozen at epoch 4/);
    expect(a.notices).toEqual([expect.objectContaining({ event: 'state_lost', alert: true, tenant: 't' })]);
    expect(await a.s.load('u')).toMatchObject({ epoch: 1, phase: 'active' });
    await a.s.close();
    // The next start finds the frozen state as written: the same epoch, no new alert.
    const b = await openStore(dir);
    expect(await b.s.load('t')).toMatchObject({ epoch: 4, phase: 'frozen', frozen_cause: 'state_lost' });
    expect(b.notices).toEqual([]);
    await b.s.close();
  });

  it('rolled back to an older copy: frozen above every committed epoch, from what the copy holds', async () => {
    const dir = await tempDir();
    const { s } = await openStore(dir);
    await s.commit(st(1, 'a1'), undefined);
    await s.commit(st(2, 'b1', ['a1']), 1);
    await s.checkpointed();
    const file = join(dir, 'tenants', 't.json');
    await copyFile(file, `${file}.backup`);
    await s.commit(st(3, 'a1', ['b1']), 2);
    await s.commit(st(4, 'b1', ['a1']), 3);
    await s.close();
    await copyFile(`${file}.backup`, file);
    const a = await openStore(dir);
    const t = await a.s.load('t');
    neverBelow(t, st(4, 'b1', ['a1']));
    expect(t).toMatchObject({ epoch: 6, phase: 'frozen', frozen_cause: 'state_lost', active: 'b1', fenced: ['a1'] });
    expect(t!.reason).toMatch(/holds seq 2 \(epoch 2\), older than the last commit the state manifest records \(seq 4, epoch 4\)/);
    expect(a.notices.map((n) => [n.event, n.alert])).toEqual([['state_lost', true]]);
    await a.s.close();
  });

  it('rolled back one commit at the same epoch (the fence undone): frozen too', async () => {
    const dir = await tempDir();
    const { s } = await openStore(dir);
    await s.commit(st(1, 'a1'), undefined);
    await s.commit(st(2, 'b1'), 1);
    await s.checkpointed();
    const file = join(dir, 'tenants', 't.json');
    await copyFile(file, `${file}.backup`);
    await s.commit(committed, 2);
    await s.close();
    await copyFile(`${file}.backup`, file);
    const a = await openStore(dir);
    const t = await a.s.load('t');
    neverBelow(t, committed);
    expect(t).toMatchObject({ phase: 'frozen', frozen_cause: 'state_lost' });
    await a.s.close();
  });

  it('replaced by a hand-written plain file: a lower epoch is lost, an equal or higher one is the operator’s repair', async () => {
    for (const [epoch, lost] of [[1, true], [2, false], [7, false]] as const) {
      const dir = await tempDir();
      await history(dir);
      await writeFile(join(dir, 'tenants', 't.json'), JSON.stringify(st(epoch, 'a1')));
      const a = await openStore(dir);
      const t = await a.s.load('t');
      expect(t!.epoch).toBeGreaterThanOrEqual(2);
      if (lost) expect(t).toMatchObject({ epoch: 4, phase: 'frozen', frozen_cause: 'state_lost' });
      else expect(t).toMatchObject({ epoch, phase: 'active', active: 'a1' });
      await a.s.close();
    }
  });

  it('both the tenant file and the manifest gone: a first start, as before', async () => {
    const dir = await tempDir();
    await history(dir);
    await rm(join(dir, 'tenants', 't.json'));
    await rm(join(dir, 'manifest.json'));
    const a = await openStore(dir);
    expect(await a.s.load('t')).toBeUndefined();
    await a.s.close();
  });
});

describe('drproxy with a deleted tenant file', () => {
  let a1: Upstream, b1: Upstream;
  beforeAll(async () => {
    [a1, b1] = await Promise.all([startUpstream('a1'), startUpstream('b1')]);
  });
  afterAll(async () => {
    await stopAll(a1, b1);
  });

  it('starts the tenant frozen with an alert (no traffic, not epoch 1 on the fenced a1); an operator failover brings it back above', async () => {
    const dir = await tempDir();
    await history(dir);
    await rm(join(dir, 'tenants', 't.json'));
    await mkdir(join(dir, 'tenants'), { recursive: true });
    const doc = { tenants: { t: { tier: 'BC', hosts: ['t.example.com'], sites: [{ name: 'a1', backends: [a1.url] }, { name: 'b1', backends: [b1.url] }] } } };
    const p = await startProxy(doc, { stateDir: dir });
    try {
      const c = p.proxy.tenant('t')!;
      neverBelow(c.state, committed);
      expect(c.state).toMatchObject({ epoch: 4, phase: 'frozen', frozen_cause: 'state_lost' });
      expect(p.logs).toContainEqual(expect.objectContaining({ alert: true, audit: true, event: 'state_lost', tenant: 't' }));
      const r = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
      expect(r.statusCode).toBe(503);
      await r.body.dump();
      expect((await a1.stats()).requests + (await b1.stats()).requests).toBe(0);

      const flip = await c.operatorFailover({ to: 'b1', reason: 'state restored by hand', actor: 'ops', force: true });
      expect(flip).toMatchObject({ result: 'routed', epoch: 5, to: 'b1' });
      const ok = await request(`${p.url}/`, { headers: { host: 't.example.com' } });
      const j = (await ok.body.json()) as { site: string; headers: Record<string, string> };
      expect(j).toMatchObject({ site: 'b1', headers: { 'x-dr-epoch': '5' } });
    } finally {
      await p.stop();
    }
  });
});

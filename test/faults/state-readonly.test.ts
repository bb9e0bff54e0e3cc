/**
 * A read-only state directory. Starting on one fails with a clear DRP_STATE_IO error and
 * changes nothing; writable again, it loads every epoch as committed. A tenants directory that
 * turns read-only under a running store: commits still become durable in the journal, the
 * failed checkpoints are reported (the process goes on), and the next start replays them.
 * (Root ignores permission bits: a tmpfs remounted read-only, or a read-only bind mount.)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DrProxy } from '../../src/drproxy.js';
import { parseConfigText } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { bindReadOnly, canMount, tmpfs, type Tmpfs } from './mounts.js';
import { neverBelow, openStore, st } from './helpers.js';

let fs: Tmpfs | undefined;
afterEach(() => {
  fs?.unmount();
  fs = undefined;
});

describe.skipIf(!canMount)('a read-only state directory', () => {
  it('at start: a clear DRP_STATE_IO error (store and drproxy), nothing changed; writable again, the committed epochs', async () => {
    fs = tmpfs('4m');
    const dir = join(fs.dir, 'state');
    const { s } = await openStore(dir);
    await s.commit(st(1, 'a1'), undefined);
    await s.commit(st(2, 'b1', ['a1']), 1);
    await s.close();
    fs.readOnly(true);
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'DRP_STATE_IO', message: expect.stringMatching(/LOCK: EROFS/) });
    const text = `listen: 127.0.0.1:0\nadmin: { listen: 127.0.0.1:0 }\nstate: { dir: ${dir} }\ntenants:\n  t: { tier: BC, hosts: [t.example.com], sites: [{ name: a1, backends: [http://127.0.0.1:9] }, { name: b1, backends: [http://127.0.0.1:9] }] }\n`;
    const { config } = parseConfigText(text, 'test.yaml', fs.dir);
    const logger = createLogger({ level: 'fatal', destination: { write: () => {} } });
    await expect(DrProxy.start(config, { logger, noAdmin: true })).rejects.toMatchObject({ code: 'DRP_STATE_IO' });
    fs.readOnly(false);
    const again = await openStore(dir);
    neverBelow(await again.s.load('t'), st(2, 'b1', ['a1']));
    await again.s.close();
  });

  it('its tenants directory read-only under a running store: commits stand in the journal, checkpoint failures reported, replayed at the next start', async () => {
    fs = tmpfs('4m');
    const dir = join(fs.dir, 'state');
    const a = await openStore(dir);
    await Promise.all([a.s.commit(st(1, 'a1'), undefined), a.s.commit(st(1, 'a1', [], 'u'), undefined)]);
    await a.s.checkpointed();
    const undo = bindReadOnly(join(dir, 'tenants'));
    try {
      await Promise.all([a.s.commit(st(2, 'b1', ['a1']), 1), a.s.commit(st(2, 'b1', ['a1'], 'u'), 1)]);
      await a.s.commit(st(3, 'a1', ['b1']), 2);
      await a.s.checkpointed();
      expect(a.writeErrors.join('\n')).toMatch(/checkpoint failed .*EROFS/);
      await a.s.close();
    } finally {
      undo();
    }
    const b = await openStore(dir);
    expect(b.s.replayed.sort()).toEqual(['t', 'u']);
    neverBelow(await b.s.load('t'), st(3, 'a1', ['b1']));
    neverBelow(await b.s.load('u'), st(2, 'b1', ['a1'], 'u'));
    await b.s.close();
  });
});

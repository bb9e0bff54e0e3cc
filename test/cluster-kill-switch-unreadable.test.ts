/**
 * Clustered mode: a kill switch that cannot be read keeps automatic flips OFF (the safe side,
 * like an unreadable file in embedded mode), and the stored switch applies as soon as it can
 * be read; a damaged value in etcd is OFF as well until an operator switches again.
 */
import { describe, expect, it } from 'vitest';
import { ETCD_INSTALLED, useEtcd } from './helpers/etcd.js';
import { EtcdClient } from '../src/cluster/etcd.js';
import { EtcdKillSwitch } from '../src/cluster/kill-switch-store.js';
import type { AutomaticState } from '../src/safety/kill-switch.js';
import { createLogger } from '../src/log.js';
import { waitFor } from './helpers/poll.js';

const log = createLogger({ level: 'silent', format: 'json' });

describe.skipIf(!ETCD_INSTALLED)('clustered: an unreadable kill switch', () => {
  const suite = useEtcd(1);

  function store(prefix: string): { sw: EtcdKillSwitch; seen: AutomaticState[] } {
    const client = new EtcdClient({ endpoints: suite.etcd.endpoints, requestTimeout: 500, dialTimeout: 1000 });
    const sw = new EtcdKillSwitch({ client, prefix, log, retry: { min: 50, max: 200 } });
    const seen: AutomaticState[] = [];
    sw.onChange((s) => seen.push(s));
    suite.cleanup(() => client.close(), () => sw.close());
    return { sw, seen };
  }

  it('etcd unreachable at start-up: OFF with a problem; once reachable, the stored switch (none: on) applies', async () => {
    const { sw, seen } = store('/ks-unreachable');
    await suite.etcd.stopMember(0);
    try {
      const { state, problem } = await sw.load();
      expect(state).toMatchObject({ enabled: false, by: 'drproxy' });
      expect(problem).toMatch(/kill switch \/ks-unreachable\/automatic cannot be read .*automatic flips stay OFF/);
    } finally {
      await suite.etcd.startMember(0);
    }
    await waitFor(() => seen.length > 0, { what: 'the switch read again', timeout: 15_000 });
    expect(seen.at(-1)).toMatchObject({ enabled: true });
  }, 40_000);

  it('a damaged value is OFF with a problem; a valid switch written afterwards applies', async () => {
    const { sw, seen } = store('/ks-damaged');
    expect((await sw.load()).state.enabled).toBe(true);
    await suite.direct.txn([], [{ put: '/ks-damaged/automatic', value: '{not json' }]);
    await waitFor(() => seen.length === 1, { what: 'the damaged value seen' });
    expect(seen[0]).toMatchObject({ enabled: false, by: 'drproxy' });
    expect(seen[0]!.reason).toMatch(/cannot be read/);

    const other = store('/ks-damaged');
    expect((await other.sw.load()).problem).toMatch(/cannot be read/);
    const s = { enabled: true, reason: 'fixed', by: 'ops', at: new Date().toISOString() };
    expect(await other.sw.save(s)).toEqual(s);
    await waitFor(() => seen.length === 2, { what: 'the new switch seen by the first replica' });
    expect(seen[1]).toEqual(s);
  }, 30_000);
});

/**
 * Health votes follow the config (issue 18, "Health by quorum"): a replica publishes a vote per
 * tenant under its lease; a tenant removed by a reload withdraws its vote at once (its key is
 * deleted, not left to count until the lease ends), a tenant only changed keeps voting.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { parse, stringify } from 'yaml';
import { EtcdClient } from '../src/cluster/etcd.js';
import { ETCD_INSTALLED, ETCD_SKIP_REASON } from './helpers/etcd.js';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { startUpstream, stopAll, type Upstream } from './helpers/upstream.js';
import { FAST_CHECKS, twoSiteTenant } from './helpers/proxy.js';
import { OPERATOR } from './helpers/admin.js';
import { waitFor } from './helpers/poll.js';

if (!ETCD_INSTALLED) console.warn(ETCD_SKIP_REASON);

describe.skipIf(!ETCD_INSTALLED)('clustered: health votes and reloads', () => {
  let cluster: Cluster | undefined;
  let ups: Upstream[] = [];
  let direct: EtcdClient | undefined;
  afterEach(async () => {
    direct?.close();
    await cluster?.stop();
    await stopAll(...ups);
    cluster = undefined;
    direct = undefined;
  });

  it('a tenant removed on reload withdraws its vote; a changed one keeps voting', async () => {
    const [a1, b1] = (ups = await Promise.all([startUpstream('a1'), startUpstream('b1')]));
    cluster = await startCluster({
      replicas: 1,
      defaults: { health_check: FAST_CHECKS },
      tenants: { t: twoSiteTenant('t.example.com', a1!, b1!), u: twoSiteTenant('u.example.com', a1!, b1!) },
    });
    await cluster.leader();
    direct = new EtcdClient({ endpoints: cluster.etcd.endpoints, requestTimeout: 2000, dialTimeout: 2000 });
    const voted = async (): Promise<Record<string, unknown>> => {
      const { kvs } = await direct!.getPrefix(`${cluster!.prefix}/votes/r0/`);
      return Object.fromEntries(kvs.map((kv) => [kv.key.slice(kv.key.lastIndexOf('/') + 1), (JSON.parse(kv.value) as { sites: unknown }).sites]));
    };
    await waitFor(async () => JSON.stringify(await voted()) === JSON.stringify({ t: { a1: 'up', b1: 'up' }, u: { a1: 'up', b1: 'up' } }), { what: 'both tenants voted', timeout: 10_000 });

    // u removed, t changed (a tenant rebuilt on reload: its successor votes for it).
    const r = cluster.replicas[0]!;
    const doc = parse(await readFile(r.child.configFile, 'utf8')) as { tenants: Record<string, Record<string, unknown>> };
    delete doc.tenants.u;
    doc.tenants.t!.hosts = ['t.example.com', 't2.example.com'];
    await writeFile(r.child.configFile, stringify(doc));
    const res = await request(`${r.child.adminUrl}/reload`, { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.statusCode, await res.body.text()).toBe(200);

    await waitFor(async () => !('u' in (await voted())), { what: "u's vote deleted", timeout: 5000 });
    expect(await voted()).toEqual({ t: { a1: 'up', b1: 'up' } });
    const status = (await cluster.status(r)) as { cluster: { votes: Record<string, unknown> } };
    expect(status.cluster.votes).toEqual({ t: { r0: { a1: 'up', b1: 'up' } } });
  }, 40_000);
});

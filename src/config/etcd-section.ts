/**
 * The `state.etcd` section: clustered mode's etcd endpoints, key prefix, lease and quorum
 * (docs/design.md, "Clustered mode"). Every field is checked even while the section is refused.
 */
import type { EtcdConfig } from './types.js';
import * as D from './defaults.js';
import { formatDuration } from './duration.js';
import { type Fields, type Parse, duration, int, listOf, oneOf, show } from './fields.js';
import { etcdPrefix, httpUrl, replicaId } from './values.js';
import { hostname } from 'node:os';

/** `majority` (of the live replicas) or a fixed count of replicas. */
const quorum: Parse<number | 'majority'> = (value, at, out) =>
  value === 'majority' ? 'majority' : typeof value === 'number' ? int(1)(value, at, out) : out.error(at, `expected "majority" or a whole number of replicas, got ${show(value)}`);

export function readEtcd(f: Fields | undefined): EtcdConfig | undefined {
  if (f === undefined) return undefined;
  const endpoints = f.req('endpoints', listOf(httpUrl('etcd endpoint'), { nonEmpty: true })) ?? [];
  const leaseTtl = f.get('lease_ttl', duration({ min: 2000 })) ?? D.DEFAULT_ETCD.lease_ttl;
  const etcd: EtcdConfig = {
    endpoints: endpoints.map(({ value: url }) => `${url.protocol}//${url.host}`),
    prefix: f.get('prefix', etcdPrefix) ?? D.DEFAULT_ETCD.prefix,
    lease_ttl: leaseTtl,
    quorum: f.get('quorum', quorum) ?? D.DEFAULT_ETCD.quorum,
    coordinator_loss: f.get('coordinator_loss', oneOf(['fail_closed', 'fail_static'] as const)) ?? D.DEFAULT_ETCD.coordinator_loss,
    dial_timeout: f.get('dial_timeout', duration({ min: 1 })) ?? D.DEFAULT_ETCD.dial_timeout,
    // By default 1s, or a third of a shorter lease (the next keepalive must fit in the lease).
    request_timeout: f.get('request_timeout', duration({ min: 1 })) ?? Math.min(D.DEFAULT_ETCD.request_timeout, Math.floor(leaseTtl / 3)),
    // Stable across restarts (a StatefulSet pod's name): a restarted replica takes its own keys over.
    replica_id: f.get('replica_id', replicaId) ?? defaultReplicaId(),
  };
  if (!Number.isInteger(etcd.lease_ttl / 1000)) {
    f.out.error(f.path('lease_ttl'), `must be a whole number of seconds (etcd leases count in seconds), got ${show(f.raw('lease_ttl'))}`);
  }
  // A request that may outlast a third of the lease leaves no room for the next keepalive.
  if (etcd.request_timeout * 3 > etcd.lease_ttl) {
    f.out.error(f.path('request_timeout'), `must be at most a third of lease_ttl (${formatDuration(etcd.lease_ttl)} / 3), got ${show(f.raw('request_timeout'))}`);
  }
  f.end();
  return etcd;
}

/** The host name, cut to a valid replica id. */
function defaultReplicaId(): string {
  const id = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 63);
  return id === '' ? 'drproxy' : id;
}

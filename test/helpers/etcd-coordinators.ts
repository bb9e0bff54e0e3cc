/**
 * EtcdCoordinators for tests: several replicas in one test process, each on its own etcd client
 * behind its own TCP relay (so one replica's link can be cut or black-holed), on a fresh key
 * prefix per test; closed by the suite's cleanup.
 */
import { pino } from 'pino';
import { EtcdClient } from '../../src/cluster/etcd.js';
import { EtcdCoordinator } from '../../src/cluster/etcd-coordinator.js';
import { LeaseKeeper } from '../../src/cluster/lease.js';
import { LeaderElection } from '../../src/cluster/leader.js';
import type { EtcdConfig } from '../../src/config/types.js';
import type { StateChange } from '../../src/state/coordinator.js';
import type { EtcdSuite } from './etcd.js';
import { startRelay, type TcpRelay } from './tcp-relay.js';
import { waitFor } from './poll.js';

export const TTL = 2000;
export const MARGIN = 400;

export interface Replica {
  id: string;
  relay: TcpRelay;
  client: EtcdClient;
  lease: LeaseKeeper;
  coordinator: EtcdCoordinator;
}

/** `ttl` (default TTL) for a test whose point is that no lease expires, on however busy a machine. */
export interface ReplicaOptions {
  loss?: EtcdConfig['coordinator_loss'];
  ttl?: number;
}

let fleets = 0;

/** A new key prefix: each test its own fleet. */
export function freshPrefix(): string {
  return `/coord${process.pid}-${++fleets}`;
}

export async function startReplica(
  s: EtcdSuite,
  prefix: string,
  id: string,
  opts: ReplicaOptions = {},
): Promise<Replica> {
  const ttl = opts.ttl ?? TTL;
  const relay = await startRelay(s.etcd.endpoints[0]!);
  const client = new EtcdClient({ endpoints: [relay.url], requestTimeout: 500, dialTimeout: 2000 });
  const lease = new LeaseKeeper({ client, ttl, margin: MARGIN });
  const election = new LeaderElection({ client, lease, prefix, replicaId: id, retryDelay: 100 });
  const config: EtcdConfig = {
    endpoints: [relay.url],
    prefix,
    lease_ttl: ttl,
    quorum: 'majority',
    coordinator_loss: opts.loss ?? 'fail_closed',
    dial_timeout: 2000,
    request_timeout: 500,
    replica_id: id,
  };
  const coordinator = new EtcdCoordinator({ client, lease, election, config, replicaId: id, log: pino({ level: 'silent' }), backoff: { min: 50, max: 500 } });
  s.cleanup(() => relay.close(), () => client.close(), () => coordinator.close());
  await coordinator.start();
  return { id, relay, client, lease, coordinator };
}

export async function startReplicas(s: EtcdSuite, prefix: string, ids: string[], opts: ReplicaOptions = {}): Promise<Replica[]> {
  return Promise.all(ids.map((id) => startReplica(s, prefix, id, opts)));
}

/** Waits until exactly one of `rs` may decide, and every one of them sees it as leader. */
export function leaderOf(rs: Replica[], timeout = TTL + 3000): Promise<Replica> {
  return waitFor(
    () => {
      const leaders = rs.filter((r) => r.coordinator.mayDecide());
      return leaders.length === 1 && rs.every((r) => r.coordinator.status().leader === leaders[0]!.id) ? leaders[0] : undefined;
    },
    { timeout, what: 'exactly one leader' },
  );
}

/** A tenant state at `epoch`, active on `site`. */
export function activeAt(epoch: number, site = 'a', reason = 'test'): StateChange {
  return { epoch, phase: 'active', active: site, fenced: [], reason, trigger: 'admin' };
}

/** The error code a promise rejects with (fails the test when it resolves). */
export async function codeOf(p: Promise<unknown> | undefined): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  throw new Error('expected a rejection');
}

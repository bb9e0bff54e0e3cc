/**
 * Clustered mode's series (issue 18): leadership, the replicas this one sees, its lease by its
 * own deadline, whether it still serves (coordinator_loss), etcd request latency, and how long
 * every live replica took to acknowledge a flip's steps. Registered only in clustered mode, so
 * an embedded drproxy exposes none of them. Gauges are read at scrape time from the coordinator.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the gauges read (the etcd coordinator). */
export interface ClusterView {
  isLeader(): boolean;
  /** Live replicas registered in etcd, this one included, as this replica last saw them. */
  replicaCount(): number;
  /** Our lease is valid by our own monotonic deadline. */
  leaseValid(): boolean;
  /** False while this replica refuses traffic for having lost etcd (fail_closed). */
  serving(): boolean;
}

export type AckStage = 'drained' | 'routed';

export class ClusterMetrics {
  private readonly etcdLatency: Histogram<'op' | 'result'>;
  private readonly ackLatency: Histogram<'stage'>;
  private readonly leaderChanges: Counter;

  constructor(registry: Registry, view: ClusterView) {
    const registers = [registry];
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    gauge('drproxy_cluster_leader', '1 while this replica is the leader (it alone commits flips), else 0', () => (view.isLeader() ? 1 : 0));
    gauge('drproxy_cluster_replicas', 'Live replicas registered in etcd (this one included), as this replica last saw them', () => view.replicaCount());
    gauge('drproxy_cluster_lease_valid', "1 while this replica's etcd lease is valid by its own monotonic deadline, 0 once it lost etcd", () => (view.leaseValid() ? 1 : 0));
    gauge('drproxy_cluster_serving', '0 while this replica refuses its tenants traffic for having lost etcd (coordinator_loss: fail_closed), else 1', () => (view.serving() ? 1 : 0));
    this.leaderChanges = new Counter({ name: 'drproxy_cluster_leader_changes_total', help: 'Times the leader seen by this replica changed (an election, a step-down, a lease that expired)', registers });
    this.etcdLatency = new Histogram({
      name: 'drproxy_etcd_request_duration_seconds',
      help: 'etcd requests of this replica (op: txn, get, keepalive, grant), by result (ok, error)',
      labelNames: ['op', 'result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.ackLatency = new Histogram({
      name: 'drproxy_cluster_ack_duration_seconds',
      help: "Leader only: from a flip step's commit until every live replica acknowledged it (stage drained: holding and drained; routed: on the new site)",
      labelNames: ['stage'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  etcdRequest(op: string, seconds: number, ok: boolean): void {
    this.etcdLatency.observe({ op, result: ok ? 'ok' : 'error' }, seconds);
  }

  acknowledged(stage: AckStage, seconds: number): void {
    this.ackLatency.observe({ stage }, seconds);
  }

  leaderChanged(): void {
    this.leaderChanges.inc();
  }
}

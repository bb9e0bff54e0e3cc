/**
 * The messages between the main thread (control plane) and a data-plane worker (docs/design.md,
 * "Every core: threads"). All plain data: they cross with structured clone.
 */
import type { AckStage } from '../state/coordinator.js';
import type { BackendDescription, RouteDescription } from './route-description.js';
import type { AccessLogConfig, ProxyConfig, TenantConfig } from '../config/types.js';
import type { PassiveTrip } from './worker-backends.js';
import type { TrafficCounts } from './worker-traffic.js';
import type { WorkerConnectionCounts } from './worker-connections.js';
import type { Tallies } from './worker-tallies.js';
import type { DrainResult } from '../failover/drain.js';
import type { WarmCounts } from './worker-warm.js';

/** A tenant's place in the routing table (hosts and path prefixes, as config has them). */
export interface TableEntry {
  readonly tenant: string;
  readonly hosts: readonly string[];
  readonly paths: readonly string[];
}

/** An acknowledgement the main thread waits for. */
export interface AckRequest {
  readonly tenant: string;
  readonly epoch: number;
  readonly stage: AckStage;
}

/** What the route publisher asked of one main-thread Backend's warm sockets (Backend.setStandby). */
export interface StandbyOrder {
  readonly backend: BackendDescription;
  readonly proxy: ProxyConfig;
  readonly n: number;
  readonly keepIdle: boolean;
}

/** Main → worker. */
export type ToWorker =
  /**
   * The full set (start, worker restart, reload): the table, every tenant's route, and the
   * acknowledgements pending now (a fresh worker holds the newest routes and has nothing in
   * flight, so it gives them at once). A worker listens only after its first full set.
   */
  | { type: 'routes'; table: TableEntry[]; routes: RouteDescription[]; acks: AckRequest[]; standby: StandbyOrder[] }
  /** Warm standby sockets (proxy.standby_connections) for one backend, as the publisher sets them. */
  | ({ type: 'standby' } & StandbyOrder)
  /** A flip's pre-connect to one backend of its target (failover/preconnect.ts). */
  | { type: 'preconnect'; backend: BackendDescription; proxy: ProxyConfig; n: number }
  /** One tenant's new route (a flip's hold, its new site, a health change). */
  | { type: 'route'; description: RouteDescription }
  /** Acknowledge `stage` of `epoch` once every earlier message is applied (the flip's routed step). */
  | { type: 'sync'; ack: AckRequest }
  /** Flip steps 2-3 in this worker: drain its own calls to `site`, then acknowledge drained. */
  | { type: 'drain'; ack: AckRequest; site: string; deadlineMs: number }
  /** A reload applied: read the tenants' certificates again (TLS listeners), reopen the access log. */
  | { type: 'reload'; tenants: TenantConfig[]; accessLog: AccessLogConfig }
  /** A reload retired these Backends (main-thread ids): close their pools. */
  | { type: 'retire'; ids: number[] }
  /** Graceful stop: close the listeners, let requests finish (up to deadlineMs), then exit. */
  | { type: 'shutdown'; deadlineMs: number }
  /** The worker's data-plane metrics, for a scrape (answered with `metrics`). */
  | { type: 'metrics'; id: number }
  /** DRPROXY_TRACE_MARKS: count the marks again (the main thread got SIGUSR2; trace-marks.ts). */
  | { type: 'trace-reset' };

/** Worker → main (`ack` is WorkerSet's). */
export type FromWorker =
  /** `drain`: this worker's counts, on the ack of a `drain` (drain-sum.ts). */
  | { type: 'ack'; tenant: string; epoch: number; stage: AckStage; drain?: DrainResult }
  | { type: 'listening'; addrs: Array<{ address: string; family: string; port: number }> }
  | { type: 'listen_failed'; error: string }
  | { type: 'trips'; trips: PassiveTrip[] }
  /** Per-tenant traffic of the tenants whose counts moved, every TRAFFIC_REPORT_MS (worker-traffic.ts). */
  | { type: 'traffic'; traffic: Record<string, TrafficCounts> }
  /** Warm standby sockets per backend id, what changed (worker-warm.ts). */
  | { type: 'warm'; counts: WarmCounts }
  | { type: 'log'; line: string }
  /** Access-log lines for stdout (access-relay.ts): the main thread writes them. */
  | { type: 'access'; text: string; lines: number }
  | { type: 'metrics'; id: number; metrics: unknown; traffic: Record<string, TrafficCounts>; connections: WorkerConnectionCounts; tallies: Tallies }
  | { type: 'closed' };

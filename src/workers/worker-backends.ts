/**
 * A worker's own Backends (each with its own undici pool), keyed by the main thread's Backend id
 * (route-description.ts). The first description of an id builds the Backend; every later route
 * naming that id gets the same object, so a new route never opens a new pool. Passive-health
 * trips (a streak past its threshold) are never one message per request: the first trip of a
 * turn is posted at once, because the ejection and the flip wait for it and a turn of error
 * callbacks at a crash lasts milliseconds; the turn's further trips (one per failed request
 * past the threshold, any backend) go into one batch posted after the turn.
 */
import type { ProxyConfig } from '../config/types.js';
import { Backend, type PassiveFailure } from '../proxy/backend.js';
import type { BackendDescription, BackendResolver } from './route-description.js';

/** One trip as the main thread's OutlierDetector.report needs it. */
export interface PassiveTrip {
  readonly id: number;
  readonly kind: PassiveFailure;
  readonly failures: number;
  readonly refused: number;
  /** Wall clock of the streak's first failure (Backend.passiveSince). */
  readonly since: number;
}

export class WorkerBackends implements BackendResolver {
  private readonly byId = new Map<number, Backend>();
  private readonly idOf = new WeakMap<Backend, number>();
  private batch: PassiveTrip[] = [];
  /** This turn's first trip went out; its other trips wait for the turn's end. */
  private flushing = false;

  constructor(
    /** Posts one batch of trips to the main thread (parentPort.postMessage in a worker). */
    private readonly post: (trips: PassiveTrip[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  resolve(d: BackendDescription, proxy: ProxyConfig): Backend {
    const known = this.byId.get(d.id);
    if (known !== undefined) return known;
    const b = new Backend(d.tenant, d.site, { name: d.name, url: d.url, origin: d.origin, weight: d.weight }, proxy, this.now, d.tls);
    b.passiveThreshold = d.passive.threshold;
    b.refusedThreshold = d.passive.refusedThreshold;
    b.passiveStatuses = new Set(d.passive.statuses);
    b.slowAfter = d.passive.slowAfter;
    b.onPassiveTrip = this.trip;
    this.byId.set(d.id, b);
    this.idOf.set(b, d.id);
    return b;
  }

  /** This worker's Backends of one tenant's site (a flip drains them). */
  ofSite(tenant: string, site: string): Backend[] {
    const out: Backend[] = [];
    for (const b of this.byId.values()) if (b.tenant === tenant && b.site === site) out.push(b);
    return out;
  }

  ids(): number[] {
    return [...this.byId.keys()];
  }

  get(id: number): Backend | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The main thread retired these backends (reload): close their pools and forget them. */
  async retire(ids: readonly number[]): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const id of ids) {
      const b = this.byId.get(id);
      if (b === undefined) continue;
      this.byId.delete(id);
      b.onPassiveTrip = undefined;
      closing.push(b.close());
    }
    await Promise.all(closing);
  }

  /** Inside a request's callback: posting is a message, never a call into the control plane. */
  private readonly trip = (b: Backend, kind: PassiveFailure): void => {
    const id = this.idOf.get(b);
    if (id === undefined) return;
    const trip: PassiveTrip = { id, kind, failures: b.passiveFailures, refused: b.passiveRefused, since: b.passiveSince };
    if (this.flushing) {
      this.batch.push(trip);
      return;
    }
    this.flushing = true;
    setImmediate(this.flush);
    this.post([trip]);
  };

  private readonly flush = (): void => {
    this.flushing = false;
    const trips = this.batch;
    this.batch = [];
    if (trips.length > 0) this.post(trips);
  };
}

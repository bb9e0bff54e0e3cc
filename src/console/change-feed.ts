/**
 * The control plane's change feed for GET /events (issue 21, item 5). The controller hooks
 * mark tenants dirty (state changes, finished flips, backend health: controller-hooks.ts); a
 * ticker, running only while at least one client is connected, sends every client at most one
 * `tenants` event per tick (250 ms: at most 4 a second at any fleet size) with the summaries
 * of the tenants marked since the last tick, then one `flip` event per flip finished since.
 * Marking is a Set insert, and nothing is kept while no client listens.
 *
 * What no hook reports (an ejection running out) is caught by a sweep: each tick looks at a
 * slice of the fleet, the whole of it every `sweepMs`, and marks a tenant whose number of
 * available sites is not the one last sent. A slice, because comparing all 5,000 tenants at
 * once takes ~50 ms of the main thread; a slice of 250 takes ~1 ms.
 *
 * Each event's text is built once and written to every client (sse-client.ts bounds what a
 * slow client may hold). A comment `: ping` every `pingMs` keeps proxies from closing a quiet
 * stream. close() ends every stream cleanly (shutdown); gone() reports tenants a reload removed.
 */
import type { ServerResponse } from 'node:http';
import type { TenantController } from '../failover/tenant-controller.js';
import type { FlipRecord } from '../failover/flip.js';
import type { FleetSnapshot } from './contract.js';
import { availableSites, fleetCounts, tenantSummary } from './summary.js';
import { SseClient, sseEvent, type SseLimits } from './sse-client.js';

export interface FeedLimits extends SseLimits {
  tickMs: number;
  pingMs: number;
  sweepMs: number;
  /** Flips kept for the next tick at most (a region failing over at once); past it they are only on GET /tenants/:t. */
  maxFlips: number;
}

export const DEFAULT_FEED_LIMITS: Readonly<FeedLimits> = Object.freeze({
  tickMs: 250,
  pingMs: 15_000,
  sweepMs: 5_000,
  maxBuffered: 1024 * 1024,
  stallMs: 30_000,
  maxFlips: 5_000,
});

export interface FeedSource {
  tenants(): Iterable<TenantController>;
  tenant(name: string): TenantController | undefined;
  snapshot(now: number): FleetSnapshot;
  now(): number;
}

export class ChangeFeed {
  private readonly clients = new Set<SseClient>();
  private readonly dirty = new Set<string>();
  private readonly removed = new Set<string>();
  private flips: FlipRecord[] = [];
  /** Each tenant's available sites as last sent, for the sweep; kept only while clients listen. */
  private readonly sent = new Map<string, number>();
  /** The sweep's pass over the fleet: the names it looks at, and how far it has come. */
  private sweepNames: string[] = [];
  private sweepAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastPing = 0;
  private closed = false;
  /** Events sent, flips dropped past maxFlips, clients dropped for being stalled (tests). */
  readonly counts = { tenants: 0, flips: 0, flipsDropped: 0, dropped: 0 };
  readonly limits: FeedLimits;

  constructor(
    private readonly source: FeedSource,
    limits: Partial<FeedLimits> = {},
  ) {
    this.limits = { ...DEFAULT_FEED_LIMITS, ...limits };
  }

  /** Streams open now. */
  get size(): number {
    return this.clients.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Each open stream's bytes waiting and peak (tests). */
  stats(): { buffered: number; peak: number; behind: boolean; resyncs: number }[] {
    return [...this.clients].map((c) => ({ buffered: c.buffered, peak: c.peakBuffered, behind: c.behind, resyncs: c.resyncs }));
  }

  /** A tenant's summary may have changed (a controller hook). */
  mark(tenant: string): void {
    if (this.clients.size > 0) this.dirty.add(tenant);
  }

  /** A flip finished: sent with the next tick, after its tenant's new summary. */
  flip(record: FlipRecord): void {
    if (this.clients.size === 0) return;
    this.dirty.add(record.tenant);
    if (this.flips.length < this.limits.maxFlips) this.flips.push(record);
    else this.counts.flipsDropped++;
  }

  /** A reload removed these tenants. */
  gone(names: readonly string[]): void {
    if (this.clients.size === 0) return;
    for (const n of names) {
      this.dirty.delete(n);
      this.sent.delete(n);
      this.removed.add(n);
    }
  }

  /** Takes over a response whose head the caller has not written: the stream starts with a snapshot. */
  attach(res: ServerResponse, gzip = false): void {
    if (this.closed) {
      // Admitted just before close() (shutdown): end it like the others.
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.end('drproxy is shutting down\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', vary: 'accept-encoding', ...(gzip && { 'content-encoding': 'gzip' }) });
    const client = new SseClient(res, this.limits, gzip);
    const now = this.source.now();
    const first = this.clients.size === 0;
    client.send(this.snapshotText(now, first), now);
    this.clients.add(client);
    res.once('close', () => this.detach(client));
    if (!this.timer) {
      this.lastPing = now;
      this.timer = setInterval(() => this.tick(), this.limits.tickMs);
      this.timer.unref();
    }
  }

  /** Ends every stream and refuses new ones (shutdown). */
  close(): void {
    this.closed = true;
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.stop();
  }

  private detach(client: SseClient): void {
    this.clients.delete(client);
    if (this.clients.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.dirty.clear();
    this.removed.clear();
    this.sent.clear();
    this.sweepNames = [];
    this.sweepAt = 0;
    this.flips = [];
  }

  /** A snapshot event; the first client's also fills `sent`, which the sweep compares with. */
  private snapshotText(now: number, remember = false): string {
    const snap = this.source.snapshot(now);
    if (remember) for (const t of snap.tenants) this.sent.set(t.name, t.sites_available);
    return sseEvent('snapshot', JSON.stringify(snap));
  }

  private tick(): void {
    const now = this.source.now();
    for (const c of this.clients) {
      if (!c.catchUp(now, () => this.snapshotText(now))) {
        this.counts.dropped++;
        this.clients.delete(c);
      }
    }
    const text = this.changes(now);
    if (text !== '') for (const c of this.clients) c.send(text, now);
    if (now - this.lastPing >= this.limits.pingMs) {
      this.lastPing = now;
      for (const c of this.clients) c.send(': ping\n\n', now);
    }
    if (this.clients.size === 0) this.stop();
  }

  /** The tick's events as one text: a `tenants` event (when anything changed), then the flips. */
  private changes(now: number): string {
    this.sweep(now);
    let text = '';
    if (this.dirty.size > 0 || this.removed.size > 0) {
      const changed: string[] = [];
      // A marked tenant is sent even if its summary looks the same: its detail (a backend's
      // health, a flip) changed, and a page showing that tenant reloads it.
      for (const name of this.dirty) {
        const c = this.source.tenant(name);
        if (!c) continue;
        const t = tenantSummary(c, now);
        this.sent.set(name, t.sites_available);
        changed.push(JSON.stringify(t));
      }
      this.dirty.clear();
      const removed = JSON.stringify([...this.removed]);
      this.removed.clear();
      const counts = JSON.stringify(fleetCounts(this.source.tenants()));
      text = sseEvent('tenants', `{"at":${JSON.stringify(new Date(now).toISOString())},"counts":${counts},"tenants":[${changed.join(',')}],"removed":${removed}}`);
      this.counts.tenants++;
    }
    for (const record of this.flips) text += sseEvent('flip', JSON.stringify({ tenant: record.tenant, record }));
    this.counts.flips += this.flips.length;
    this.flips = [];
    return text;
  }

  /** This tick's slice of the sweep: marks the tenants whose available sites changed unannounced. */
  private sweep(now: number): void {
    if (this.sweepAt >= this.sweepNames.length) {
      this.sweepNames = Array.from(this.source.tenants(), (c) => c.name);
      this.sweepAt = 0;
    }
    const slice = Math.ceil((this.sweepNames.length * this.limits.tickMs) / this.limits.sweepMs);
    for (const end = Math.min(this.sweepAt + slice, this.sweepNames.length); this.sweepAt < end; this.sweepAt++) {
      const name = this.sweepNames[this.sweepAt]!;
      const c = this.source.tenant(name);
      const known = this.sent.get(name);
      if (!c) continue;
      const available = availableSites(c, now);
      if (known === undefined) this.sent.set(name, available);
      else if (known !== available) this.dirty.add(name);
    }
  }
}

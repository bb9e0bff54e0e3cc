/**
 * All active health checks of the process. Two sites (or two tenants) that check the same
 * backend with the same settings share one probe loop, so a backend listed in many places is
 * probed once per interval. Checks are reference-counted: a reload that keeps a backend keeps
 * its probe and its health state; one that removes the last user stops it.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { clientTlsOptions } from '../tls-name.js';
import { ProbeClient } from './probe-client.js';
import type { HealthCheckConfig, SiteTlsConfig } from '../config/types.js';
import { ActiveCheck, type CheckListener, type CheckResult } from './active-check.js';
import { ProbeGate } from './probe-gate.js';
import type { LatencyCounts } from '../request-latency.js';
import type { HealthState } from './hysteresis.js';

/** Probes in flight at most, process-wide, while the process is busy (see ProbeGate). */
const MAX_PROBES_IN_FLIGHT = 256;
/** How often the event loop's utilization is sampled for the gate. */
const LOAD_SAMPLE_MS = 100;
/**
 * Event-loop utilization over the last sample above which the process counts as busy and the
 * gate's cap applies. At 1,000 tenants with distinct backends drproxy idles at ~0.4; saturated
 * by traffic or by 5,000 tenants' probes, it is ~1.
 */
const BUSY_UTILIZATION = 0.9;

export interface HealthHandle {
  readonly check: ActiveCheck;
  release(): void;
  /**
   * Have this listener called on every result (on) or, unless it asked for every result when
   * acquired, only on changes again (off): a tenant listens to every probe of a backend only
   * while that backend is ejected (passive_health.uneject_on_probe_success).
   */
  everyResult(on: boolean): void;
}

interface Shared {
  check: ActiveCheck;
  listeners: Set<CheckListener>;
  /** The listeners that want every result, not only changes (tests' hooks). */
  eager: Set<CheckListener>;
  /** The site tls block's hash ('' for none): its dispatcher goes with the last check using it. */
  tlsKey: string;
}

export class HealthRegistry {
  private readonly checks = new Map<string, Shared>();
  /**
   * Own keep-alive connections for probes (probe-client.ts), separate from the data-plane pools. Many probe loops
   * may share an origin (one per health path or setting): the per-origin limit is high enough
   * that they never queue behind each other, which would turn our own queueing into timeouts.
   * A check whose last probe timed out while its connect was still pending opens no other
   * connection until that connect ends (ActiveCheck.send): a black-holed backend (SYNs
   * unanswered: a partition, a host gone) holds one connecting socket per check, not one per
   * probe for the 10 s connect timeout (up to 64 per origin).
   */
  private readonly dispatcher = new ProbeClient({ connections: 64, keepAliveTimeout: 10_000 });
  /**
   * Probes of sites with a `tls` block (mTLS) connect with that site's CA and client
   * certificate: one dispatcher per distinct block, destroyed with the registry.
   */
  private readonly tlsDispatchers = new Map<string, ProbeClient>();
  private started = false;
  private readonly gate: ProbeGate;
  /** Samples the event loop's utilization for the gate while probes run. */
  private loadTimer: NodeJS.Timeout | undefined;
  private lastLoad: EventLoopUtilization | undefined;
  private readonly now: () => number;

  /**
   * `durations`: a new histogram for each check's durations (Metrics' buckets).
   * `maxInFlight`: the gate's cap while busy (tests set a small one).
   * `now`: the wall clock of results' `at` (the controllers' clock; tests inject one).
   */
  constructor(
    private readonly durations?: () => LatencyCounts,
    { maxInFlight = MAX_PROBES_IN_FLIGHT, now = Date.now }: { maxInFlight?: number; now?: () => number } = {},
  ) {
    this.gate = new ProbeGate(maxInFlight);
    this.now = now;
  }

  /** Tell the gate whether the process is busy (its event loop's utilization since the last sample). */
  private sampleLoad(): void {
    const now = performance.eventLoopUtilization();
    if (this.lastLoad !== undefined) this.gate.setBusy(performance.eventLoopUtilization(now, this.lastLoad).utilization > BUSY_UTILIZATION);
    this.lastLoad = now;
  }

  acquire(origin: string, cfg: HealthCheckConfig, listener: CheckListener, tls?: SiteTlsConfig): HealthHandle {
    // http:// origins ignore a site's tls: they share the plain probe as before.
    const siteTls = origin.startsWith('https:') ? tls : undefined;
    const tlsKey = siteTls === undefined ? '' : createHash('sha256').update(JSON.stringify(siteTls)).digest('hex');
    const key = `${checkKey(origin, cfg)} ${tlsKey}`;
    let shared = this.checks.get(key);
    if (!shared) {
      const listeners = new Set<CheckListener>();
      const eager = new Set<CheckListener>();
      // A result that changes nothing goes only to the listeners that asked for every result:
      // a probe shared by a thousand tenants must not call a thousand controllers to say "still
      // up" (the metrics read the check's tally at scrape time instead).
      const fanout: CheckListener = {
        onResult(result: CheckResult, state: HealthState, changed: boolean) {
          for (const l of changed || result.inconclusive ? listeners : eager) l.onResult(result, state, changed);
        },
      };
      const dispatcher = siteTls === undefined ? this.dispatcher : this.tlsDispatcher(tlsKey, siteTls);
      shared = { check: new ActiveCheck(origin, cfg, dispatcher, fanout, this.gate, this.durations?.(), this.now, siteTls?.servername), listeners, eager, tlsKey };
      this.checks.set(key, shared);
      if (this.started) shared.check.start();
    }
    shared.listeners.add(listener);
    if (listener.everyResult) shared.eager.add(listener);
    const s = shared;
    return {
      check: s.check,
      everyResult: (on: boolean) => {
        if (!s.listeners.has(listener)) return;
        if (on || listener.everyResult === true) s.eager.add(listener);
        else s.eager.delete(listener);
      },
      release: () => {
        s.listeners.delete(listener);
        s.eager.delete(listener);
        if (s.listeners.size === 0) {
          s.check.stop();
          this.checks.delete(key);
          if (s.tlsKey !== '') this.dropTlsDispatcher(s.tlsKey);
        }
      },
    };
  }

  private tlsDispatcher(key: string, tls: SiteTlsConfig): ProbeClient {
    let d = this.tlsDispatchers.get(key);
    if (d === undefined) {
      d = new ProbeClient({ connections: 64, keepAliveTimeout: 10_000, tls: clientTlsOptions(tls) });
      this.tlsDispatchers.set(key, d);
    }
    return d;
  }

  /** A reload that changed or removed a site's tls block: its probes' connections go too. */
  private dropTlsDispatcher(tlsKey: string): void {
    for (const c of this.checks.values()) if (c.tlsKey === tlsKey) return;
    const d = this.tlsDispatchers.get(tlsKey);
    this.tlsDispatchers.delete(tlsKey);
    void d?.destroy().catch(() => {});
  }

  /** Start every probe loop (and those acquired later). */
  start(): void {
    this.started = true;
    if (this.loadTimer === undefined) {
      this.lastLoad = performance.eventLoopUtilization();
      this.loadTimer = setInterval(() => this.sampleLoad(), LOAD_SAMPLE_MS);
      this.loadTimer.unref();
    }
    for (const s of this.checks.values()) s.check.start();
  }

  async close(): Promise<void> {
    this.started = false;
    if (this.loadTimer !== undefined) clearInterval(this.loadTimer);
    this.loadTimer = undefined;
    for (const s of this.checks.values()) s.check.stop();
    this.checks.clear();
    // Destroyed, not closed: a probe's request may wait for a connect that never answers
    // (undici's connect timeout is 10 s), and shutting down must not wait for it.
    await this.dispatcher.destroy().catch(() => {});
    for (const d of this.tlsDispatchers.values()) await d.destroy().catch(() => {});
    this.tlsDispatchers.clear();
  }
}

function checkKey(origin: string, cfg: HealthCheckConfig): string {
  return `${origin} ${JSON.stringify(cfg)}`;
}

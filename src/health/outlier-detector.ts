/**
 * One backend's outlier detector (Envoy's DetectorHostMonitor): the data plane reports passive
 * failures to it, and it ejects the backend, on a later turn, for a back-off that doubles with
 * each ejection (outlier.ts), within its site's cap (site-outlier-detector.ts).
 *
 * Reporting is the Backend's counters (proxy/backend.ts) and its `onPassiveTrip` hook, called
 * inside undici callbacks when a streak reaches its threshold: `report` only records the kind
 * and asks the site for a turn. The turn ejects, or first confirms slow answers with a probe
 * (slow_confirm); the detector owns the back-off timer and ends the ejection early when a probe
 * passes (uneject_on_probe_success, forwarded by the owner through `probeResult`).
 *
 * The ejection state stays where the site's readers look for it (failover/site.ts,
 * detection-start.ts, metrics): the host's `passive` and `ejectedSince`.
 */
import type { Backend, PassiveFailure } from '../proxy/backend.js';
import type { HealthHandle } from './registry.js';
import { isEjected, probeUnejects, uneject, type Ejectable, type ProbeOutcome } from './outlier.js';
import type { SiteOutlierDetector } from './site-outlier-detector.js';
import { mark } from '../trace-marks.js';

/** What a detector watches and writes: the failover side's BackendRuntime satisfies it. */
export interface MonitoredBackend {
  readonly backend: Backend;
  readonly health: HealthHandle;
  readonly drained: boolean;
  /** Ejection state (outlier.ts), read by routing. */
  readonly passive: Ejectable;
  /** Detection start of the current ejection (first failure of its streak), or 0. */
  ejectedSince: number;
  /** A probe is confirming this backend's slow answers (slow_confirm): one at a time. */
  confirming: boolean;
}

export class OutlierDetector {
  /** Reported since the last turn: the kind to act on ('slow' only while nothing else came). */
  private pending: PassiveFailure | undefined;
  /** The streak as reported: its start and counts, for the ejection's detection start and log. */
  private since = 0;
  private failures = 0;
  private refused = 0;
  private cancelBackOff: (() => void) | undefined;

  constructor(
    private readonly site: SiteOutlierDetector,
    readonly host: MonitoredBackend,
  ) {
    const passive = site.config;
    const b = host.backend;
    b.passiveThreshold = passive.consecutive_failures;
    b.refusedThreshold = passive.consecutive_refused;
    b.passiveStatuses = new Set(passive.statuses);
    // With passive health off (consecutive_failures 0) nothing would act on a slow call: no timer.
    b.slowAfter = passive.consecutive_failures === 0 ? 0 : passive.slow_after;
    b.onPassiveTrip = this.report;
  }

  get name(): string {
    return this.host.backend.name;
  }

  /** Ejected now (routing counts it down). */
  ejected(now = this.site.scheduler.now()): boolean {
    return isEjected(this.host.passive, now);
  }

  /**
   * The data plane: a streak reached its threshold (called inside a request's callback). Only
   * records and asks for a turn; the first report since the last turn schedules it.
   */
  readonly report = (b: Backend, kind: PassiveFailure): void => {
    mark('passive-report', kind);
    this.failures = b.passiveFailures;
    this.refused = b.passiveRefused;
    if (this.pending === undefined) {
      this.pending = kind;
      this.since = b.passiveSince;
      this.site.schedule(this, kind !== 'slow');
    } else if (this.pending === 'slow' && kind !== 'slow') {
      this.pending = kind; // a reset or a 5xx needs no probe to confirm it
      this.site.schedule(this, true);
    }
  };

  /** The site's turn: act on what was reported. Returns whether the backend was ejected. */
  act(accepting: boolean): boolean {
    const kind = this.pending;
    this.pending = undefined;
    if (kind === undefined || !accepting) {
      this.since = 0;
      return false;
    }
    if (kind === 'slow' && this.site.config.slow_confirm) {
      this.since = 0;
      this.confirmSlow();
      return false;
    }
    return this.eject(kind);
  }

  /**
   * Slow answers (slow_after) eject only when a probe sent now fails too: a long poll or a
   * slow report is slow while its backend still answers its probe. One probe at a time per
   * backend; the slow answers that come meanwhile wait for it. When the probe answers, the
   * streak starts again, so a backend serving only long polls is probed once per
   * `consecutive_failures` of them, not continuously. An inconclusive probe (drproxy itself
   * overloaded) ejects nothing and leaves the streak as it is: the next slow answer asks again.
   */
  private confirmSlow(): void {
    const { site, host } = this;
    if (host.confirming || this.ejected()) return;
    host.confirming = true;
    void host.health.check.confirm().then((result) => {
      host.confirming = false;
      if (!site.accepting() || result.inconclusive) return;
      const b = host.backend;
      if (result.ok) {
        site.log.debug({ site: site.site, backend: b.name, failures: b.passiveFailures }, 'slow answers not confirmed: the backend answered its probe');
        b.passiveSuccess();
        site.events?.onSlowUnconfirmed?.(site.tenant, site.site, b.name);
        return;
      }
      // An answer meanwhile (a late one included) broke the streak: the backend is not hung.
      if (!b.passiveTripped) return;
      this.failures = b.passiveFailures;
      this.refused = b.passiveRefused;
      this.since = b.passiveSince;
      if (this.eject('slow', result.error)) site.changed();
    }).catch((err: unknown) => {
      host.confirming = false;
      site.log.error({ err, site: site.site, backend: host.backend.name }, 'could not confirm slow answers with a probe');
    });
  }

  /** Eject for the reported streak, within the site's cap; `probe`: the confirming probe's error. */
  private eject(kind: PassiveFailure, probe?: string): boolean {
    const { site, host } = this;
    const now = site.scheduler.now();
    const since = this.since || now;
    this.since = 0;
    const ms = site.admit(this, now);
    if (ms === undefined) return false;
    host.ejectedSince = since;
    mark('ejected', kind);
    host.backend.passiveSuccess();
    mark('eject-logging');
    site.log.warn({ site: site.site, backend: this.name, kind, failures: this.failures, refused: this.refused, ejected_ms: ms, ...(probe !== undefined && { probe }) }, 'backend ejected (passive health)');
    mark('eject-logged');
    site.events?.onEjection?.(site.tenant, site.site, this.name, ms, kind);
    this.cancelBackOff = site.scheduler.after(ms, () => this.ejectionOver('back-off'));
    // Every probe result of an ejected backend, not only changes: one that passes lets it back.
    if (site.config.uneject_on_probe_success) host.health.everyResult(true);
    return true;
  }

  /**
   * An active check's result, forwarded by the owner: one that passes ends an ejection early
   * (Envoy's successful_active_health_check_uneject_host; outlier.ts, probeUnejects).
   */
  probeResult(result: ProbeOutcome, checkUp: boolean): void {
    const now = this.site.scheduler.now();
    if (this.site.config.uneject_on_probe_success && probeUnejects(this.host.passive, result, checkUp, now)) this.ejectionOver('probe');
  }

  /** An ejection ends: its back-off is over, or the backend passed a probe. */
  private ejectionOver(by: 'back-off' | 'probe'): void {
    this.cancelBackOff?.();
    this.cancelBackOff = undefined;
    const host = this.host;
    if (by === 'probe') uneject(host.passive, this.site.scheduler.now());
    host.ejectedSince = 0;
    host.health.everyResult(false);
    this.site.log.info({ site: this.site.site, backend: this.name, by }, 'backend back from ejection');
    this.site.changed();
  }

  /** No more reports or back-off timer. */
  stop(): void {
    this.cancelBackOff?.();
    this.cancelBackOff = undefined;
    this.pending = undefined;
    if (this.host.backend.onPassiveTrip === this.report) this.host.backend.onPassiveTrip = undefined;
  }
}

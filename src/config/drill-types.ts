/** The `drills:` section and a tenant's `drill:` verification (docs/drills.md), re-exported by types.ts. */
/**
 * How a drill verifies a switch through the data plane: synthetic requests to the tenant's own
 * host and `path`, sent to drproxy's listener, must be answered by the target site with the new
 * epoch (the backend echoes X-DR-Site/X-DR-Epoch, or names its site in `served_by_header`).
 */
export interface DrillVerifyConfig {
  path: string;
  /** Host header of the synthetic requests; default the tenant's first exact host. */
  host?: string;
  /** Lower-case response header naming the site that answered; unset: the echoed epoch/site headers. */
  served_by_header?: string;
  /** Give up verifying after this long (the drill fails), ms. */
  timeout: number;
  /** Time between two synthetic requests while not yet verified, ms. */
  interval: number;
}

/** What aborts a drill during its dwell (and fails the tenant back at once). */
export interface DrillGuardConfig {
  /** Share of the tenant's responses that are 5xx (or failed) above which the drill aborts, 0..1. */
  max_error_rate: number;
  /** The error rate is judged only over at least this many requests. */
  min_requests: number;
  /** Abort when the tenant's p99 latency over the dwell goes above this, ms; unset: latency never aborts. */
  max_p99?: number;
}

/** A weekly window in UTC: the days it opens on (0 = Sunday) and its minutes from midnight. */
export interface DrillWindow {
  days: number[];
  /** Minutes after 00:00 UTC. */
  start: number;
  /** Minutes after 00:00 UTC; at or before `start`: the window ends the next day. */
  end: number;
}

/** A blocked period (a change freeze): no scheduled drill starts in [from, to), epoch ms. */
export interface DrillBlocked {
  from: number;
  to: number;
}

/** A scheduled drill: which tenants (by name or tier), when, and how. */
export interface DrillSchedule {
  tenants: string[];
  tiers: string[];
  /** Start one every this long, ms (with jitter); unset: whenever a window opens. */
  every?: number;
  /** Windows a drill may start in; empty: any time. */
  windows: DrillWindow[];
  blocked: DrillBlocked[];
  /** A random delay of up to this long added to each start, ms. */
  jitter: number;
  /** Target site; unset: the site an automatic failover would choose. */
  to?: string;
  /** Dwell of these drills, ms; unset: drills.dwell. */
  dwell?: number;
}

export interface DrillsConfig {
  /** Time a drill stays on the target before failing back, ms. */
  dwell: number;
  /** A drill found running at start-up (drproxy was killed mid-drill): fail the tenant back, or freeze it with an alert. */
  on_interrupt: 'failback' | 'freeze';
  /** Defaults of every tenant's `drill` verification. */
  verify: DrillVerifyConfig;
  guard: DrillGuardConfig;
  /** Ed25519 private key (PKCS#8 PEM) that signs drill reports; unset: reports are not signed. */
  signing_key_file?: string;
  /** Region drills: tenants drilled at once, by default; also the most scheduled drills running at once. */
  parallel: number;
  schedules: DrillSchedule[];
}

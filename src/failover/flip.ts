/** The record of one flip: what moved where, why, and how long each step took. */
export type FlipTrigger = 'health' | 'admin' | 'failback' | 'recovery' | 'drill' | 'config';

export interface FlipTimings {
  /**
   * Detection start: for a health flip, the first failure (check or passive) of the backend
   * whose failure made the site unavailable (detection-start.ts); else the request time.
   */
  detectedAt: number;
  /** Threshold tripped / flip requested. */
  trippedAt: number;
  /** New epoch and intent durable. */
  persistedAt: number;
  /** Old site drained. */
  drainedAt: number;
  /** Fence hook done (or not configured). */
  fencedAt: number;
  /** Promote hook done (or not configured). */
  promotedAt: number;
  /** New route published: traffic goes to the new site. */
  routedAt: number;
}

export interface FlipRecord {
  tenant: string;
  tier: string;
  from: string;
  to: string;
  epoch: number;
  trigger: FlipTrigger;
  reason: string;
  actor?: string;
  /** An operator's flip that broke a per-flip safety rule with force + break_glass (flip-rules.ts), and the rules it broke. */
  break_glass?: true;
  rules_broken?: import('./flip-rules.js').RuleViolation[];
  /**
   * routed: traffic is on `to`. stayed: traffic stayed on `from`, at the new epoch (`to` failed
   * before anything was done to `from`, or a required hook of an automatic failback failed).
   * frozen: a required hook failed; nothing takes traffic.
   */
  result: 'routed' | 'stayed' | 'frozen';
  drain?: import('./drain.js').DrainResult;
  fence?: import('./hooks.js').HookResult;
  promote?: import('./hooks.js').HookResult;
  timings: FlipTimings;
  /** detectedAt → routedAt, the figure compared with the tier's RTO. */
  durationMs: number;
  rtoMs: number;
}

/** Each flip step's time after detection, in ms (one decimal), as the failover log line reports them. */
export function stepsSinceDetection(t: FlipTimings): Record<string, number> {
  const ms = (x: number): number => Math.round((x - t.detectedAt) * 10) / 10;
  return { tripped: ms(t.trippedAt), persisted: ms(t.persistedAt), drained: ms(t.drainedAt), fenced: ms(t.fencedAt), promoted: ms(t.promotedAt), routed: ms(t.routedAt) };
}

/** What a flip knows by the time it is routed, stays or freezes. */
export interface FlipBase {
  from: string;
  to: string;
  epoch: number;
  req: { trigger: FlipTrigger; reason: string; actor?: string; detectedAt?: number; brokenRules?: import('./flip-rules.js').RuleViolation[] };
  requestedAt: number;
  persistedAt: number;
  drainedAt: number;
  drain?: import('./drain.js').DrainResult;
}

export type StepTimes = Pick<FlipTimings, 'fencedAt' | 'promotedAt' | 'routedAt'>;
export interface FlipHooks {
  fence?: import('./hooks.js').HookResult;
  promote?: import('./hooks.js').HookResult;
}

export function flipRecord(tenant: string, tier: { name: string; rto: number }, base: FlipBase, result: FlipRecord['result'], t: StepTimes, hooks: FlipHooks): FlipRecord {
  const detectedAt = base.req.detectedAt ?? base.requestedAt;
  return {
    tenant,
    tier: tier.name,
    from: base.from,
    to: base.to,
    epoch: base.epoch,
    trigger: base.req.trigger,
    reason: base.req.reason,
    ...(base.req.actor !== undefined && { actor: base.req.actor }),
    ...(base.req.brokenRules?.length && { break_glass: true as const, rules_broken: base.req.brokenRules }),
    result,
    timings: { detectedAt, trippedAt: base.requestedAt, persistedAt: base.persistedAt, drainedAt: base.drainedAt, ...t },
    durationMs: t.routedAt - detectedAt,
    rtoMs: tier.rto,
    ...(base.drain && { drain: base.drain }),
    ...(hooks.fence && { fence: hooks.fence }),
    ...(hooks.promote && { promote: hooks.promote }),
  };
}

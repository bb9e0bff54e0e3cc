/** The record of one flip: what moved where, why, and how long each step took. */
export type FlipTrigger = 'health' | 'admin' | 'failback' | 'recovery' | 'drill' | 'config';

export interface FlipTimings {
  /** Detection start: first failed check or passive signal (automatic), or the request time. */
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
  /** routed: traffic is on `to`. frozen: a required hook failed; nothing takes traffic. */
  result: 'routed' | 'frozen';
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

/**
 * Token buckets per client key (an address, or a token name once authenticated), in a bounded
 * map. A bucket that has refilled completely is the same as no bucket at all, so when the map
 * is full such entries are dropped first; only if every tracked client is still mid-burst do
 * new keys share one overflow bucket (an address spray then limits itself, not the clients
 * already tracked).
 */

export interface BucketLimits {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export interface Take {
  ok: boolean;
  /** When refused: seconds until one token is back (for Retry-After). */
  retryAfter: number;
}

const OVERFLOW = '\0overflow';

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly limits: BucketLimits,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token for `key`. */
  take(key: string): Take {
    const t = this.now();
    const b = this.bucket(key, t);
    b.tokens = Math.min(this.limits.burst, b.tokens + ((t - b.at) / 1000) * this.limits.rate);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true, retryAfter: 0 };
    }
    return { ok: false, retryAfter: Math.max(1, Math.ceil((1 - b.tokens) / this.limits.rate)) };
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, t: number): Bucket {
    let b = this.buckets.get(key);
    if (b) return b;
    if (this.buckets.size >= this.maxKeys) this.sweep(t);
    if (this.buckets.size >= this.maxKeys) key = OVERFLOW;
    b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = { tokens: this.limits.burst, at: t }));
    return b;
  }

  /** Drops the buckets that are full again; at most once a second (it walks the whole map). */
  private sweep(t: number): void {
    if (t - this.lastSweep < 1000) return;
    this.lastSweep = t;
    const refill = (this.limits.burst / this.limits.rate) * 1000;
    for (const [k, b] of this.buckets) if (t - b.at >= refill) this.buckets.delete(k);
  }
}

import type { Context, MiddlewareHandler } from "hono";
import { AppError } from "../domain/errors.js";

export interface RateLimit {
  /** Sustained requests per second per source, and how many may come at once. */
  perSecond: number;
  burst: number;
}

/** Too many requests from one source: 429 with the seconds to wait. */
export class RateLimited extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super("too_many_requests", `rate limit exceeded: retry in ${retryAfterSeconds} s`);
  }
}

/**
 * A token bucket per source, in memory (each replica limits what reaches it). A bucket is forgotten
 * once it would be full again, so the map holds only sources seen recently and forgetting one gives it
 * nothing it would not have had.
 */
export class SourceBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep: number;
  constructor(private readonly limit: RateLimit, private readonly now: () => number = Date.now) {
    this.lastSweep = now();
  }

  /** Throws RateLimited while `source` has no whole token left. */
  check(source: string): void {
    const b = this.refilled(source);
    if (b.tokens < 1) throw new RateLimited(Math.max(1, Math.ceil((1 - b.tokens) / this.limit.perSecond)));
  }

  /** Spends one of `source`'s tokens. */
  spend(source: string): void {
    this.refilled(source).tokens -= 1;
  }

  private refilled(source: string): { tokens: number; at: number } {
    const t = this.now();
    if (t - this.lastSweep > 60_000) {
      for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * this.limit.perSecond >= this.limit.burst) this.buckets.delete(k);
      this.lastSweep = t;
    }
    const b = this.buckets.get(source) ?? { tokens: this.limit.burst, at: t };
    b.tokens = Math.min(this.limit.burst, b.tokens + ((t - b.at) / 1000) * this.limit.perSecond);
    b.at = t;
    this.buckets.set(source, b);
    return b;
  }
}

/** At most `limit` requests per source: 429 with Retry-After beyond it. */
export function rateLimit(limit: RateLimit, sourceOf: (c: Context) => string, now: () => number = Date.now): MiddlewareHandler {
  const buckets = new SourceBuckets(limit, now);
  return async (c, next) => {
    const source = sourceOf(c);
    buckets.check(source);
    buckets.spend(source);
    await next();
  };
}

import type { MiddlewareHandler } from "hono";
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
 * A token bucket per source address, in memory (each replica limits what reaches it). Buckets of
 * sources that went quiet are dropped so the map cannot grow without bound.
 */
export function rateLimit(limit: RateLimit, sourceOf: (c: Parameters<MiddlewareHandler>[0]) => string, now: () => number = Date.now): MiddlewareHandler {
  const buckets = new Map<string, { tokens: number; at: number }>();
  let lastSweep = now();
  return async (c, next) => {
    const t = now();
    if (t - lastSweep > 60_000) {
      for (const [k, b] of buckets) if (t - b.at > 60_000) buckets.delete(k);
      lastSweep = t;
    }
    const source = sourceOf(c);
    const b = buckets.get(source) ?? { tokens: limit.burst, at: t };
    b.tokens = Math.min(limit.burst, b.tokens + ((t - b.at) / 1000) * limit.perSecond);
    b.at = t;
    buckets.set(source, b);
    if (b.tokens < 1) throw new RateLimited(Math.max(1, Math.ceil((1 - b.tokens) / limit.perSecond)));
    b.tokens -= 1;
    await next();
  };
}

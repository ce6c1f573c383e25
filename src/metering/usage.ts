import { Decimal } from "./money.js";
import type { Interval } from "./period.js";

/** One Gnocchi point: the aggregate `value` over [timestamp, timestamp + granularity seconds). */
export type Point = readonly [timestamp: string, granularitySeconds: number, value: number];

/**
 * Integrates points over intervals: Σ value × overlap, in unit-milliseconds, exactly. Pure.
 * - time with no point counts as zero (an instance that did not report did not run);
 * - a point is clipped to each interval, so partial first and last hours are prorated;
 * - the result is additive: splitting an interval never changes the total (integers × exact decimals).
 * Divide by MS_PER_HOUR (once, when pricing) for unit-hours.
 */
export function integrate(points: readonly Point[], intervals: readonly Interval[], divisor = 1): Decimal {
  let total = new Decimal(0);
  for (const [ts, granularity, value] of points) {
    if (!Number.isFinite(value) || value === 0) continue;
    const start = Date.parse(ts);
    const stop = start + granularity * 1000;
    let overlapMs = 0;
    for (const iv of intervals) {
      const lo = Math.max(start, iv.startMs);
      const hi = Math.min(stop, iv.stopMs);
      if (hi > lo) overlapMs += hi - lo;
    }
    // String(value) is the shortest decimal that reads back as the same double: the value Gnocchi meant.
    if (overlapMs > 0) total = total.plus(new Decimal(String(value)).times(overlapMs));
  }
  return divisor === 1 ? total : total.div(divisor);
}

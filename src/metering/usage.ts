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
  // Exact and fast: Σ value × overlapMs is accumulated in BigInt, per decimal scale of the values
  // (2 → scale 0, 0.25 → scale 2), and turned into one Decimal at the end. A month of hourly points for
  // a thousand projects is millions of terms; a Decimal operation per term would dominate a billing run.
  const byScale = new Map<number, bigint>();
  let viaDecimal = new Decimal(0); // values only writable in exponent form (1e-7, 1e+21): rare
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
    if (overlapMs <= 0) continue;
    const exact = scaledInteger(value);
    if (exact === null) {
      viaDecimal = viaDecimal.plus(new Decimal(String(value)).times(overlapMs));
      continue;
    }
    const [mantissa, scale] = exact;
    byScale.set(scale, (byScale.get(scale) ?? 0n) + mantissa * BigInt(overlapMs));
  }
  let total = viaDecimal;
  for (const [scale, sum] of byScale) total = total.plus(new Decimal(sum.toString()).div(new Decimal(10).pow(scale)));
  return divisor === 1 ? total : total.div(divisor);
}

/**
 * The value Gnocchi meant, as mantissa × 10^-scale. String(value) is the shortest decimal that reads back
 * as the same double (2.2 is "2.2", not 2.2000000000000001776…). Null for exponent notation.
 */
function scaledInteger(value: number): [bigint, number] | null {
  if (Number.isSafeInteger(value)) return [BigInt(value), 0];
  const s = String(value);
  if (s.includes("e")) return null;
  const dot = s.indexOf(".");
  return [BigInt(s.slice(0, dot) + s.slice(dot + 1)), s.length - dot - 1];
}

import type { BilledResource, BillableSubscription, Meters } from "../domain/billing.js";
import type { GnocchiClient } from "./gnocchi-client.js";
import { Decimal, MS_PER_HOUR } from "./money.js";
import { paygIntervals } from "./payg-intervals.js";
import { monthsBetween, type Interval } from "./period.js";
import { integrate } from "./usage.js";

/**
 * A subscription's billable usage of one resource from its first event until `untilMs`, in unit-hours:
 * the same Gnocchi aggregates, the same PAYG-and-active hours (a trial's are none) and the same integration
 * a billing run uses, so the increase of this counter over any hours is what a run would rate for them.
 * One Gnocchi request per month of the subscription's life.
 */
export async function usageSoFar(
  sub: BillableSubscription,
  resource: BilledResource,
  untilMs: number,
  deps: { gnocchi: Pick<GnocchiClient, "usageByProject">; meters: Meters; granularitySeconds: number },
): Promise<Decimal> {
  let total = new Decimal(0);
  const first = Math.min(untilMs, ...sub.events.map((e) => Date.parse(e.occurredAt)));
  if (!sub.projectId) return total;
  for (const period of monthsBetween(first, untilMs)) {
    const intervals: Interval[] = paygIntervals(sub.events, period)
      .map((iv) => ({ startMs: iv.startMs, stopMs: Math.min(iv.stopMs, untilMs) }))
      .filter((iv) => iv.stopMs > iv.startMs);
    if (intervals.length === 0) continue;
    const points = (await deps.gnocchi.usageByProject(deps.meters[resource], period, deps.granularitySeconds)).get(sub.projectId) ?? [];
    total = total.plus(integrate(points, intervals, deps.meters[resource].divisor));
  }
  return total.div(MS_PER_HOUR);
}

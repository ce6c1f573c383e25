import type { BilledResource, BillableSubscription, Meters } from "../domain/billing.js";
import { gnocchiOfTarget } from "./billing-run.js";
import type { GnocchiClient } from "./gnocchi-client.js";
import { Decimal, MS_PER_HOUR } from "./money.js";
import { paygIntervals } from "./payg-intervals.js";
import { monthsBetween, type Interval, type Period } from "./period.js";
import type { Point } from "./usage.js";
import { integrate } from "./usage.js";

export interface UsageSoFarDeps {
  gnocchi: () => Pick<GnocchiClient, "usageByProject">;
  /** The Gnocchi of each target that has one of its own (billing-run.ts `gnocchiOf`): a poll reads where a run would. */
  gnocchiOf?: ((target: string) => Pick<GnocchiClient, "usageByProject"> | undefined) | undefined;
  meters: Meters;
  granularitySeconds: number;
  /** How long Gnocchi's answer for a month (every project's points of one meter) is reused; 60 s by default. */
  freshMs?: number;
  /** The most months of one subscription's finished usage remembered (oldest forgotten first); 100 000 by default. */
  maxRemembered?: number;
  now?: () => number;
}

/**
 * A subscription's billable usage of one resource from its first event until now, in unit-hours: the same
 * Gnocchi aggregates, the same PAYG-and-active hours (a trial's are none) and the same integration a
 * billing run uses, so the increase of this counter over any hours is what a run would rate for them.
 *
 * Cloudesire polls every metric of every subscription (CLOUDESIRE_PAYG_MODE=metrics), so a poll answers
 * from what was already measured: a finished month's total for a subscription never changes and is
 * remembered; Gnocchi's answer for a month is grouped by project (one request serves every subscription)
 * and is reused for `freshMs`. A poll costs at most one request per meter per `freshMs`, plus one per
 * finished month the first time a subscription is polled after it.
 */
export class UsageSoFar {
  private readonly finished = new Map<string, Decimal>();
  private readonly answers = new Map<string, { at: number; points: Promise<Map<string, Point[]>> }>();

  constructor(private readonly deps: UsageSoFarDeps) {}

  async of(sub: BillableSubscription, resource: BilledResource): Promise<Decimal> {
    const now = (this.deps.now ?? Date.now)();
    let total = new Decimal(0);
    const first = Math.min(now, ...sub.events.map((e) => Date.parse(e.occurredAt)));
    if (!sub.projectId) return total;
    for (const period of monthsBetween(first, now)) {
      const over = period.stopMs <= now;
      const key = `${sub.id}\n${sub.projectId}\n${resource}\n${period.name}`;
      const known = over ? this.finished.get(key) : undefined;
      if (known) {
        total = total.plus(known);
        continue;
      }
      const intervals: Interval[] = paygIntervals(sub.events, period)
        .map((iv) => ({ startMs: iv.startMs, stopMs: Math.min(iv.stopMs, now) }))
        .filter((iv) => iv.stopMs > iv.startMs);
      const used = intervals.length === 0 ? new Decimal(0) : integrate((await this.measured(sub.target, resource, period, now)).get(sub.projectId) ?? [], intervals, this.deps.meters[resource].divisor);
      if (over) this.remember(key, used);
      total = total.plus(used);
    }
    return total.div(MS_PER_HOUR);
  }

  /** Gnocchi's points of `resource` in `period`, every project's of the target's Gnocchi, fetched at most once per `freshMs`. */
  private measured(target: string | undefined, resource: BilledResource, period: Period, now: number): Promise<Map<string, Point[]>> {
    // A target measured in the default Gnocchi shares its answers (one request serves every project there).
    const own = gnocchiOfTarget(target, this.deps.gnocchiOf, undefined);
    const gnocchi = own ?? this.deps.gnocchi();
    const key = `${own ? target : ""}\n${resource}\n${period.name}`;
    const cached = this.answers.get(key);
    if (cached && now - cached.at < (this.deps.freshMs ?? 60_000)) return cached.points;
    const points = gnocchi.usageByProject(this.deps.meters[resource], period, this.deps.granularitySeconds);
    // A failed request is not remembered: the next poll asks again.
    points.catch(() => this.answers.get(key)?.points === points && this.answers.delete(key));
    this.answers.set(key, { at: now, points });
    // Only the newest answers are worth keeping (a finished month's totals are remembered instead).
    for (const [k, v] of this.answers) if (now - v.at >= (this.deps.freshMs ?? 60_000)) this.answers.delete(k);
    return points;
  }

  private remember(key: string, used: Decimal): void {
    this.finished.set(key, used);
    const max = this.deps.maxRemembered ?? 100_000;
    for (const k of this.finished.keys()) {
      if (this.finished.size <= max) break;
      this.finished.delete(k);
    }
  }
}

import type { MarketplaceEvent } from "../domain/event.js";
import { compareClocks, foldEvent, type DesiredState } from "../domain/subscription.js";
import type { Interval, Period } from "./period.js";

/**
 * The parts of a period in which a subscription was pay-as-you-go and active: only these are billed
 * from usage. Its events are replayed in marketplace order (occurredAt, then id), so a late-delivered
 * event still counts at the time it happened. Pure.
 */
export function paygIntervals(events: readonly MarketplaceEvent[], period: Period): Interval[] {
  const sorted = [...events].sort((a, b) => compareClocks({ at: a.occurredAt, id: a.id }, { at: b.occurredAt, id: b.id }));
  const out: Interval[] = [];
  let state: DesiredState | null = null;
  let openedAt: number | null = null;
  const billable = (s: DesiredState | null) => s !== null && s.status === "active" && s.plan.model === "payg" && !s.plan.trial;
  for (const e of sorted) {
    const at = Date.parse(e.occurredAt);
    const before = billable(state);
    state = foldEvent(state, e).state;
    const after = billable(state);
    if (!before && after) openedAt = at;
    if (before && !after && openedAt !== null) {
      push(out, openedAt, at, period);
      openedAt = null;
    }
  }
  if (openedAt !== null) push(out, openedAt, period.stopMs, period);
  return out;
}

function push(out: Interval[], from: number, to: number, period: Period): void {
  const startMs = Math.max(from, period.startMs);
  const stopMs = Math.min(to, period.stopMs);
  if (stopMs > startMs) out.push({ startMs, stopMs });
}

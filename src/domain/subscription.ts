import { z } from "zod";
import { Customer, EventType, type MarketplaceEvent } from "./event.js";
import { inTarget, Plan } from "./plan.js";
import { SubscriptionId } from "./subscription-id.js";

export const SubscriptionStatus = z.enum(["active", "suspended", "cancelled"]);
export type SubscriptionStatus = z.infer<typeof SubscriptionStatus>;

/**
 * A point in the marketplace's event order. Events are ordered by `occurredAt`, ties broken by event id,
 * so the order is total and the same whatever order the webhooks arrive in.
 */
export const EventClock = z.object({ at: z.string().datetime({ offset: true }), id: z.string() });
export type EventClock = z.infer<typeof EventClock>;

/** What the marketplace wants this subscription to be: folded from its events, never from the cloud. */
export const DesiredState = z.object({
  id: SubscriptionId,
  customer: Customer,
  plan: Plan,
  status: SubscriptionStatus,
  /** The newest event seen: plan and customer come from it (every event carries the whole snapshot). */
  planClock: EventClock,
  /** The newest status-bearing event (created, suspended, resumed, cancelled); null if only modified. */
  statusClock: EventClock.nullable(),
  /** The event that last changed the desired state: named in the stack update message. */
  lastEvent: z.object({ id: z.string(), type: EventType, occurredAt: z.string() }),
});
export type DesiredState = z.infer<typeof DesiredState>;

export type FoldOutcome =
  | { outcome: "applied"; state: DesiredState; changed: boolean }
  | { outcome: "stale"; state: DesiredState | null; reason: string }
  | { outcome: "rejected"; state: DesiredState | null; reason: string };

export function compareClocks(a: EventClock, b: EventClock): number {
  const dt = Date.parse(a.at) - Date.parse(b.at);
  if (dt !== 0) return dt < 0 ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

const statusOf: Partial<Record<EventType, SubscriptionStatus>> = {
  "subscription.created": "active",
  "subscription.resumed": "active",
  "subscription.suspended": "suspended",
  "subscription.cancelled": "cancelled",
};

/**
 * Folds one event into a subscription's desired state. Pure.
 *
 * Rules (they make the result independent of delivery order for any set of events):
 * - an event at or before the newest one seen changes nothing (duplicates and late events are "stale");
 * - plan and customer follow the newest event; status follows the newest status-bearing event,
 *   so a late `modified` never flips a suspension back;
 * - cancellation is absorbing: a late `cancelled` still cancels, and once cancelled every newer event is
 *   rejected with a reason (a cancelled tenant is never resurrected, a cancelled one is never resumed).
 */
export function foldEvent(state: DesiredState | null, event: MarketplaceEvent): FoldOutcome {
  if (state && state.id !== event.subscription.id) {
    throw new Error(`event ${event.id} is for subscription ${event.subscription.id}, not ${state.id}`);
  }
  const clock: EventClock = { at: event.occurredAt, id: event.id };
  const eventStatus = statusOf[event.type];
  const lastEvent = { id: event.id, type: event.type, occurredAt: event.occurredAt };

  if (state === null) {
    const status = eventStatus ?? "active";
    return {
      outcome: "applied",
      changed: true,
      state: {
        id: event.subscription.id,
        customer: event.subscription.customer,
        plan: event.subscription.plan,
        status,
        planClock: clock,
        statusClock: eventStatus ? clock : null,
        lastEvent,
      },
    };
  }

  if (state.status === "cancelled") {
    if (compareClocks(clock, state.planClock) <= 0 || event.type === "subscription.cancelled") {
      return { outcome: "stale", state, reason: "subscription is already cancelled" };
    }
    return {
      outcome: "rejected",
      state,
      reason: `a ${event.type} event cannot apply to a cancelled subscription`,
    };
  }

  // A tenant cannot move: its project, quotas and servers are in one cloud and region. A newer plan in
  // another target is refused whole (409), never half-applied; a late or cancelling one keeps its target.
  const newerPlanClock = compareClocks(clock, state.planClock) > 0;
  if (newerPlanClock && event.type !== "subscription.cancelled" && (event.subscription.plan.target ?? null) !== (state.plan.target ?? null)) {
    return {
      outcome: "rejected",
      state,
      reason: `subscription ${state.id} is in target ${state.plan.target ?? "default"}: it cannot move to ${event.subscription.plan.target ?? "the default target"} (cancel it and buy one there)`,
    };
  }

  if (event.type === "subscription.cancelled") {
    const newer = newerPlanClock;
    return {
      outcome: "applied",
      changed: true,
      state: {
        ...state,
        status: "cancelled",
        ...(newer ? { customer: event.subscription.customer, plan: inTarget(event.subscription.plan, state.plan.target), planClock: clock } : {}),
        statusClock: clock,
        lastEvent,
      },
    };
  }

  const newerPlan = compareClocks(clock, state.planClock) > 0;
  const newerStatus = eventStatus !== undefined && (state.statusClock === null || compareClocks(clock, state.statusClock) > 0);
  if (!newerPlan && !newerStatus) {
    return { outcome: "stale", state, reason: `event ${event.id} is older than the state already applied` };
  }
  const next: DesiredState = {
    ...state,
    ...(newerPlan ? { customer: event.subscription.customer, plan: event.subscription.plan, planClock: clock } : {}),
    ...(newerStatus ? { status: eventStatus, statusClock: clock } : {}),
    lastEvent,
  };
  return { outcome: "applied", state: next, changed: !sameEffect(state, next) };
}

/** Two states that would declare the same tenant: no stack update is needed between them. */
export function sameEffect(a: DesiredState, b: DesiredState): boolean {
  return (
    a.status === b.status &&
    JSON.stringify(a.plan) === JSON.stringify(b.plan) &&
    JSON.stringify(a.customer) === JSON.stringify(b.customer)
  );
}

/** Folds a sequence of events in delivery order; duplicates by id count once. */
export function foldEvents(events: readonly MarketplaceEvent[]): DesiredState | null {
  const seen = new Set<string>();
  let state: DesiredState | null = null;
  for (const e of events) {
    if (seen.has(e.id)) continue;
    seen.add(e.id);
    state = foldEvent(state, e).state;
  }
  return state;
}

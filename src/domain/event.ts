import { z } from "zod";
import { Plan } from "./plan.js";
import { inStoredCalendar, OUT_OF_CALENDAR } from "./storable.js";
import { SubscriptionId } from "./subscription-id.js";

export const EventType = z.enum([
  "subscription.created",
  "subscription.modified",
  "subscription.suspended",
  "subscription.resumed",
  "subscription.cancelled",
]);
export type EventType = z.infer<typeof EventType>;

export const Customer = z.object({
  id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, "customer id: letters, digits and . _ : @ - only"),
  name: z.string().min(1).max(255),
  email: z.string().email().max(255),
});
export type Customer = z.infer<typeof Customer>;

/** The marketplace's view of a subscription, carried whole by every event. */
export const SubscriptionSnapshot = z.object({
  id: SubscriptionId,
  customer: Customer,
  plan: Plan,
});
export type SubscriptionSnapshot = z.infer<typeof SubscriptionSnapshot>;

/** A marketplace webhook event: the single source of its shape. */
export const MarketplaceEvent = z.object({
  id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:-]+$/, "event id: letters, digits and . _ : - only"),
  type: EventType,
  occurredAt: z.string().datetime({ offset: true }).refine(inStoredCalendar, OUT_OF_CALENDAR),
  subscription: SubscriptionSnapshot,
});
export type MarketplaceEvent = z.infer<typeof MarketplaceEvent>;

/**
 * Why an event dated too far ahead is refused, or null. Events are ordered by `occurredAt`: one dated
 * years ahead would make every later event stale, so the future is allowed only as far as the replay
 * window allows clocks to differ.
 */
export function futureViolation(event: Pick<MarketplaceEvent, "occurredAt">, nowMs: number, windowSeconds: number): string | null {
  return Date.parse(event.occurredAt) > nowMs + windowSeconds * 1000
    ? `occurredAt ${event.occurredAt} is in the future by more than the ${windowSeconds} s replay window`
    : null;
}

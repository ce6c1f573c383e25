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

/**
 * A customer's e-mail address, internationalised ones included (RFC 6530/6531: `josé@example.com`,
 * `用户@例子.广告`): Cloudesire's buyers are checked by nothing stricter (MyUserDTO.email is a free
 * String). The one rule for every edge that writes an address (our webhook, Cloudesire's mapping) and every
 * read of a stored one: a rule that reads stricter than it writes makes a stored record unreadable (issue 31).
 * It accepts everything the earlier rule (zod's ASCII `email()`) did, so no stored address turns unreadable.
 * Not a regex in the OpenAPI document: JSON Schema's `idn-email` says it there.
 */
export const EMAIL_MAX = 255;
// Local part: letters, marks and digits of any script, and RFC 5322's atom characters and dots. Domain:
// dot-separated labels of letters, marks, digits and hyphens (IDNA U-labels or their xn-- A-labels), whose
// last names a top-level domain (letters, or an xn-- label). No length per part: the earlier rule had none.
const EMAIL = /^[\p{L}\p{M}\p{N}!#$%&'*+/=?^_`{|}~.-]+@(?:[\p{L}\p{M}\p{N}][\p{L}\p{M}\p{N}-]*\.)+(?:[\p{L}\p{M}]{2,}|xn--[a-z0-9-]+)$/iu;
export const isEmailAddress = (text: string): boolean => text.length <= EMAIL_MAX && EMAIL.test(text);
export const EmailAddress = z
  .string()
  .max(EMAIL_MAX)
  .refine(isEmailAddress, "email: an address such as name@example.com (letters of any script allowed)")
  .meta({ format: "idn-email" });

export const Customer = z.object({
  id: z.string().min(1).max(128).regex(/^[A-Za-z0-9._:@-]+$/, "customer id: letters, digits and . _ : @ - only"),
  name: z.string().min(1).max(255),
  email: EmailAddress,
});
export type Customer = z.infer<typeof Customer>;

/** The marketplace's view of a subscription, carried whole by every event. */
export const SubscriptionSnapshot = z.object({
  id: SubscriptionId,
  customer: Customer,
  plan: Plan,
});
export type SubscriptionSnapshot = z.infer<typeof SubscriptionSnapshot>;

/**
 * Who sold a subscription and sent its events: our signed webhook or Cloudesire (whose events we synthesise
 * from its reads). Each owns its event ids and its subscriptions; neither may touch the other's (issue 31).
 */
export const Marketplace = z.enum(["generic", "cloudesire"]);
export type Marketplace = z.infer<typeof Marketplace>;
/** The ids of the events made from Cloudesire's reads (marketplaces/cloudesire/mapping.ts eventOfReading) begin so. */
export const CLOUDESIRE_EVENT_ID_PREFIX = "cloudesire-";
const MARKETPLACE_NAME: Record<Marketplace, string> = { generic: "the generic webhook", cloudesire: "Cloudesire" };

/** Why `marketplace` may not send `event`, given who owns its id and its subscription (null: it may). */
export function foreignEvent(
  marketplace: Marketplace,
  event: Pick<MarketplaceEvent, "id" | "subscription">,
  owners: { event?: Marketplace | undefined; subscription?: Marketplace | undefined },
): string | null {
  if (marketplace !== "cloudesire" && event.id.startsWith(CLOUDESIRE_EVENT_ID_PREFIX)) {
    return `event ids beginning "${CLOUDESIRE_EVENT_ID_PREFIX}" are Cloudesire's: ${MARKETPLACE_NAME[marketplace]} must use others`;
  }
  if (owners.event !== undefined && owners.event !== marketplace) return `event id ${event.id} is ${MARKETPLACE_NAME[owners.event]}'s`;
  const sub = owners.subscription;
  if (sub !== undefined && sub !== marketplace) {
    const id = event.subscription.id;
    return sub === "cloudesire"
      ? `subscription ${id} is sold through Cloudesire: ${MARKETPLACE_NAME[marketplace]} cannot change it`
      : `subscription ${id} is ${MARKETPLACE_NAME[sub]}'s: ${MARKETPLACE_NAME[marketplace]} cannot change it`;
  }
  return null;
}

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

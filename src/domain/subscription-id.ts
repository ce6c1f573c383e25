import { z } from "zod";

/**
 * Subscription ids become Pulumi stack names, Keystone project names and file names
 * (stacks/Pulumi.sub-<id>.yaml), so only a conservative alphabet is accepted: lowercase letters,
 * digits and inner dashes, 1..48 characters. Anything else is rejected as input, never sanitised into
 * a different id (two marketplace ids must never map to one stack).
 */
export const SubscriptionId = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?$/, "subscription id must be 1-48 lowercase letters, digits or inner dashes");
export type SubscriptionId = z.infer<typeof SubscriptionId>;

export const STACK_PREFIX = "sub-";

/** The one stack of a subscription: `sub-<id>`. */
export function stackNameOf(id: SubscriptionId): string {
  return `${STACK_PREFIX}${SubscriptionId.parse(id)}`;
}

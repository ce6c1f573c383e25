import type { Customer, MarketplaceEvent } from "../../domain/event.js";
import type { Plan, PlanLimits } from "../../domain/plan.js";
import { foldEvent, type DesiredState, type SubscriptionStatus } from "../../domain/subscription.js";
import { joined, langOf, quantityText, WHAT, type Localized } from "./customer-text.js";
import { idOfLink, type CloudesireSubscription, type CloudesireUser, type OrderValidationRequest } from "./contract.js";

/** How the operator's syndicated product is configured on Cloudesire (the CLOUDESIRE_* settings). */
export interface CloudesireProduct {
  /** The billing-item (extra resource) identifiers that carry each quantity. */
  items: { cores: string; ramGb: string; diskGb: string; floatingIps: string };
  /** Plans (productVersion ids) sold as pay-as-you-go: the tenant gets the PAYG ceilings. */
  paygPlans: readonly string[];
  /** The products sold here (CLOUDESIRE_PRODUCT_IDS); empty: all. */
  productIds: readonly string[];
  limits: PlanLimits;
}

/** What a subscription read from Cloudesire asks of us. Pure data; decided by `readingOf`. */
export type Reading =
  | { kind: "converge"; status: SubscriptionStatus; plan: Plan | null; customer: Customer | null; deploymentStatus: string }
  | { kind: "wait"; reason: string; deploymentStatus: string }
  /** `reason` in English (logs, the operators' view), `reasons` in every language (what the customer reads). */
  | { kind: "invalid"; reason: string; reasons: Localized; deploymentStatus: string }
  | { kind: "ignore"; reason: string; deploymentStatus: string };

/**
 * The lifecycle of a syndicated subscription (docs/syndication.md, "Workflow of a Subscription"):
 * provision when PENDING and paid, or PENDING as a TRIAL (NORMAL orders may start WAITING_PAYMENT), and
 * again when a FAILED order changes;
 * DEPLOYED is what we report, so reading it back means "keep it running"; STOPPED suspends (the official
 * templates' reading, inferred); UNDEPLOY_SENT asks for a teardown, UNDEPLOYED and a 404 after a DELETED
 * notification mean it is gone, and the templates tear down on DELETED too. Anything else waits.
 */
export function readingOf(sub: CloudesireSubscription | null, buyer: CloudesireUser | null, deletedNotified: boolean, product: CloudesireProduct): Reading {
  if (!sub) {
    return deletedNotified
      ? { kind: "converge", status: "cancelled", plan: null, customer: null, deploymentStatus: "DELETED" }
      : { kind: "wait", reason: "Cloudesire does not know this subscription (404)", deploymentStatus: "NOT_FOUND" };
  }
  const ds = sub.deploymentStatus;
  if (!soldHere(sub, product)) return { kind: "ignore", reason: `product ${idOfLink(sub.product) ?? "unknown"} is not sold by this service`, deploymentStatus: ds };
  if (deletedNotified || ds === "UNDEPLOY_SENT" || ds === "UNDEPLOYED") {
    return { kind: "converge", status: "cancelled", plan: null, customer: null, deploymentStatus: deletedNotified ? "DELETED" : ds };
  }
  let status: SubscriptionStatus;
  if (ds === "DEPLOYED") status = "active";
  else if (ds === "STOPPED") status = "suspended";
  else if (ds === "PENDING" || ds === "FAILED") {
    // A trial is provisioned at once, whatever `paid` says (docs/syndication.md; Cloudesire's Spring
    // template ignores `paid` for trials): it has no invoice to pay yet. FAILED is what we said of an order
    // we refused or could not provision: the customer was told to change it, and the changed order
    // arrives still FAILED, so it is read as PENDING (an unchanged order changes nothing).
    if (!sub.paid && sub.type !== "TRIAL") return { kind: "wait", reason: "pending, not paid yet", deploymentStatus: ds };
    status = "active";
  } else {
    return { kind: "wait", reason: ds === "WAITING_PAYMENT" ? "waiting for the customer's payment" : `deployment status ${ds}: nothing to do`, deploymentStatus: ds };
  }
  const plan = planOf(sub, product);
  if ("errors" in plan) {
    const reasons = joined(plan.errors);
    return { kind: "invalid", reason: reasons.en, reasons, deploymentStatus: ds };
  }
  return { kind: "converge", status, plan: plan.plan, customer: customerOf(sub, buyer), deploymentStatus: ds };
}

/**
 * Is this subscription of a product sold here? An endpoint set at vendor or platform level hears every
 * product's subscriptions (docs/syndication.md): another product's is acknowledged and left alone (its
 * buyer not read, nothing provisioned, nothing PATCHed).
 */
export function soldHere(sub: CloudesireSubscription, product: CloudesireProduct): boolean {
  const id = idOfLink(sub.product);
  return product.productIds.length === 0 || (id !== null && product.productIds.includes(id));
}

/** The plan a subscription bought: PAYG by its productVersion, else its quantities by billing-item identifier. */
export function planOf(sub: CloudesireSubscription, product: CloudesireProduct): { plan: Plan } | { errors: Localized[] } {
  const version = idOfLink(sub.productVersion);
  // A TRIAL or SANDBOX subscription's hours are never billed (docs/billing.md: custom invoices are for
  // paying subscriptions; metrics reset when a trial converts): its PAYG plan is a trial until then.
  if (version && product.paygPlans.includes(version)) return { plan: sub.type === "NORMAL" ? { model: "payg" } : { model: "payg", trial: true } };
  const chosen: Record<string, number | undefined> = {};
  for (const item of sub.billingItems) {
    // The quantity is `value` alone (SubscriptionBillingItemDTO): `bought` is a flag, and `unlimited` only
    // says the value lies in the plan's last price range; the value is still the number chosen, checked
    // against our limits like any other.
    if (item.identifier) chosen[item.identifier] = item.value ?? undefined;
  }
  return quantitiesOf(chosen, product);
}

/**
 * Quantities by billing-item identifier → a prepaid plan, or the reasons (a customer reads them: they say
 * what to choose instead). Shared by subscriptions and order validation, so an order we would refuse is
 * refused before it is placed.
 */
export function quantitiesOf(chosen: Record<string, number | undefined>, product: CloudesireProduct): { plan: Plan } | { errors: Localized[] } {
  const { items, limits } = product;
  const errors: Localized[] = [];
  const take = (identifier: string, what: Localized, min: number, max: number): number => {
    const v = chosen[identifier];
    if (v === undefined || v === null) {
      errors.push(quantityText.missing(identifier, what));
      return min;
    }
    if (!Number.isInteger(v) || v < min) errors.push(quantityText.notWhole(what, v, min));
    else if (v > max) errors.push(quantityText.tooMany(what, v, max));
    return v;
  };
  const cores = take(items.cores, WHAT.cores, 1, limits.maxCores);
  const ramGb = take(items.ramGb, WHAT.ramGb, 1, limits.maxRamGb);
  const diskGb = take(items.diskGb, WHAT.diskGb, 1, limits.maxDiskGb);
  const floatingIps = take(items.floatingIps, WHAT.floatingIps, 0, limits.maxFloatingIps);
  return errors.length > 0 ? { errors } : { plan: { model: "prepaid", cores, ramGb, diskGb, floatingIps } };
}

/**
 * Order validation (docs/order-validation.md): terminations and unsubscriptions are never refused; the
 * reasons are in the order's `language` (the customer reads them while ordering).
 */
export function validateOrder(order: OrderValidationRequest, product: CloudesireProduct): string[] {
  if (order.orderType === "TERMINATION" || order.orderType === "UNSUBSCRIBE") return [];
  if (order.productVersionId != null && product.paygPlans.includes(String(order.productVersionId))) return [];
  const result = quantitiesOf(order.billingItems ?? {}, product);
  const lang = langOf(order.language);
  return "errors" in result ? result.errors.map((e) => e[lang]) : [];
}

/** The buyer as our customer: Cloudesire's user id, a display name, an email (a placeholder when it has none). */
export function customerOf(sub: CloudesireSubscription, buyer: CloudesireUser | null): Customer {
  const id = idOfLink(sub.buyer) ?? "unknown";
  const name = buyer?.fullName?.trim() || [buyer?.name, buyer?.surname].filter(Boolean).join(" ").trim() || buyer?.userName?.trim() || `Cloudesire user ${id}`;
  const email = buyer?.email && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(buyer.email) ? buyer.email : `user-${id}@cloudesire.invalid`;
  return { id: `cloudesire-user-${id}`, name: name.slice(0, 255), email: email.slice(0, 255) };
}

/**
 * The event that makes our desired state equal to what was read. Reads of one subscription are made one
 * at a time and numbered, and their clock never goes back (the time of the read, at least the newest one
 * already folded), so folding them in read order ends in the state of the last read whatever order or how
 * often notifications came. The type names what changed, for the stack history.
 */
export function eventOfReading(args: {
  id: string;
  read: number;
  readAtMs: number;
  reading: Extract<Reading, { kind: "converge" }>;
  current: DesiredState | null;
}): MarketplaceEvent | null {
  const { id, reading, current } = args;
  const plan = reading.plan ?? current?.plan;
  const customer = reading.customer ?? current?.customer;
  if (!plan || !customer) return null; // cancelled before anything was provisioned: nothing to fold
  const newest = current ? Math.max(Date.parse(current.planClock.at), Date.parse(current.statusClock?.at ?? current.planClock.at)) : 0;
  const at = new Date(Math.max(args.readAtMs, newest)).toISOString();
  const type: MarketplaceEvent["type"] =
    reading.status === "cancelled" ? "subscription.cancelled"
    : reading.status === "suspended" ? "subscription.suspended"
    : !current ? "subscription.created"
    : current.status === "suspended" ? "subscription.resumed"
    : "subscription.modified";
  return {
    id: `cloudesire-${id}-read-${String(args.read).padStart(9, "0")}`,
    type,
    occurredAt: at,
    subscription: { id, customer, plan },
  };
}

/** Would folding `event` change what the tenant should be? (A read that changes nothing stores nothing.) */
export function changes(current: DesiredState | null, event: MarketplaceEvent): boolean {
  const folded = foldEvent(current, event);
  return folded.outcome === "applied" && (folded.changed || current === null);
}

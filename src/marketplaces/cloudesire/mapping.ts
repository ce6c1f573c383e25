import { CLOUDESIRE_EVENT_ID_PREFIX, isEmailAddress, type Customer, type MarketplaceEvent } from "../../domain/event.js";
import { inTarget, type Plan, type PlanLimits, type Quantities } from "../../domain/plan.js";
import { storableText } from "../../domain/storable.js";
import { foldEvent, type DesiredState, type SubscriptionStatus } from "../../domain/subscription.js";
import { joined, langOf, quantityText, targetText, WHAT, type Localized } from "./customer-text.js";
import { idOfLink, type CloudesireSubscription, type CloudesireUser, type OrderValidationRequest } from "./contract.js";

/** How the operator's syndicated product is configured on Cloudesire (the CLOUDESIRE_* settings). */
export interface CloudesireProduct {
  /** The billing-item (extra resource) identifiers that carry each quantity. */
  items: { cores: string; ramGb: string; diskGb: string; floatingIps: string };
  /** Plans (productVersion ids) sold as pay-as-you-go: the tenant gets the PAYG ceilings. */
  paygPlans: readonly string[];
  /** The products sold here (CLOUDESIRE_PRODUCT_IDS); empty: none (selling needs them: healthz and doctor fail). */
  productIds: readonly string[];
  limits: PlanLimits;
  /**
   * The configuration parameter that names the target (region) a customer buys in
   * (CLOUDESIRE_TARGET_PARAMETER), by its code; absent: every tenant in the default target.
   */
  target?: { code: string; targets: readonly string[]; defaultTarget: string } | undefined;
}

/** What a subscription read from Cloudesire asks of us. Pure data; decided by `readingOf`. */
export type Reading =
  | {
      kind: "converge"; status: SubscriptionStatus; plan: Plan | null; customer: Customer | null; deploymentStatus: string;
      /** What was cleaned in the text read (a NUL, a lone surrogate, a cut), for the read's verdict. */
      notes?: string[];
    }
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
export function readingOf(sub: CloudesireSubscription | null, buyer: CloudesireUser | null, deletedNotified: boolean, product: CloudesireProduct, provisioned: Plan | null = null): Reading {
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
  const plan = planOf(sub, product, provisioned);
  if ("unpaid" in plan) return { kind: "wait", reason: plan.unpaid, deploymentStatus: ds };
  if ("errors" in plan) {
    const reasons = joined(plan.errors);
    return { kind: "invalid", reason: reasons.en, reasons, deploymentStatus: ds };
  }
  const { customer, notes } = customerOf(sub, buyer);
  return { kind: "converge", status, plan: plan.plan, customer, deploymentStatus: ds, ...(notes.length > 0 ? { notes } : {}) };
}

/**
 * Is this subscription of a product sold here? An endpoint set at vendor or platform level hears every
 * product's subscriptions (docs/syndication.md): another product's is acknowledged and left alone (its
 * buyer not read, nothing provisioned, nothing PATCHed, counted). Without the product ids nothing is ours:
 * touching another vendor product's subscription (a FAILED, its instructions overwritten) is worse than
 * selling nothing until they are set.
 */
export function soldHere(sub: CloudesireSubscription, product: CloudesireProduct): boolean {
  const id = idOfLink(sub.product);
  return id !== null && product.productIds.includes(id);
}

/**
 * The plan a subscription bought: PAYG by its productVersion, else its quantities by billing-item identifier.
 * Only what is paid is provisioned. SubscriptionBillingItemDTO.bought is "whether the billing item has been
 * already bought for the Subscription": the Java client sets it true for every item of a placed order and
 * false only for the items a syndicated upgrade requests (commits 6cb592d "Mark subscription billing items as
 * bought" and b79c164 "Include requested billing items only in synupg"), whose invoice is not paid yet; the
 * platform sends a MODIFIED once it is (docs/syndication.md, "Billing events notifications"). So an item
 * with `bought: false` keeps the quantity already provisioned (`provisioned`, the paid one) and, with none,
 * the subscription waits; `bought` null (an older platform) counts as bought.
 */
export function planOf(sub: CloudesireSubscription, product: CloudesireProduct, provisioned: Plan | null = null): { plan: Plan } | { errors: Localized[] } | { unpaid: string } {
  const version = idOfLink(sub.productVersion);
  // A TRIAL or SANDBOX subscription's hours are never billed (docs/billing.md: custom invoices are for
  // paying subscriptions; metrics reset when a trial converts): its PAYG plan is a trial until then.
  const chosenTarget = targetChosen(Object.fromEntries((sub.configurationParameters ?? []).map((p) => [p.code ?? "", p.value])), product);
  if (version && product.paygPlans.includes(version)) return withTarget({ plan: sub.type === "NORMAL" ? { model: "payg" } : { model: "payg", trial: true } }, chosenTarget);
  const chosen: Record<string, number | undefined> = {};
  const requested = new Set<string>();
  for (const item of sub.billingItems) {
    // The quantity is `value` alone (SubscriptionBillingItemDTO): `bought` is a flag, and `unlimited` only
    // says the value lies in the plan's last price range; the value is still the number chosen, checked
    // against our limits like any other.
    if (!item.identifier) continue;
    if (item.bought === false) requested.add(item.identifier);
    else chosen[item.identifier] = item.value ?? undefined;
  }
  const unpaid = [...requested].filter((identifier) => !(identifier in chosen));
  for (const identifier of unpaid) {
    const key = (Object.keys(product.items) as Array<keyof Quantities>).find((k) => product.items[k] === identifier);
    if (!key || provisioned?.model !== "prepaid") return { unpaid: `extra resource ${identifier} is not bought yet (its invoice is not paid)` };
    chosen[identifier] = provisioned[key];
  }
  return withTarget(quantitiesOf(chosen, product), chosenTarget);
}

/** The target a customer chose (undefined: the default's, or none offered), or why it is not one of ours. */
function targetChosen(values: Record<string, unknown>, product: CloudesireProduct): { target: string | undefined } | { error: Localized } {
  const t = product.target;
  if (!t) return { target: undefined };
  const chosen = values[t.code];
  const value = typeof chosen === "string" && chosen !== "" ? chosen : undefined;
  if (value === undefined || value === t.defaultTarget) return { target: undefined };
  if (!t.targets.includes(value)) return { error: targetText.unknown(value, t.targets) };
  return { target: value };
}

function withTarget(plan: { plan: Plan } | { errors: Localized[] }, target: { target: string | undefined } | { error: Localized }): { plan: Plan } | { errors: Localized[] } {
  if ("error" in target) return { errors: [...("errors" in plan ? plan.errors : []), target.error] };
  if ("errors" in plan) return plan;
  return { plan: inTarget(plan.plan, target.target) };
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
  const verdict = orderPlanOf(order, product);
  const lang = langOf(order.language);
  return verdict && "errors" in verdict ? verdict.errors.map((e) => e[lang]) : [];
}

/** The plan an order would buy (its target included), or why it cannot; null: nothing to check (a termination). */
export function orderPlanOf(order: OrderValidationRequest, product: CloudesireProduct): { plan: Plan } | { errors: Localized[] } | null {
  if (order.orderType === "TERMINATION" || order.orderType === "UNSUBSCRIBE") return null;
  // Another product's order (a vendor-level validation URL): not ours to refuse.
  if (order.productId != null && !product.productIds.includes(String(order.productId))) return null;
  const target = targetChosen(order.configurationParameters ?? {}, product);
  if (order.productVersionId != null && product.paygPlans.includes(String(order.productVersionId))) return withTarget({ plan: { model: "payg" } }, target);
  return withTarget(quantitiesOf(order.billingItems ?? {}, product), target);
}

/** The buyer as our customer: Cloudesire's user id, a display name, an email (a placeholder when it has none). */
export function customerOf(sub: CloudesireSubscription, buyer: CloudesireUser | null): { customer: Customer; notes: string[] } {
  const id = idOfLink(sub.buyer) ?? "unknown";
  const given = buyer?.fullName?.trim() || [buyer?.name, buyer?.surname].filter(Boolean).join(" ").trim() || buyer?.userName?.trim() || "";
  // MyUserDTO's names are free Java Strings: what the database cannot keep is cleaned, and said (issue 31).
  const storable = storableText(given, 255);
  const name = storable.text.trim() || `Cloudesire user ${id}`;
  const notes = storable.cleaned.map((c) => `the buyer's name ${c}`);
  // Our one e-mail rule (domain/event.ts): an address it refuses is not stored, the placeholder is (it keeps the order going).
  const email = buyer?.email?.trim() ?? "";
  return { customer: { id: `cloudesire-user-${id}`, name, email: isEmailAddress(email) ? email : `user-${id}@cloudesire.invalid` }, notes };
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
    id: `${CLOUDESIRE_EVENT_ID_PREFIX}${id}-read-${String(args.read).padStart(9, "0")}`,
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

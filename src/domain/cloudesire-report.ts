import { z } from "zod";

/**
 * What is kept of the report-back to Cloudesire: what was already said about a subscription, and the calls
 * queued to say more (its outbox). Plain shapes, here because two sides share them: the store keeps them
 * (store/cloudesire-store.ts) and marketplaces/cloudesire decides them (report-back.ts) and sends them.
 */

/** The statuses we report back with `PATCH subscription/{id}` (Cloudesire's docs/syndication.md). */
export const ReportedStatus = z.enum(["DEPLOYED", "FAILED", "UNDEPLOYED"]);
export type ReportedStatus = z.infer<typeof ReportedStatus>;

/** What we already asked the outbox to tell Cloudesire about a subscription: nothing is said twice. */
export const Reported = z.object({
  /** The access (endpoints, instructions, credentials) was queued once: later only what changed is queued again. */
  access: z.boolean().default(false),
  status: ReportedStatus.nullable().default(null),
  /** The last failure shown to the customer (a refused change), if it still stands. */
  failure: z.string().nullable().default(null),
  /** A key of the endpoints last queued (report-back.ts accessCalls): a change of them is posted again. */
  endpoints: z.string().nullable().default(null),
  /** A key of the access instructions last queued (null while a refusal is shown instead). */
  instructions: z.string().nullable().default(null),
});
export type Reported = z.infer<typeof Reported>;

/** One call back to Cloudesire, queued in the outbox. Calls of one lane of a subscription go in order. */
export const OutboxCall = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("endpoints"),
    endpoints: z.array(z.object({ endpoint: z.string(), description: z.string(), category: z.enum(["APP", "PASSWORD_RESET", "DOCUMENTATION", "VIDEO"]) })),
    /** Add the customer's password-reset link when sent: it carries a key, which never rests in the outbox. */
    passwordReset: z.boolean().optional(),
  }),
  z.object({ kind: z.literal("instructions"), instructions: z.record(z.string(), z.string()) }),
  /** Built when sent, from the engine's outputs: the password is never stored in the outbox. */
  z.object({ kind: z.literal("credentials") }),
  z.object({ kind: z.literal("metadata"), values: z.record(z.string(), z.string()) }),
  /** `PATCH subscription/{id}` `{"action":"SET_NAME","name"}` (SubscriptionPatchDTO): the name the customer's dashboard shows. */
  z.object({ kind: z.literal("name"), name: z.string().min(1).max(255) }),
  z.object({ kind: z.literal("status"), deploymentStatus: ReportedStatus }),
  /** Cloudesire invoice lines (marketplaces/cloudesire/contract.ts InvoiceLine), validated when sent. */
  z.object({ kind: z.literal("invoice"), period: z.string(), lines: z.array(z.unknown()) }),
  /**
   * A re-rating cancelled version `cancelsVersion` of the period's invoice. Cloudesire's vendor API creates
   * invoices only, with non-negative prices (VendorOrderLineDTO): it has no call to credit one, so this
   * call is always held for an operator, who credits it on Cloudesire and marks it sent; the new version,
   * queued behind it in the same lane, goes only then (never a second charge before the credit).
   */
  z.object({ kind: z.literal("credit-note"), period: z.string(), cancelsVersion: z.number().int(), total: z.string(), currency: z.string() }),
  /**
   * A cancelled PAYG subscription's usage not yet invoiced, up to `until` (its cancellation), computed
   * when sent (Gnocchi is read then, not in the transaction that queues it) and pushed before UNDEPLOYED:
   * Cloudesire takes custom invoices for active subscriptions only (docs/billing.md).
   */
  z.object({ kind: z.literal("closing-invoice"), until: z.string() }),
]);
export type OutboxCall = z.infer<typeof OutboxCall>;

/**
 * The lanes of the outbox: a lane's calls go in order. The lifecycle never waits for an invoice nor for an
 * optional call; the optional calls (the name, the undocumented metadata) go after the lifecycle calls
 * queued before them, with a bounded number of tries; a cancellation's closing invoice waits for the
 * invoices queued before it, so that every charge lands while the subscription is still active.
 */
export const OutboxLane = z.enum(["lifecycle", "invoice", "optional"]);
export type OutboxLane = z.infer<typeof OutboxLane>;

/** The lane of a call the report-back queues (invoices are queued in their lane by the billing hooks). */
export function laneOf(call: OutboxCall): OutboxLane {
  if (call.kind === "name" || call.kind === "metadata") return "optional";
  if (call.kind === "invoice" || call.kind === "credit-note") return "invoice";
  return "lifecycle";
}

/** How many times an optional call is tried before it is given up (noted on its row, nothing stopped). */
export const OPTIONAL_CALL_ATTEMPTS = 5;
